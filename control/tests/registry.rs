//! The registry on both engines: every test runs on a fresh SQLite file,
//! then on a fresh PostgreSQL database when `CARTORIO_TEST_POSTGRES_URL`
//! names a cluster (scripts/test.sh starts one; without it the PostgreSQL
//! half is skipped, and says so).

use cartorio_control::audit::Event;
use cartorio_control::registry::db::Sql;
use cartorio_control::registry::{Database, NewCertificate, Registry, RevokeOutcome};
use cartorio_pkix::Signer;
use cartorio_testkit::postgres::TestDatabase;

/// Runs `check` on a fresh SQLite registry, then on a fresh PostgreSQL one.
fn on_each_backend(test: &str, check: impl Fn(&Database)) {
    let dir = tempfile::tempdir().expect("tempdir");
    check(&Database::Sqlite(dir.path().join("registry.db")));
    if let Some(pg) = TestDatabase::from_env(test) {
        check(&Database::Postgres(pg.url.clone()));
    }
}

fn open(database: &Database) -> Registry {
    let mut registry = Registry::open(database).unwrap_or_else(|e| panic!("open {database:?}: {e:#}"));
    registry.upsert_issuer("i1", "Issuer", b"cert", 0).expect("issuer");
    registry
}

fn new_cert(serial: &str, issued_at: i64) -> NewCertificate<'_> {
    NewCertificate {
        serial,
        issuer_id: "i1",
        profile: "server",
        subject: Some("example.test"),
        not_before: 0,
        not_after: 10_000,
        der: b"der",
        issued_at,
        acme: None,
    }
}

fn serials(records: &[cartorio_control::registry::OcspWork]) -> Vec<&str> {
    records.iter().map(|r| r.serial.as_str()).collect()
}

fn audit_entries(registry: &mut Registry) -> i64 {
    let key = cartorio_testkit::pki::ec_key(cartorio_pkix::EcCurve::P256);
    let key = cartorio_control::audit::AuditKey::from_spki(key.spki()).expect("key");
    match registry.verify_audit(&key, &[]).expect("verify") {
        Ok(intact) => intact.entries,
        Err(broken) => panic!("audit log broken: {broken:?}"),
    }
}

#[test]
fn migrations_run_once_and_reopening_keeps_everything() {
    on_each_backend("migrations", |db| {
        let mut registry = open(db);
        registry.insert_certificate(&new_cert("01", 1)).expect("insert");
        drop(registry);
        for _ in 0..2 {
            let mut registry = open(db);
            let record = registry.certificate("01").expect("lookup").expect("kept");
            assert_eq!(record.subject.as_deref(), Some("example.test"), "{db:?}");
            assert_eq!(audit_entries(&mut registry), 1, "{db:?}");
        }
    });
}

#[test]
fn pending_work_orders_revocations_first_and_survives_races() {
    on_each_backend("pending_work", |db| {
        let mut reg = open(db);
        reg.insert_certificate(&new_cert("01", 1)).expect("insert");
        reg.insert_certificate(&new_cert("02", 2)).expect("insert");
        reg.mark_published(&[("01".into(), 1, 500), ("02".into(), 1, 500)], 100).expect("mark");
        assert!(reg.signing_work(100, 0, 10).expect("work").is_empty(), "{db:?}");

        assert_eq!(reg.revoke("02", 50, 1).expect("revoke"), RevokeOutcome::Revoked);
        assert_eq!(reg.revoke("02", 51, 1).expect("again"), RevokeOutcome::AlreadyRevoked);
        assert_eq!(reg.revoke("ff", 51, 1).expect("none"), RevokeOutcome::NotFound);
        reg.insert_certificate(&new_cert("03", 3)).expect("insert");
        assert_eq!(serials(&reg.signing_work(100, 0, 10).expect("work")), ["02", "03"], "{db:?}");

        // "03" changes (revoked: version 2) after a response for version 1
        // was signed: publishing that response does not clear the change.
        assert_eq!(reg.revoke("03", 60, 4).expect("revoke"), RevokeOutcome::Revoked);
        reg.mark_published(&[("02".into(), 2, 600), ("03".into(), 1, 600)], 100).expect("mark");
        assert_eq!(serials(&reg.signing_work(100, 0, 10).expect("work")), ["03"], "{db:?}");
        reg.mark_published(&[("03".into(), 2, 600)], 101).expect("mark");

        // Refresh: due once nextUpdate is before the horizon, never past expiry.
        assert_eq!(serials(&reg.signing_work(550, 0, 10).expect("work")), ["01"], "{db:?}");
        assert!(reg.signing_work(550, 10_000, 10).expect("work").is_empty(), "{db:?}");
        assert_eq!(reg.signing_work(1000, 0, 2).expect("work").len(), 2, "limit, {db:?}");

        // The CRL's list: revoked and unexpired, oldest revocation first.
        assert_eq!(reg.revoked("i1", 0).expect("revoked"), [("02".into(), 50, 1), ("03".into(), 60, 4)]);
        assert!(reg.revoked("i1", 10_000).expect("revoked").is_empty(), "expired, {db:?}");
        let record = reg.certificate("03").expect("lookup").expect("present");
        assert_eq!(
            (record.revoked_at, record.revocation_reason, record.status_version),
            (Some(60), Some(4), 2)
        );
        // Issuances, revocations, signing batches: each audited once.
        assert_eq!(audit_entries(&mut reg), 3 + 2 + 3, "{db:?}");
    });
}

