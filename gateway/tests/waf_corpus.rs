//! Replays the OWASP CRS regression corpus through the WAF, prints detection
//! and false-positive rates per class, and fails when they fall below the
//! floors measured when the rules were written. Also replays the saved fuzz
//! corpus of the `waf_inspect` target and checks ordinary traffic is clean.
//!
//! `WAF_SHOW=<class>:<attack|benign>` prints the misses (or false positives)
//! of one class, for rule work.

use cartorio_gateway::waf::corpus::Case;
use cartorio_gateway::waf::{self, DEFAULT_THRESHOLD, RequestView};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn corpus_path() -> PathBuf {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora/waf/crs-requests.jsonl");
    if beside.exists() { beside } else { PathBuf::from("/work/shared/corpora/waf/crs-requests.jsonl") }
}

fn inspect(case: &Case) -> waf::Inspection {
    waf::inspect(&case.view(&case.header_refs()))
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

/// Minimum detection % on attacks per class: the issue's 92% goal for the
/// classes it names, a few points under the measurement for the others. Measured
/// at `DEFAULT_THRESHOLD` = 5, over four steps:
///
/// 1. before the SQL lexer, custom-header inspection and the
///    shell/mail-protocol rules;
/// 2. after them;
/// 3. after the rules for evasions the CRS's own tests exercise (PHP calls
///    through strings and variable variables, PostgreSQL casts and JSON
///    operators, disguised IP hosts, ORM lookups, sqlite3 dot-commands, brace
///    expansion, spaced-out keywords, open-ended conditions, archive URL
///    schemes, URL parser confusion, compiler wrappers, smuggled form pairs,
///    traversal to dotfiles, SELECT-list aliases, JSFuck, ...);
/// 4. after the rules for fragments a whole value can be (SQL operators,
///    clauses, catalogue names and function calls alone, strings closed with
///    `';`, conditions left dangling; command lines of non-word tools, package
///    installs, spliced variables, `~+`; PHP probe calls and spaced
///    superglobals; Node.js probes; `-->`), and the off-site URL check on
///    query arguments (`waf/offsite.rs`, CRS 931130):
///
/// | class            | attacks | detected                     | benign | false pos.                   |
/// |------------------|--------:|-----------------------------:|-------:|-----------------------------:|
/// | sqli             |     868 | 47.5 -> 63.2 -> 76.3 -> 92.5 |    163 |  5.5 -> 11.0 -> 11.0 -> 11.0 |
/// | xss              |     207 | 69.6 -> 71.5 -> 87.9 -> 92.3 |     54 |  5.6 ->  5.6 -> 11.1 -> 13.0 |
/// | rce              |     706 | 62.3 -> 76.6 -> 84.7 -> 93.8 |    295 | 12.5 -> 10.8 -> 12.5 -> 14.2 |
/// | lfi              |      66 | 80.3 -> 83.3 -> 89.4 -> 97.0 |     16 |  0.0 ->  0.0 ->  0.0 ->  0.0 |
/// | rfi              |      36 | 52.8 -> 52.8 -> 61.1 -> 97.2 |      5 |  0.0 ->  0.0 ->  0.0 -> 40.0 |
/// | php              |     322 | 66.1 -> 68.3 -> 89.4 -> 98.8 |    114 | 10.5 -> 10.5 -> 11.4 -> 15.8 |
/// | java             |    1139 | 88.8 -> 96.8 -> 96.8 -> 96.8 |     33 |  0.0 ->  0.0 ->  0.0 ->  0.0 |
/// | generic          |     238 | 68.5 -> 68.5 -> 87.4 -> 96.6 |     38 | 13.2 -> 13.2 -> 15.8 -> 15.8 |
/// | protocol-attack  |      75 | 54.7 -> 54.7 -> 54.7 -> 54.7 |     42 |  0.0 ->  0.0 ->  0.0 ->  0.0 |
/// | session-fixation |      42 |  7.1 ->  7.1 ->  7.1 ->  7.1 |      5 |  0.0 ->  0.0 ->  0.0 ->  0.0 |
/// | all              |    3699 | 67.6 -> 76.8 -> 85.6 -> 93.2 |    765 |  8.6 ->  9.2 -> 10.5 -> 12.2 |
///
/// Many CRS "benign" lines are attacks that one particular rule must not
/// match (e.g. `/bin/cat /etc/shadow` as a negative test of a Windows rule,
/// `11=1` as a negative test of the tautology rule, `;vim x +silent\ \!whoami`
/// or `find . -exec curl ..` as negative tests of other shell rules), so the
/// false-positive column overstates real-traffic false positives;
/// `realistic_benign_records_pass` and `ordinary_event_records_are_clean`
/// cover those. The corpus also labels the same payload both ways:
/// `username__startswith=p` (934210 attack, 934220 benign), `~+` (932270
/// attack, 932271 benign), `-->`, `$_s erver['request_uri']`, `printf(foo)`
/// and `gethostbyname(` likewise: 43 of the 93 benign lines flagged are
/// byte for byte a payload labelled attack elsewhere. Step 4 added 7 such
/// lines, and 6 requests whose query carries a URL to another site
/// (`?url=https://example.com` against `Host: localhost`), which the
/// off-site check flags by design: the gateway's API takes no URLs in its
/// query. Step 3 narrowed the PHP function rule to code-like arguments and
/// the brace-expansion rule to unspaced lists, which cut false positives on
/// 30,000 lines of developer prose (Debian changelogs and licences) from 310
/// to 249; step 4 added none there. Then, with no CRS verdict changed, shell
/// paths named in passing only warn, `$(...)` is read case-sensitively
/// (`$(MAKE)` is make's), a command word needs a shell-looking argument or
/// a short command line, and brace lists must name a command, a path or
/// an option: 249 -> 56 of those 30,000 lines
/// (`bash benches/waf_detection.sh` measures the same on Debian's text, split).
const DETECTION_FLOORS: &[(&str, f64)] = &[
    ("sqli", 92.0),
    ("xss", 92.0),
    ("rce", 92.0),
    ("lfi", 92.0),
    // 88 since bare homepages on other sites pass (offsite.rs): the CRS's
    // paranoia-level-2 tests of any off-site URL (931130, `x=http://foo.bar`)
    // are two of its 36 lines.
    ("rfi", 88.0),
    ("php", 92.0),
    ("java", 92.0),
    ("generic", 92.0),
    ("protocol-attack", 52.0),
];
/// The issue-5 goal: classes listed here have reached it and must keep it.
const GOAL_DETECTION: f64 = 92.0;
const AT_GOAL: &[&str] = &["sqli", "xss", "rce", "lfi", "php", "java", "generic"];
/// Maximum false-positive % over all benign lines (see above for what they
/// are). 13.0 until the spliced-command rule (3061), which blocks
/// `ti''me curl coreruleset.org`, a splice the corpus labels benign as a
/// negative test of 932260: 100 of 765; and 101 since the LDAP rule 9007,
/// which flags one line of the validation part (a negative test of the
/// CRS's LDAP rule 921200; not looked at, as that part is not for tuning).
const MAX_OVERALL_FP: f64 = 13.3;

#[test]
fn crs_corpus_detection_and_false_positives() {
    let path = corpus_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: Vec<Case> = text.lines().filter_map(Case::parse).collect();
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
    for class in AT_GOAL {
        let t = by_class.get(*class).unwrap_or_else(|| panic!("no {class} lines"));
        let got = pct(t.detected, t.attacks);
        assert!(got >= GOAL_DETECTION, "{class}: detection {got:.1}% below the {GOAL_DETECTION}% goal");
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

/// Pieces of realistic ingestion records: people, places, prose in English
/// and Portuguese (with the SQL, shell and HTML words ordinary text uses),
/// URLs, e-mail addresses, prices, paths and harmless code-ish notes.
const NAMES: &[&str] = &[
    "Seán O'Brien",
    "Mary-Kate D'Angelo",
    "João da Silva",
    "Maria Conceição",
    "O'Neil, Patrick",
    "Anne-Marie L'Estrange",
    "José D'Ávila",
    "Zoë Ó Súilleabháin",
    "Dr. Ana Paula Gonçalves",
    "Kim Lee Jr.",
    "Ngozi Okafor",
    "François Lefèvre",
    "D'Artagnan & Sons Ltd.",
    "Smith-Jones, Sarah",
    "Ahmed Al-Farsi",
];
const ADDRESSES: &[&str] = &[
    "Rua Augusta, 1.234 - apto 56, São Paulo/SP, 01305-100",
    "12 O'Connell Street, Dublin 1, D01 F5P2, Ireland",
    "Av. Paulista, 1578 - Bela Vista, São Paulo - SP",
    "221B Baker St., London NW1 6XE",
    "1600 Amphitheatre Pkwy, Mountain View, CA 94043 (Bldg. 40)",
    "Travessa do Carmo, nº 7, 2º andar; Lisboa",
    "PO Box 123; Suite #4, Anchorage, AK 99501",
    "Rua 25 de Março, 300 — loja 2 (fundos)",
];
const PROSE_EN: &[&str] = &[
    "Please select the best option and update your profile; we will delete the old one.",
    "The union meeting is on Friday; drop by if you can, or send an e-mail.",
    "Select all that apply: (a) email (b) phone (c) none of the above.",
    "I'd like to order by phone, not online -- is that OK?",
    "Our script for the play was rewritten; the alert reader will notice.",
    "Where is the 'Insert' key on a Mac keyboard?",
    "Drop table tennis practice tonight, the gym is closed; join us tomorrow & bring water.",
    "If 1 + 1 = 2, then the total is 50% off, right?",
    "Customers who select 'express' pay $15.00 extra (or R$ 75,00).",
    "We are going to execute the plan at 9:00 and create a backup before.",
    "Null and void: the contract was cancelled on 2024-03-15.",
    "She said: \"it's fine\" - and left at 5 p.m.",
    "The cat sat on the mat; then it ran to the kitchen.",
    "Find the file in your Documents folder and send it to me.",
    "Sleep well & see you at 10:30 tomorrow!",
    "Union Station, Denver — platform 3 (track B).",
    "Sort by price: lowest first, or highest first?",
    "Rate: 4.5/5 stars; 'Great service, would buy again!'",
    "Delete from my account the card ending in 4242, please.",
    "The window was open and the document on the table got wet.",
    "I ordered 2 items but received 3 -- please check order #A-1029.",
    "Use the 'Where' field to filter events by city or region.",
    "Java and Python are both on the curriculum; Ruby is optional.",
    "Our alert system sends an email when the temperature is above 30°C.",
    "Ping me when you're back; I'll be at the desk until 6.",
];
const PROSE_PT: &[&str] = &[
    "Selecione a opção desejada e atualize o cadastro; o antigo será excluído.",
    "Não foi possível entregar o pedido: o endereço estava incompleto.",
    "O cliente d'Ávila pediu para cancelar ou trocar o produto até sexta-feira.",
    "Preço promocional: R$ 1.299,90 à vista ou 10x de R$ 129,99 sem juros.",
    "A reunião do sindicato (união dos trabalhadores) será às 14h.",
    "Por favor, envie o comprovante para financeiro@empresa.com.br.",
    "Obs.: entregar na portaria; o porteiro se chama Zé.",
    "Ele disse \"tá tudo certo\" e saiu -- volta amanhã.",
    "Selecionar, copiar e colar: é só isso que você precisa fazer.",
    "O script da peça foi alterado; o alerta foi enviado a todos.",
    "Frete grátis para pedidos acima de R$ 199,00 (exceto Norte/Nordeste).",
    "Drop-off no aeroporto de Guarulhos, terminal 2, às 7h30.",
    "Atualização: o prazo de entrega mudou de 3 para 5 dias úteis.",
    "Falar com a Dona Maria sobre o orçamento nº 2024/118.",
    "Nota fiscal 000.123.456 emitida em 12/03/2024 - série 1.",
];
const URLS: &[&str] = &[
    "https://example.com/products?id=123&sort=price&order=asc",
    "https://www.exemplo.com.br/busca?q=sapato+social&cor=preto&page=2",
    "http://maps.example.org/?lat=-23.5505&lng=-46.6333&zoom=12",
    "https://docs.example.com/guide/select-and-update#section-3",
    "https://shop.example.com/cart/checkout?coupon=SAVE10&utm_source=newsletter&utm_medium=email",
    "https://example.com/search?q=union+select+products&lang=en",
    "https://cdn.example.net/img/2024/03/banner_1200x628.png?v=3",
];
const EMAILS: &[&str] = &[
    "sean.o'brien@example.ie",
    "joao.silva+pedidos@empresa.com.br",
    "ops@example.com",
    "maria_conceicao@exemplo.pt",
    "first.last@sub.example.co.uk",
    "d'angelo.mk@example.it",
];
const PRICES: &[&str] = &[
    "R$ 1.299,90",
    "$45.00",
    "€ 12,50",
    "US$ 1,000.00",
    "R$ 0,99",
    "£7.99 (incl. VAT)",
    "10% off",
    "-R$ 15,00",
];
const NOTES: &[&str] = &[
    "Logs are in /var/log/app/app.log and C:\\ProgramData\\App\\logs.",
    "Config at ~/.config/app/settings.toml (see README.md).",
    "Run `npm install` and then `npm test` before pushing.",
    "The function returns a list; call it with items=[1, 2, 3].",
    "Set the header Content-Type: application/json and retry.",
    "Use <b>bold</b> and <i>italic</i> in the description field.",
    "Formula: total = price * qty - discount.",
    "Pattern: [A-Z]{3}-\\d{4} for plate numbers.",
    "Temperature >= 38.5 means fever; < 36 is hypothermia.",
    "Ratio 3:1, version 2.4.1, build #5678.",
    "Copy the file to /tmp and rename it to backup-2024.zip.",
    "JSON example: {\"name\": \"test\", \"count\": 2}",
    "Shortcut: Ctrl+Alt+Del or Cmd+Option+Esc.",
    "Order by date (newest first) and group by customer.",
];

/// Deterministic realistic benign records, built from the pieces above.
fn benign_records() -> Vec<String> {
    let mut out = Vec::new();
    let mut n = 0usize;
    let pick = |list: &[&'static str], i: usize| -> &'static str {
        list.get(i % list.len()).copied().unwrap_or_default()
    };
    while out.len() < 2000 {
        let i = n;
        n += 1;
        let rec = serde_json::json!({
            "id": format!("rec-{i:05}"),
            "ts": format!("2024-{:02}-{:02}T{:02}:{:02}:00Z", 1 + i % 12, 1 + i % 28, i % 24, i % 60),
            "customer": {
                "name": pick(NAMES, i * 7 + 1),
                "email": pick(EMAILS, i * 5 + 2),
                "address": pick(ADDRESSES, i * 3),
                "phone": format!("+55 (11) 9{:04}-{:04}", i % 10_000, (i * 37) % 10_000),
            },
            "message": format!("{} {}", pick(PROSE_EN, i), pick(PROSE_PT, i * 11 + 3)),
            "comment": match i % 4 {
                0 => pick(PROSE_PT, i).to_string(),
                1 => pick(PROSE_EN, i * 13 + 5).to_string(),
                2 => pick(NOTES, i).to_string(),
                _ => format!("{} {}", pick(NOTES, i * 3 + 1), pick(PROSE_EN, i + 7)),
            },
            "price": pick(PRICES, i),
            "link": pick(URLS, i * 17 + 4),
            "tags": [pick(&["select", "union", "drop", "script", "alert", "update", "delete", "order", "join", "exec"], i), pick(&["vip", "novo", "urgent", "retorno", "b2b"], i * 3)],
        });
        out.push(rec.to_string());
    }
    out
}

#[test]
fn realistic_benign_records_pass() {
    let records = benign_records();
    let mut blocked = 0usize;
    for r in &records {
        let ins = json_request(r);
        if ins.blocked(DEFAULT_THRESHOLD) {
            blocked += 1;
            println!("blocked {:?}: {r}", ins.findings);
        }
    }
    let passed = pct(records.len() - blocked, records.len());
    println!("realistic benign: {} records, {passed:.2}% passed", records.len());
    assert!(passed >= 99.9, "realistic benign records passed {passed:.2}% < 99.9%");
}
