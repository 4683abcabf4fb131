//! Replays the OWASP CRS regression corpus through the WAF, prints detection
//! and false-positive rates per class, and fails when they fall below the
//! floors measured when the rules were written. Also replays the saved fuzz
//! corpus of the `waf_inspect` target and checks ordinary traffic is clean.
//!
//! `WAF_SHOW=<class>:<attack|benign>` prints the misses (or false positives)
//! of one class, for rule work.

use cartorio_gateway::waf::{self, DEFAULT_THRESHOLD, RequestView};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn corpus_path() -> PathBuf {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora/waf/crs-requests.jsonl");
    if beside.exists() { beside } else { PathBuf::from("/work/shared/corpora/waf/crs-requests.jsonl") }
}

/// One corpus line, owned.
struct Case {
    id: String,
    class: String,
    attack: bool,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    content_type: Option<String>,
    body: Vec<u8>,
}

fn parse(line: &str) -> Option<Case> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let uri = v["uri"].as_str().unwrap_or("/");
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (uri.to_string(), None),
    };
    let mut headers = Vec::new();
    if let Some(map) = v["headers"].as_object() {
        for (k, val) in map {
            headers.push((k.to_ascii_lowercase(), val.as_str().unwrap_or_default().to_string()));
        }
    }
    let content_type = headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.clone());
    Some(Case {
        id: v["id"].as_str()?.to_string(),
        class: v["class"].as_str()?.to_string(),
        attack: v["label"].as_str()? == "attack",
        path,
        query,
        headers,
        content_type,
        body: v["body"].as_str().unwrap_or_default().as_bytes().to_vec(),
    })
}

fn inspect(case: &Case) -> waf::Inspection {
    let headers: Vec<(&str, &str)> = case.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    waf::inspect(&RequestView {
        path: Some(&case.path),
        query: case.query.as_deref(),
        headers: &headers,
        content_type: case.content_type.as_deref(),
        body: &case.body,
    })
}

#[derive(Default)]
struct Tally {
    attacks: usize,
    detected: usize,
    benign: usize,
    false_pos: usize,
}

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 { 0.0 } else { 100.0 * n as f64 / d as f64 }
}

/// Minimum detection % on attacks per class, a few points under what was
/// measured at `DEFAULT_THRESHOLD` = 5 when the rules were written:
///
/// | class            | attacks | detected | benign | false pos. |
/// |------------------|--------:|---------:|-------:|-----------:|
/// | sqli             |     868 |    47.5% |    163 |       5.5% |
/// | xss              |     207 |    69.6% |     54 |       5.6% |
/// | rce              |     706 |    62.3% |    295 |      12.5% |
/// | lfi              |      66 |    80.3% |     16 |       0.0% |
/// | rfi              |      36 |    52.8% |      5 |       0.0% |
/// | php              |     322 |    66.1% |    114 |      10.5% |
/// | java             |    1139 |    88.8% |     33 |       0.0% |
/// | generic          |     238 |    68.5% |     38 |      13.2% |
/// | protocol-attack  |      75 |    54.7% |     42 |       0.0% |
/// | session-fixation |      42 |     7.1% |      5 |       0.0% |
/// | all              |    3699 |    67.6% |    765 |       8.6% |
///
/// Many CRS "benign" lines are attacks that one particular rule must not
/// match (e.g. `/bin/cat /etc/shadow` as a negative test of a Windows rule),
/// so the false-positive column overstates real-traffic false positives;
/// `ordinary_event_records_are_clean` covers those.
const DETECTION_FLOORS: &[(&str, f64)] = &[
    ("sqli", 45.0),
    ("xss", 66.0),
    ("rce", 59.0),
    ("lfi", 77.0),
    ("rfi", 49.0),
    ("php", 63.0),
    ("java", 86.0),
    ("generic", 65.0),
    ("protocol-attack", 51.0),
];
/// Maximum false-positive % over all benign lines.
const MAX_OVERALL_FP: f64 = 10.0;