#[test]
fn a_batch_of_certificates_commits_whole_with_an_entry_each() {
    on_each_backend("batch", |db| {
        let mut reg = open(db);
        let batch: Vec<_> = ["0a", "0b", "0c"].iter().map(|s| new_cert(s, 5)).collect();
        reg.insert_certificates(&batch).expect("batch");
        assert_eq!(audit_entries(&mut reg), 3, "{db:?}");
        // One duplicate serial fails the whole batch: nothing of it stays.
        let batch = [new_cert("0d", 6), new_cert("0a", 6)];
        assert!(reg.insert_certificates(&batch).is_err(), "{db:?}");
        assert!(reg.certificate("0d").expect("lookup").is_none(), "{db:?}");
        assert_eq!(audit_entries(&mut reg), 3, "{db:?}");
    });
}

#[test]
fn admin_tokens_and_logins_are_audited() {
    on_each_backend("admin_tokens", |db| {
        let mut reg = open(db);
        reg.add_admin_token("aa11", "revoker", 1, None).expect("add");
        reg.add_admin_token("aa11", "admin", 2, None).expect("a second add is a no-op");
        assert_eq!(reg.admin_login("aa11", 3).expect("login").as_deref(), Some("revoker"), "{db:?}");
        assert_eq!(reg.admin_login("bb22", 4).expect("login"), None, "{db:?}");
        assert_eq!(audit_entries(&mut reg), 4, "{db:?}");
    });
}

fn event(kind: &str) -> Event<'_> {
    Event { kind, actor: "test", detail: serde_json::json!({}) }
}

#[test]
fn an_action_and_its_audit_entry_commit_together_or_not_at_all() {
    on_each_backend("audited_rollback", |db| {
        let mut reg = open(db);
        // The action fails after a write: no entry, no write.
        let failed: anyhow::Result<()> = reg.audited(&event("test.action_fails"), 1, |tx| {
            tx.execute("INSERT INTO admin_tokens (hash, role, created_at) VALUES ('cc33', 'admin', 1)", &[])?;
            anyhow::bail!("the action failed")
        });
        assert!(failed.is_err(), "{db:?}");
        assert_eq!(reg.admin_login("cc33", 2).expect("login"), None, "{db:?}");
        assert_eq!(audit_entries(&mut reg), 1, "only the login, {db:?}");

        // The append fails after the action wrote (the action leaves a
        // chain head the append cannot extend): the action is undone too.
        let failed = reg.audited(&event("test.append_fails"), 3, |tx| {
            tx.execute("INSERT INTO admin_tokens (hash, role, created_at) VALUES ('dd44', 'admin', 3)", &[])?;
            tx.execute(
                "INSERT INTO audit_log (seq, at, kind, actor, detail, leaf_hash, chain_hash)
                 VALUES (1000000, 3, 'x', 'x', 'x', ?1, ?1)",
                cartorio_control::sql_params![&b"short"[..]],
            )?;
            Ok(())
        });
        let error = failed.expect_err("the append must fail");
        assert!(format!("{error:#}").contains("corrupt chain hash"), "{error:#}");
        assert_eq!(reg.admin_login("dd44", 4).expect("login"), None, "{db:?}");
        assert_eq!(audit_entries(&mut reg), 2, "{db:?}");
    });
}

