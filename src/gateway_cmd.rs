//! `cartorio gateway SUBCOMMAND`: work on what a gateway stored (read
//! payloads back, one or in bulk; rewrap them under the newest KEK) and
//! on its keys (API keys, KEK rotation). The store and KEKs come from a
//! gateway TOML (`--config`), or from `up`'s data directory.

use anyhow::Context;
use cartorio_control::paths::{DataDir, write_private};
use cartorio_gateway::envelope::{Kek, Keyring};
use cartorio_gateway::{GatewayConfig, sink};
use cartorio_platform::store::{ObjectStore, StoreConfig};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Subcommand)]
pub enum GatewayAction {
    /// Make an API key for a stream: the key is printed once (keep it; only
    /// its hash is configured), then the `[[api_keys]]` TOML to add to the
    /// gateway's configuration.
    Key {
        #[command(subcommand)]
        action: GatewayKeyAction,
    },
    /// Read stored payloads back, opening their envelopes: one object, or
    /// every object under a prefix into a directory.
    Decrypt {
        #[command(flatten)]
        source: Source,
        /// Object key, e.g. raw/demo/2026/11/21/01K...
        #[arg(long, conflicts_with = "prefix", required_unless_present = "prefix")]
        object: Option<String>,
        /// Where to write the payload (default: stdout).
        #[arg(long, conflicts_with = "prefix")]
        out: Option<PathBuf>,
        /// Every payload under this prefix (e.g. raw/demo/2026/11/), with
        /// --out-dir: each goes to OUT_DIR/KEY, its metadata beside it.
        #[arg(long, requires = "out_dir")]
        prefix: Option<String>,
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// Rewrap every sealed object under the prefixes (default raw/ and
    /// quarantine/) whose data key is under an older KEK, to the current
    /// one. Payloads are not re-encrypted; objects already current are
    /// left alone, so it can run again after an interruption.
    Rewrap {
        #[command(flatten)]
        source: Source,
        #[arg(long)]
        prefix: Vec<String>,
    },
    /// KEKs of `up`'s data directory.
    Kek {
        #[command(subcommand)]
        action: KekAction,
    },
}

#[derive(Subcommand)]
pub enum GatewayKeyAction {
    Create {
        /// The stream (or streams, repeated) the key may post to.
        #[arg(long, required = true)]
        stream: Vec<String>,
        /// The identity the key stands for in logs, limits and stored
        /// objects (default: key-<random>).
        #[arg(long)]
        id: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum KekAction {
    /// A new KEK for new objects (restart `up` to use it); the old one is
    /// kept in DIR/gateway/old-keks/ to open what it sealed. Then
    /// `cartorio gateway rewrap`.
    Rotate {
        #[arg(long, default_value = "./cartorio-data")]
        data_dir: PathBuf,
    },
    /// A new random KEK file (64 hex digits, mode 0600) for a gateway TOML's
    /// `kek_file`; the previous file goes to `old_kek_files`.
    Generate {
        #[arg(long)]
        out: PathBuf,
    },
}

/// Where the objects and KEKs are.
#[derive(Args)]
pub struct Source {
    /// The gateway's TOML (store and KEKs); without it, `up`'s data dir.
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long, default_value = "./cartorio-data")]
    data_dir: PathBuf,
}

pub async fn run(action: GatewayAction) -> anyhow::Result<()> {
    match action {
        GatewayAction::Key { action: GatewayKeyAction::Create { stream, id } } => {
            let (key, toml) = key_create(&stream, id)?;
            println!("key {key}\n\n# Add to the gateway's TOML (the key itself is shown only here):\n{toml}");
            Ok(())
        }
        GatewayAction::Decrypt { source, object: Some(object), out, .. } => {
            let (store, keyring) = source.open()?;
            let plain = sink::read_back(&store, keyring.as_deref(), &object).await?;
            match out {
                Some(path) => {
                    std::fs::write(&path, plain).with_context(|| format!("writing {}", path.display()))
                }
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&plain).context("writing to stdout")
                }
            }
        }
        GatewayAction::Decrypt { source, prefix: Some(prefix), out_dir: Some(out_dir), .. } => {
            let (store, keyring) = source.open()?;
            let (payloads, metas) = decrypt_all(&store, keyring.as_deref(), &prefix, &out_dir).await?;
            println!("{payloads} payloads opened and {metas} metadata files copied to {}", out_dir.display());
            Ok(())
        }
        GatewayAction::Decrypt { .. } => anyhow::bail!("give --object KEY, or --prefix P with --out-dir DIR"),
        GatewayAction::Rewrap { source, prefix } => {
            let (store, keyring) = source.open()?;
            let keyring = keyring.context("this gateway stores payloads in clear: nothing to rewrap")?;
            let prefixes = if prefix.is_empty() { vec!["raw/".into(), "quarantine/".into()] } else { prefix };
            let (rewrapped, seen) = rewrap_all(&store, &keyring, &prefixes).await?;
            println!("{rewrapped} of {seen} objects rewrapped to KEK {}", keyring.current().id());
            Ok(())
        }
        GatewayAction::Kek { action: KekAction::Rotate { data_dir } } => {
            let (old, new) = rotate_demo_kek(&DataDir::new(data_dir))?;
            println!(
                "new objects are sealed under {new} once `up` restarts; {old} is kept to open the older ones"
            );
            println!("then move them: cartorio gateway rewrap");
            Ok(())
        }
        GatewayAction::Kek { action: KekAction::Generate { out } } => {
            write_private(&out, Kek::generate_hex()?.as_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            println!("KEK {} -> {}", Kek::from_file(&out)?.id(), out.display());
            Ok(())
        }
    }
}

