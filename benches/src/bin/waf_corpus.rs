//! The gateway's WAF verdict on every line of a corpus file, one line
//! each: `id class label blocked score rules part` (blocked: refused by a
//! blocking stream, beyond a cap included, whose name then stands for the
//! rules). `benches/waf_detection.sh`
//! joins it with nginx + ModSecurity's answers to the same requests.
//!
//!     waf-corpus path/to/crs-requests.jsonl [threshold]

use cartorio_gateway::waf::{self, DEFAULT_THRESHOLD, corpus::Case};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or_else(|| anyhow::anyhow!("usage: waf-corpus CORPUS [THRESHOLD]"))?;
    let threshold = args.next().map(|t| t.parse()).transpose()?.unwrap_or(DEFAULT_THRESHOLD);
    let text = std::fs::read_to_string(&path)?;
    let explain = std::env::var_os("WAF_EXPLAIN").is_some();
    for case in text.lines().filter_map(Case::parse) {
        let headers = case.header_refs();
        let ins = waf::inspect(&case.view(&headers));
        if explain && ins.blocked(threshold) {
            explain_values(&case, &headers);
        }
        let rules: Vec<String> = ins.rule_ids().iter().map(u32::to_string).collect();
        println!(
            "{} {} {} {} {} {} {}",
            case.id,
            case.class,
            if case.attack { "attack" } else { "benign" },
            u8::from(ins.refused(threshold)),
            ins.score,
            match (ins.uninspectable, rules.is_empty()) {
                (Some(cap), _) => cap.label().to_string(),
                (None, true) => "-".to_string(),
                (None, false) => rules.join(","),
            },
            case.part.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

/// With `WAF_EXPLAIN` set, each value of a blocked request that fires a
/// rule on its own, on stderr: `id rules value`, for rule work on the
/// tuning part.
fn explain_values(case: &Case, headers: &[(&str, &str)]) {
    for value in waf::extract::values(&case.view(headers)) {
        let alone =
            waf::RequestView { content_type: Some("text/plain"), body: &value.bytes, ..Default::default() };
        let ins = waf::inspect(&alone);
        if !ins.findings.is_empty() {
            let shown: String = String::from_utf8_lossy(&value.bytes).chars().take(160).collect();
            eprintln!("{} {} {:?} {}", case.id, ins.score, ins.rule_ids(), shown.replace('\n', "\\n"));
        }
    }
}