#[test]
fn audit_verify_checks_checkpoints_and_names_an_altered_entry() {
    on_each_backend("audit_verify", |db| {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = cartorio_control::keys::load_or_generate(&dir.path().join("audit.pk8")).expect("key");
        let mut reg = open(db);
        for serial in ["01", "02", "03"] {
            reg.insert_certificate(&new_cert(serial, 1)).expect("insert");
        }
        let checkpoint = reg.audit_checkpoint(&key, 10).expect("checkpoint").expect("grew");
        assert_eq!(checkpoint.size, 3);
        assert!(reg.audit_checkpoint(&key, 11).expect("checkpoint").is_none(), "unchanged, {db:?}");
        let public = cartorio_control::audit::AuditKey::from_spki(key.spki()).expect("public key");
        let intact = reg.verify_audit(&public, &[]).expect("verify").expect("intact");
        assert_eq!((intact.entries, intact.checkpoints), (3, 1), "{db:?}");

        reg.audited(&event("test.tamper"), 12, |tx| {
            tx.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2", &[])?;
            Ok(())
        })
        .expect("tamper");
        let broken = reg.verify_audit(&public, &[]).expect("verify").expect_err("broken");
        assert_eq!(broken.seq, Some(2), "{db:?}: {broken:?}");
    });
}

#[test]
fn two_nodes_appending_at_once_never_fork_the_chain() {
    on_each_backend("two_nodes", |db| {
        drop(open(db));
        std::thread::scope(|scope| {
            for node in 0..2 {
                scope.spawn(move || {
                    let mut reg = Registry::open(db).expect("open");
                    for i in 0..25 {
                        let serial = format!("{node}{i:03}");
                        reg.insert_certificate(&new_cert(&serial, i)).expect("insert");
                        reg.admin_login("nobody", i).expect("login");
                    }
                });
            }
        });
        assert_eq!(audit_entries(&mut open(db)), 100, "{db:?}");
    });
}