impl Source {
    fn open(&self) -> anyhow::Result<(ObjectStore, Option<Arc<Keyring>>)> {
        match &self.config {
            Some(path) => {
                let config: GatewayConfig = cartorio_platform::config::load_toml(path)?;
                let keyring = cartorio_gateway::keyring(&config)?;
                Ok((config.store.open(), keyring))
            }
            None => {
                let dir = DataDir::new(&self.data_dir);
                let (current, older) = demo_keks(&dir);
                let keyring = Keyring::with_older_files(Kek::from_file(&current)?, &older)?;
                Ok((StoreConfig::Local { path: dir.store() }.open(), Some(Arc::new(keyring))))
            }
        }
    }
}

/// The local KEK `up` seals the gateway's payloads under, and the older
/// ones kept by rotations.
pub fn demo_keks(dir: &DataDir) -> (PathBuf, Vec<PathBuf>) {
    let gateway = dir.root().join("gateway");
    let mut older: Vec<PathBuf> = std::fs::read_dir(gateway.join("old-keks"))
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    older.sort();
    (gateway.join("kek"), older)
}

fn rotate_demo_kek(dir: &DataDir) -> anyhow::Result<(String, String)> {
    let (current, _) = demo_keks(dir);
    let old = Kek::from_file(&current)?;
    let kept = dir.root().join("gateway/old-keks").join(old.id().replace(':', "-"));
    write_private(&kept, &std::fs::read(&current)?)?;
    write_private(&current, Kek::generate_hex()?.as_bytes())?;
    Ok((old.id().to_owned(), Kek::from_file(&current)?.id().to_owned()))
}

/// Opens every payload under `prefix` into `out_dir/KEY` and copies each
/// `.meta.json` beside it; stops at the first that does not open.
async fn decrypt_all(
    store: &ObjectStore,
    keyring: Option<&Keyring>,
    prefix: &str,
    out_dir: &Path,
) -> anyhow::Result<(usize, usize)> {
    let (mut payloads, mut metas) = (0, 0);
    for key in store.list(prefix).await? {
        let target = out_dir.join(cartorio_control::backup::archive::safe_relative(Path::new(&key))?);
        let bytes = if sink::is_payload_key(&key) {
            payloads += 1;
            sink::read_back(store, keyring, &key).await?
        } else {
            metas += 1;
            store.get(&key).await?.map(|b| b.to_vec()).unwrap_or_default()
        };
        // Payloads are the senders' data: owner-only, as they were sealed.
        write_private(&target, &bytes).with_context(|| format!("writing {}", target.display()))?;
    }
    Ok((payloads, metas))
}

async fn rewrap_all(
    store: &ObjectStore,
    keyring: &Keyring,
    prefixes: &[String],
) -> anyhow::Result<(usize, usize)> {
    let (mut rewrapped, mut seen) = (0, 0);
    for prefix in prefixes {
        for key in store.list(prefix).await?.into_iter().filter(|k| sink::is_payload_key(k)) {
            seen += 1;
            if sink::rewrap(store, keyring, &key).await? {
                rewrapped += 1;
            }
        }
    }
    Ok((rewrapped, seen))
}

/// `bytes` random octets as hex (API keys, key ids).
pub fn random_hex(bytes: usize) -> anyhow::Result<String> {
    use ring::rand::SecureRandom;
    let mut raw = vec![0u8; bytes];
    ring::rand::SystemRandom::new().fill(&mut raw).map_err(|_| anyhow::anyhow!("no randomness"))?;
    Ok(hex::encode(raw))
}

/// A new API key (192 random bits) for `streams`, and the `[[api_keys]]`
/// table naming it by its SHA-256.
fn key_create(streams: &[String], id: Option<String>) -> anyhow::Result<(String, String)> {
    let valid = cartorio_gateway::config::valid_stream_name;
    if let Some(bad) = streams.iter().find(|s| !valid(s)) {
        anyhow::bail!("{bad:?} is not a stream name ([a-z0-9_-], 1 to 64 characters)");
    }
    let id = match id {
        Some(id) if valid(&id) => id,
        Some(id) => anyhow::bail!("{id:?} is not a key id ([a-z0-9_-], 1 to 64 characters)"),
        None => format!("key-{}", random_hex(4)?),
    };
    let key = format!("cart_{}", random_hex(24)?);
    let streams = streams.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    let toml = format!(
        "[[api_keys]]\nid = {id:?}\nsha256 = \"{}\"\nstreams = [{streams}]\n",
        cartorio_gateway::auth::key_sha256(&key)
    );
    Ok((key, toml))
}
