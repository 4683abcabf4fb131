//! The OWASP CRS regression corpus (`../shared/corpora/waf/crs-requests.jsonl`)
//! and the evaluation corpus built by `benches/waf_corpora.py`, as requests
//! the WAF inspects: one JSON object per line with `id`, `class`, `label`
//! (`attack` or `benign`), `uri`, `headers` and `body`, and in the built
//! corpus the `part` (`tuning` or `validation`) a line belongs to. Read by
//! the corpus tests and by the detection benchmark, which replays the same
//! lines through nginx + ModSecurity + CRS.

use super::RequestView;

/// One corpus line, owned.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub class: String,
    pub attack: bool,
    /// `tuning` or `validation`; `None` in the CRS corpus, which has no split.
    pub part: Option<String>,
    pub path: String,
    pub query: Option<String>,
    /// (lowercase name, value).
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Case {
    /// Parses one line; `None` for a line that is not a corpus record.
    pub fn parse(line: &str) -> Option<Case> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let uri = v["uri"].as_str().unwrap_or("/");
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (uri.to_string(), None),
        };
        let headers: Vec<(String, String)> = v["headers"]
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(k, val)| (k.to_ascii_lowercase(), val.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let content_type = headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.clone());
        Some(Case {
            id: v["id"].as_str()?.to_string(),
            class: v["class"].as_str()?.to_string(),
            attack: v["label"].as_str()? == "attack",
            part: v["part"].as_str().map(str::to_string),
            path,
            query,
            headers,
            content_type,
            body: v["body"].as_str().unwrap_or_default().as_bytes().to_vec(),
        })
    }

    /// The header pairs borrowed, for [`Case::view`].
    pub fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    /// The request as the WAF sees it; `headers` from [`Case::header_refs`].
    pub fn view<'a>(&'a self, headers: &'a [(&'a str, &'a str)]) -> RequestView<'a> {
        RequestView {
            path: Some(&self.path),
            query: self.query.as_deref(),
            headers,
            content_type: self.content_type.as_deref(),
            body: &self.body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corpus_line_becomes_a_request() {
        let line = r#"{"id": "crs-942100-1-0", "rule": 942100, "class": "sqli", "label": "attack", "method": "POST", "uri": "/post?a=1", "headers": {"Host": "localhost", "Content-Type": "application/x-www-form-urlencoded"}, "body": "x=1' or 1=1--"}"#;
        let case = Case::parse(line).expect("a corpus line");
        assert_eq!((case.id.as_str(), case.class.as_str(), case.attack), ("crs-942100-1-0", "sqli", true));
        assert_eq!((case.path.as_str(), case.query.as_deref()), ("/post", Some("a=1")));
        assert_eq!(case.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
        let headers = case.header_refs();
        assert!(crate::waf::inspect(&case.view(&headers)).blocked(crate::waf::DEFAULT_THRESHOLD));
        assert!(Case::parse("{\"id\": 3}").is_none());
        assert!(Case::parse("not json").is_none());
    }
}