/// A P-256 CSR made by openssl.
fn csr(dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join("c.csr");
    let status = std::process::Command::new("openssl")
        .args(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout"])
        .arg(dir.join("c.key"))
        .arg("-out")
        .arg(&path)
        .args(["-subj", "/CN=c.example.test", "-addext", "subjectAltName=DNS:c.example.test"])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl req");
    std::fs::read(path).expect("csr")
}

#[test]
fn concurrent_issuances_through_the_control_plane_are_each_recorded_and_audited() {
    on_each_backend("group_commit", |db| {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = cartorio_control::paths::DataDir::new(dir.path().join("data"));
        let database_url = match db {
            Database::Postgres(url) => Some(url.clone()),
            Database::Sqlite(_) => None,
        };
        let config = cartorio_control::ControlConfig {
            database_url: database_url.clone(),
            ..cartorio_control::ControlConfig::embedded(data.clone())
        };
        let control = cartorio_control::Control::open(config, true).expect("open");
        let csr = csr(dir.path());
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let serials: Vec<String> = runtime.block_on(async {
            let tasks: Vec<_> = (0..32)
                .map(|_| {
                    let (control, csr) = (control.clone(), csr.clone());
                    tokio::spawn(
                        async move { control.issue(csr, "server".into(), None).await.map(|i| i.serial) },
                    )
                })
                .collect();
            let mut serials = Vec::new();
            for task in tasks {
                serials.push(task.await.expect("task").expect("issue"));
            }
            serials
        });
        drop(control);
        let database = Database::select(database_url.as_deref(), &data).expect("database");
        let mut registry = Registry::open(&database).expect("reopen");
        for serial in &serials {
            assert!(registry.certificate(serial).expect("lookup").is_some(), "{serial} missing, {db:?}");
        }
        let audited = registry
            .audited(&event("test.count"), 1, |tx| {
                let sql = "SELECT COUNT(*) FROM audit_log WHERE kind = 'certificate.issue'";
                tx.query_opt(sql, &[], |r| r.get::<i64>(0))
            })
            .expect("count");
        assert_eq!(audited, Some(32), "an entry per issuance, {db:?}");
        assert!(audit_entries(&mut registry) > 0, "{db:?}");
    });
}

/// A publisher reads the change mark before its batch; afterwards,
/// `changed_since` names exactly the certificates revoked since, with the
/// status version that makes the batch's responses for them stale.
#[test]
fn changes_after_a_mark_are_named_with_their_new_status_version() {
    on_each_backend("change_mark", |db| {
        let mut reg = open(db);
        reg.insert_certificate(&new_cert("01", 1)).expect("insert");
        reg.insert_certificate(&new_cert("02", 2)).expect("insert");
        assert_eq!(reg.revoke("01", 10, 1).expect("revoke"), RevokeOutcome::Revoked);
        let mark = reg.change_mark().expect("mark");
        let work = reg.signing_work(100, 0, 10).expect("work");
        assert!(reg.changed_since(mark).expect("changes").is_empty(), "{db:?}: nothing after the mark");
        assert_eq!(reg.revoke("02", 20, 1).expect("revoke"), RevokeOutcome::Revoked);
        let changed = reg.changed_since(mark).expect("changes");
        assert_eq!(changed.len(), 1, "{db:?}: {changed:?}");
        let signed = work.iter().find(|w| w.serial == "02").expect("02 in the batch");
        assert_ne!(changed.get("02"), Some(&signed.status_version), "{db:?}: the batch's response is stale");
        let later = reg.change_mark().expect("mark");
        assert!(reg.changed_since(later).expect("changes").is_empty());
    });
}

/// Manifests are published under the time of the latest restore or
/// re-signing of everything: 0 until one happens, then that time.
#[test]
fn the_publication_epoch_is_the_latest_restore_or_refresh_of_everything() {
    on_each_backend("publication_epoch", |db| {
        let mut reg = open(db);
        reg.insert_certificate(&new_cert("01", 1)).expect("insert");
        assert_eq!(reg.publication_epoch().expect("epoch"), 0, "{db:?}");
        reg.restored("2026-12-01T00:00:00Z", 1_000).expect("restored");
        assert_eq!(reg.publication_epoch().expect("epoch"), 1_000, "{db:?}");
        reg.refresh_all(2_000).expect("refresh");
        assert_eq!(reg.publication_epoch().expect("epoch"), 2_000, "{db:?}");
        reg.revoke("01", 3_000, 1).expect("revoke");
        assert_eq!(reg.publication_epoch().expect("epoch"), 2_000, "{db:?}: other events are no epoch");
        if matches!(db, Database::Sqlite(_)) {
            let plan = reg.explain(cartorio_control::registry::PUBLICATION_EPOCH, &[]).expect("plan");
            assert!(plan.iter().any(|l| l.contains("audit_log_epochs")), "no scan of the log: {plan:?}");
        }
    });
}

/// Admin tokens: valid until they expire or are revoked; a revocation
/// names one token by a prefix of its hash.
#[test]
fn admin_tokens_expire_and_are_revoked_by_prefix() {
    use cartorio_control::registry::TokenRevocation;
    on_each_backend("admin_token_expiry", |db| {
        let mut reg = open(db);
        let hash = |head: &str| format!("{head}{}", "0".repeat(64 - head.len()));
        let (a, b, c) = (hash("abab"), hash("abcdef012"), hash("abcdef013"));
        reg.add_admin_token(&a, "auditor", 100, Some(200)).expect("add");
        reg.add_admin_token(&b, "revoker", 100, None).expect("add");
        reg.add_admin_token(&c, "issuer", 100, None).expect("add");
        assert_eq!(reg.admin_login(&a, 199).expect("login").as_deref(), Some("auditor"), "{db:?}");
        assert_eq!(reg.admin_login(&a, 200).expect("login"), None, "{db:?}: expired");
        assert_eq!(reg.admin_login(&"f".repeat(64), 150).expect("login"), None, "{db:?}: unknown");

        assert!(reg.revoke_admin_token("abcdef0", 150).is_err(), "{db:?}: too short a prefix");
        assert_eq!(reg.revoke_admin_token("abcdef00", 150).expect("revoke"), TokenRevocation::NotFound);
        assert_eq!(reg.revoke_admin_token("ABCDEF01", 150).expect("revoke"), TokenRevocation::Ambiguous(2));
        let revoked = reg.revoke_admin_token("abcdef012", 150).expect("revoke");
        assert!(
            matches!(&revoked, TokenRevocation::Revoked(t) if t.role == "revoker"),
            "{db:?}: {revoked:?}"
        );
        assert_eq!(reg.admin_login(&b, 151).expect("login"), None, "{db:?}: revoked");
        assert_eq!(reg.admin_login(&c, 151).expect("login").as_deref(), Some("issuer"), "{db:?}");
        let again = reg.revoke_admin_token("abcdef012", 152).expect("revoke");
        assert!(matches!(again, TokenRevocation::AlreadyRevoked(_)), "{db:?}");

        let tokens = reg.admin_tokens().expect("list");
        let states: Vec<_> = tokens.iter().map(|t| (t.prefix.as_str(), t.expires_at, t.revoked_at)).collect();
        assert_eq!(
            states,
            [
                ("abab00000000", Some(200), None),
                ("abcdef012000", None, Some(150)),
                ("abcdef013000", None, None)
            ],
            "{db:?}"
        );
    });
}
