//! Verdicts on short values, remembered per thread. A value's verdict is a
//! pure function of its bytes, where it was found and whether `+` is a space
//! there ([`super::inspect_within`] computes it from nothing else), and API
//! traffic repeats most of its short values: JSON keys, levels, regions,
//! currencies, tags. Measured with the corpus tool over 67,200 of
//! `benches/gateway_peers.sh`'s events, each with its own id, timestamp,
//! customer and trace id: 0.8x the time (corpus parsing included).
//!
//! Bounded: values up to [`MAX_VALUE_BYTES`], at most [`MAX_ENTRIES`] per
//! thread, forgotten all at once when full. A stream of distinct values
//! costs one insertion each and is otherwise inspected as without the
//! cache; the hasher is seeded per process.

use super::{Inspection, Location};
use std::cell::RefCell;
use std::collections::HashMap;

/// Longer values are rarely repeated (messages, ids with a counter) and
/// cost more to hash and keep.
pub const MAX_VALUE_BYTES: usize = 64;
const MAX_ENTRIES: usize = 4096;

type Verdicts = HashMap<Box<[u8]>, Inspection, foldhash::fast::RandomState>;

/// One map per place a value is read and whether `+` is a space there
/// (its verdict depends on both), so that a lookup borrows the bytes.
#[derive(Default)]
struct Remembered {
    /// Per location, the values read plainly and those where `+` is a space.
    by_context: [[Verdicts; 2]; 5],
    entries: usize,
}

impl Remembered {
    fn context(&mut self, location: Location, form: bool) -> &mut Verdicts {
        let [path, query, body, header, file_name] = &mut self.by_context;
        let [plain, plus_is_space] = match location {
            Location::Path => path,
            Location::Query => query,
            Location::Body => body,
            Location::Header => header,
            Location::FileName => file_name,
        };
        if form { plus_is_space } else { plain }
    }
}

thread_local! {
    static REMEMBERED: RefCell<Remembered> = RefCell::new(Remembered::default());
}

/// The verdict on `bytes` read at `location` (`form`: `+` is a space),
/// remembered if it was given before on this thread, else `inspect`'s,
/// remembered when the value is short.
pub fn remembered_or(
    bytes: &[u8],
    location: Location,
    form: bool,
    inspect: impl FnOnce() -> Inspection,
) -> Inspection {
    if bytes.len() > MAX_VALUE_BYTES {
        return inspect();
    }
    let known = REMEMBERED.with(|r| r.borrow_mut().context(location, form).get(bytes).cloned());
    if let Some(verdict) = known {
        return verdict;
    }
    let verdict = inspect();
    REMEMBERED.with(|r| {
        let mut r = r.borrow_mut();
        if r.entries >= MAX_ENTRIES {
            r.by_context.iter_mut().flatten().for_each(HashMap::clear);
            r.entries = 0;
        }
        r.entries += 1;
        r.context(location, form).insert(bytes.into(), verdict.clone());
    });
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_location_and_form() {
        let flagged = Inspection { score: 5, ..Inspection::default() };
        assert_eq!(remembered_or(b"v", Location::Path, false, || flagged.clone()).score, 5);
        assert_eq!(remembered_or(b"v", Location::Path, false, || unreachable!()).score, 5, "remembered");
        assert_eq!(remembered_or(b"v", Location::Body, false, Inspection::default).score, 0);
        assert_eq!(remembered_or(b"v", Location::Path, true, Inspection::default).score, 0);
        let long = [b'a'; MAX_VALUE_BYTES + 1];
        assert_eq!(remembered_or(&long, Location::Body, false, || flagged.clone()).score, 5);
        assert_eq!(remembered_or(&long, Location::Body, false, Inspection::default).score, 0, "not kept");
    }

    #[test]
    fn a_remembered_verdict_is_the_one_for_its_place() {
        use crate::waf::{RequestView, inspect};
        // Rule 1072 reads paths only.
        let in_body = RequestView {
            content_type: Some("application/json"),
            body: br#"{"a":"/**/"}"#,
            ..Default::default()
        };
        let in_path = RequestView { path: Some("/**/"), ..Default::default() };
        for _ in 0..2 {
            assert!(!inspect(&in_body).rule_ids().contains(&1072));
            assert!(inspect(&in_path).rule_ids().contains(&1072));
        }
    }

    #[test]
    fn forgets_when_full() {
        for n in 0..=MAX_ENTRIES {
            remembered_or(format!("f{n}").as_bytes(), Location::Header, false, Inspection::default);
        }
        let len: usize = REMEMBERED.with(|r| r.borrow().by_context.iter().flatten().map(HashMap::len).sum());
        assert!(len <= MAX_ENTRIES, "{len}");
    }
}