#[test]
fn crs_corpus_detection_and_false_positives() {
    let path = corpus_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: Vec<Case> = text.lines().filter_map(parse).collect();
    assert!(cases.len() > 4000, "corpus truncated: {} lines", cases.len());
    let show = std::env::var("WAF_SHOW").unwrap_or_default();

    let start = Instant::now();
    let mut by_class: BTreeMap<String, Tally> = BTreeMap::new();
    for case in &cases {
        let ins = inspect(case);
        let blocked = ins.blocked(DEFAULT_THRESHOLD);
        let t = by_class.entry(case.class.clone()).or_default();
        if case.attack {
            t.attacks += 1;
            t.detected += usize::from(blocked);
        } else {
            t.benign += 1;
            t.false_pos += usize::from(blocked);
        }
        let label = if case.attack { "attack" } else { "benign" };
        if show == format!("{}:{label}", case.class) && blocked != case.attack {
            let q = case.query.as_deref().unwrap_or_default();
            let body = String::from_utf8_lossy(&case.body);
            let hdr: Vec<_> = case.headers.iter().filter(|(k, _)| k != "host" && k != "accept").collect();
            println!(
                "{} score={} rules={:?} path={} q={q} body={body:.200} h={hdr:?}",
                case.id,
                ins.score,
                ins.rule_ids(),
                case.path
            );
        }
    }
    let elapsed = start.elapsed();

    println!("threshold {DEFAULT_THRESHOLD}");
    println!("{:<18} {:>7} {:>9} {:>7} {:>7}", "class", "attacks", "detect%", "benign", "fp%");
    let mut total = Tally::default();
    for (class, t) in &by_class {
        println!(
            "{class:<18} {:>7} {:>8.1}% {:>7} {:>6.1}%",
            t.attacks,
            pct(t.detected, t.attacks),
            t.benign,
            pct(t.false_pos, t.benign)
        );
        total.attacks += t.attacks;
        total.detected += t.detected;
        total.benign += t.benign;
        total.false_pos += t.false_pos;
    }
    println!(
        "{:<18} {:>7} {:>8.1}% {:>7} {:>6.1}%",
        "all",
        total.attacks,
        pct(total.detected, total.attacks),
        total.benign,
        pct(total.false_pos, total.benign)
    );
    println!("{} requests in {elapsed:?}: {:?} per request", cases.len(), elapsed / cases.len() as u32);

    for (class, floor) in DETECTION_FLOORS {
        let t = by_class.get(*class).unwrap_or_else(|| panic!("no {class} lines"));
        let got = pct(t.detected, t.attacks);
        assert!(got >= *floor, "{class}: detection {got:.1}% below floor {floor}%");
    }
    let fp = pct(total.false_pos, total.benign);
    assert!(fp <= MAX_OVERALL_FP, "overall false positives {fp:.1}% above {MAX_OVERALL_FP}%");
}

fn json_request(body: &str) -> waf::Inspection {
    waf::inspect(&RequestView {
        path: Some("/v1/ingest/events"),
        query: None,
        headers: &[("user-agent", "cartorio-sdk/1.4 (linux; x86_64)")],
        content_type: Some("application/json"),
        body: body.as_bytes(),
    })
}

#[test]
fn ordinary_event_records_are_clean() {
    let records = [
        r#"{"id":"evt-1","ts":"2026-11-21T10:00:00Z","source":"web-frontend","message":"User clicked the 'Buy now' button; order #123 total $45.00 (10% off) - see https://example.com/a/b?x=1&y=2","attributes":{"browser":"Firefox 133","path":"/checkout/step-2"}}"#,
        r#"{"id":"evt-2","level":"info","message":"rotated /var/log/app.log to /var/log/app.log.1; wrote C:\\ProgramData\\Cartorio\\logs\\gw.log"}"#,
        r#"{"id":"evt-3","message":"Please select the union members from the list, then drop the old script and exec the include step; order by date."}"#,
        r#"{"id":"evt-4","message":"It's the customer's choice: select one option (or more) and we'll update the order by Friday; don't worry."}"#,
        r#"{"id":"evt-5","tags":["select","union","drop","script","exec","include","order by"],"count":3,"ok":true}"#,
        r#"{"id":"evt-6","message":"Where the 1st and 2nd items are the same, we choose the cheaper one & ship it; see the FAQ at http://help.example.com/faq#shipping for more."}"#,
        r#"{"id":"evt-7","message":"Meeting notes: time to move on; find the root cause, then cut a release. Cat owners & dog owners both replied (more than 50%)."}"#,
        r#"{"id":"evt-8","user":"o'brien","email":"sean.o'brien@example.ie","city":"Sant'Agata","note":"Said \"hi\" -- and left; ok?"}"#,
    ];
    for r in records {
        let ins = json_request(r);
        assert!(!ins.blocked(DEFAULT_THRESHOLD), "blocked ordinary record {r}: {:?}", ins.findings);
        assert!(ins.score < DEFAULT_THRESHOLD, "{r}");
    }
    let prose = "We will select a venue, then union the two teams. Don't drop the script; exec summary \
                 to include: order by priority, files in /var/log/app.log and C:\\Users\\ana\\Documents. \
                 Questions? See https://example.com/help?topic=ingest&lang=en or email ops@example.com.";
    let ins = waf::inspect(&RequestView {
        path: Some("/v1/ingest/notes"),
        query: Some("source=manual&tag=weekly+report"),
        headers: &[("referer", "https://app.example.com/dashboard?tab=notes")],
        content_type: Some("text/plain; charset=utf-8"),
        body: prose.as_bytes(),
    });
    assert_eq!(ins.score, 0, "prose scored: {:?}", ins.findings);
}
