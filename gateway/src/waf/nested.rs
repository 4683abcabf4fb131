//! Encodings inside a value: a query argument or a JSON string that is
//! itself a JSON document (`filter={"user":{"$ne":null}}`, a stringified
//! payload in a message field). Signatures anchored at the start of a value
//! and the tokenizing detectors judge where an injected string begins, so
//! the document's own strings and keys are inspected as values too, one
//! level deep (a document in a document in a value is inspected as text).

/// Longest nested document parsed: the value's own caps bound it already;
/// this only keeps a pathological value from being parsed twice at length.
const MAX_NESTED: usize = 256 * 1024;

/// Most strings taken out of one nested document.
const MAX_STRINGS: usize = 4096;

/// The keys and string values of a value that is a JSON object or array;
/// empty when it is not one.
pub fn json_strings(decoded: &[u8]) -> Vec<String> {
    let trimmed = decoded.trim_ascii();
    let framed =
        matches!((trimmed.first(), trimmed.last()), (Some(b'{'), Some(b'}')) | (Some(b'['), Some(b']')));
    if !framed || trimmed.len() > MAX_NESTED {
        return Vec::new();
    }
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(trimmed) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut stack = vec![doc];
    while let Some(v) = stack.pop() {
        if out.len() >= MAX_STRINGS {
            break;
        }
        match v {
            serde_json::Value::String(s) => out.push(s),
            serde_json::Value::Array(items) => stack.extend(items.into_iter().rev()),
            serde_json::Value::Object(map) => {
                let entries: Vec<_> = map.into_iter().collect();
                for (k, item) in entries.into_iter().rev() {
                    stack.push(item);
                    stack.push(serde_json::Value::String(k));
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::json_strings;

    #[test]
    fn documents_in_values_give_their_strings() {
        let mut got = json_strings(br#" {"user": {"$ne": null}, "a": ["x", 1]} "#);
        got.sort();
        assert_eq!(got, ["$ne", "a", "user", "x"]);
        assert_eq!(json_strings(br#"["1' or '1'='1"]"#), ["1' or '1'='1"]);
    }

    #[test]
    fn other_values_give_nothing() {
        for v in [&b"plain"[..], b"{not json}", b"{\"a\":1", b"[1, 2]", b"", b"{}"] {
            assert!(json_strings(v).is_empty(), "{}", String::from_utf8_lossy(v));
        }
    }
}
