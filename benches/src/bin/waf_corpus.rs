//! The gateway's WAF verdict on every line of a CRS corpus file, one line
//! each: `id class label blocked score rules`. `benches/waf_detection.sh`
//! joins it with nginx + ModSecurity's answers to the same requests.
//!
//!     waf-corpus path/to/crs-requests.jsonl [threshold]

use cartorio_gateway::waf::{self, DEFAULT_THRESHOLD, corpus::Case};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or_else(|| anyhow::anyhow!("usage: waf-corpus CORPUS [THRESHOLD]"))?;
    let threshold = args.next().map(|t| t.parse()).transpose()?.unwrap_or(DEFAULT_THRESHOLD);
    let text = std::fs::read_to_string(&path)?;
    for case in text.lines().filter_map(Case::parse) {
        let headers = case.header_refs();
        let ins = waf::inspect(&case.view(&headers));
        let rules: Vec<String> = ins.rule_ids().iter().map(u32::to_string).collect();
        println!(
            "{} {} {} {} {} {}",
            case.id,
            case.class,
            if case.attack { "attack" } else { "benign" },
            u8::from(ins.blocked(threshold)),
            ins.score,
            if rules.is_empty() { "-".to_string() } else { rules.join(",") }
        );
    }
    Ok(())
}
