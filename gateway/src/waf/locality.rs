//! Weak signs count together only where they sit together. One weak sign
//! (`' or`, a `--` after a quote, `and x=`) is common in text, code and
//! logs; the anomaly score blocks when several corroborate each other, as
//! they do in an injection, which is short: every payload of the tuning
//! corpora fits in a few hundred bytes. In a long value (an issue body with
//! a C++ snippet, a diff, a build log) the same signs come from lines far
//! apart that say nothing together. So in a value longer than
//! [`LONG_VALUE`], the weak findings are re-read over overlapping windows,
//! and only the weak signs of the richest window add up. Critical signs
//! block wherever they are, as before.
//!
//! Padding an injection apart does not hide it: the views compress
//! whitespace and remove SQL comments before matching, and each weak rule
//! reads its whole sign (`' or 1`) in one match.

use super::rules::{self, ENGINE};
use super::views::Views;
use super::{Inspection, Location};

/// Values up to this many bytes are judged as a whole.
pub const LONG_VALUE: usize = 512;

/// Window length and step: any two signs less than `WINDOW - STEP` bytes
/// apart share a window.
const WINDOW: usize = 256;
const STEP: usize = 128;

/// The weak findings of `whole` (the findings on `decoded`, a value longer
/// than [`LONG_VALUE`]) that share the richest window; critical ones stay.
/// A value with one weak finding or none is returned as it is.
pub fn weak_signs_together(decoded: &[u8], location: Location, prose: bool, whole: Inspection) -> Inspection {
    let weak = |score: u32| score < rules::CRITICAL;
    let weak_ids: Vec<u32> = whole.findings.iter().filter(|f| weak(f.score)).map(|f| f.rule).collect();
    if decoded.len() <= LONG_VALUE || weak_ids.len() < 2 {
        return whole;
    }
    let mut best: Vec<u32> = Vec::new();
    let mut best_score = 0;
    for window in windows(decoded) {
        let views = Views::new_with_prose(window, prose);
        let mut found: Vec<u32> = Vec::new();
        for (scan, text) in views.scans() {
            for rule in ENGINE.matches(scan, text, location, prose) {
                if weak_ids.contains(&rule.id) && !found.contains(&rule.id) {
                    found.push(rule.id);
                }
            }
        }
        let score = score_of(&whole, &found);
        if score > best_score {
            (best, best_score) = (found, score);
        }
    }
    let mut kept = Inspection { uninspectable: whole.uninspectable, ..Inspection::default() };
    for finding in whole.findings {
        if !weak(finding.score) || best.contains(&finding.rule) {
            kept.score = kept.score.saturating_add(finding.score);
            kept.findings.push(finding);
        }
    }
    kept
}

fn score_of(whole: &Inspection, ids: &[u32]) -> u32 {
    whole.findings.iter().filter(|f| ids.contains(&f.rule)).map(|f| f.score).sum()
}

/// Overlapping slices of `WINDOW` bytes every `STEP` bytes, the last one
/// reaching the end. Cut on byte offsets: a character cut in two reads as
/// a replacement character at a window's edge, where the neighbouring
/// window reads it whole.
fn windows(decoded: &[u8]) -> impl Iterator<Item = &[u8]> {
    let last_start = decoded.len().saturating_sub(WINDOW);
    let starts = (0..last_start).step_by(STEP).chain(std::iter::once(last_start));
    starts.filter_map(move |start| decoded.get(start..(start + WINDOW).min(decoded.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_value_and_overlap() {
        let value = vec![b'a'; 1000];
        let all: Vec<&[u8]> = windows(&value).collect();
        assert_eq!(all.len(), 7, "starts 0, 128, ..., 640 and 744");
        assert!(all.iter().all(|w| w.len() == WINDOW));
        let short = vec![b'a'; 100];
        assert_eq!(windows(&short).count(), 1);
    }
}
