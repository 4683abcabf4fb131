//! The `cartorio` binary: parses the command line and hands over to a
//! service crate. Nothing else lives here.

mod backup;
mod gateway_cmd;
mod up;

use cartorio_control::paths::DataDir;
use cartorio_platform::logging::LogFormat;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "cartorio",
    version,
    about = "A PKI edge: pre-signed OCSP, time-stamps, ingestion gateway, CA control plane"
)]
struct Cli {
    /// Logs on stderr: text, json (one object per line: timestamp, level,
    /// service, target, message, fields), or auto (text on a terminal, JSON
    /// otherwise). RUST_LOG filters them (default info).
    #[arg(long, global = true, default_value = "auto")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in one process with embedded defaults.
    Up(Box<up::UpArgs>),
    /// Issue a certificate from a CSR (through a running `up`, or directly).
    Issue {
        #[arg(long, default_value = "./cartorio-data")]
        data_dir: PathBuf,
        /// PEM or DER PKCS#10 request.
        #[arg(long)]
        csr: PathBuf,
        /// A profile of the control plane: server, client, document-signing,
        /// code-signing, smime, short-lived, tsa (the built-ins), or one of
        /// its configuration's.
        #[arg(long, default_value = "server")]
        profile: String,
        /// The issuing CA, when not the profile's own (tls, documents, ...).
        #[arg(long)]
        issuer: Option<String>,
        /// Where to write the certificate (PEM).
        #[arg(long)]
        out: PathBuf,
    },
    /// Revoke a certificate by serial with an RFC 5280 reason.
    Revoke {
        #[arg(long, default_value = "./cartorio-data")]
        data_dir: PathBuf,
        /// Hex serial (as `openssl x509 -serial` prints it).
        #[arg(long)]
        serial: String,
        /// keyCompromise, cACompromise, affiliationChanged, superseded,
        /// cessationOfOperation, certificateHold, privilegeWithdrawn,
        /// aACompromise or unspecified.
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
    /// Create an admin API token with a role (admin, issuer, revoker,
    /// auditor); the token is printed once and stored only as its hash.
    /// `admin-token list` and `admin-token revoke PREFIX` manage them.
    AdminToken(AdminTokenArgs),
    /// The OCSP signers: `ocsp-signer rotate` after a suspected compromise
    /// of one's key.
    OcspSigner {
        #[command(subcommand)]
        action: OcspSignerAction,
    },
    /// Write an encrypted backup of a data directory (while `up` runs).
    Backup(backup::BackupArgs),
    /// Restore a backup into a new data directory.
    Restore(backup::RestoreArgs),
    /// Check the control plane's audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Write the issuing CA's full CRL now (PEM), from the registry; or one
    /// shard's, with --shard, --shards and --url as the control plane's [crl].
    Crl {
        #[arg(long, default_value = "./cartorio-data")]
        data_dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// The issuing CA whose CRL (default: tls).
        #[arg(long)]
        issuer: Option<String>,
        /// The shard to write (0-based).
        #[arg(long, requires_all = ["shards", "url"])]
        shard: Option<u32>,
        #[arg(long)]
        shards: Option<u32>,
        /// Base URL the shards are served under.
        #[arg(long)]
        url: Option<String>,
    },
    /// Sign and publish every due OCSP response now, with a progress bar.
    Presign {
        #[arg(long, default_value = "./cartorio-data")]
        data_dir: PathBuf,
        /// Re-sign every unexpired certificate's response, due or not.
        #[arg(long)]
        refresh_all: bool,
    },
    /// Manage keys on a PKCS#11 token.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Create a CA hierarchy with keys generated in the HSM, from one TOML
    /// file (see docs/config-examples/ceremony.toml).
    Ceremony {
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the OCSP responder alone.
    Responder {
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the ingestion gateway alone (`--config`), or work on what it stored.
    Gateway {
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: Option<gateway_cmd::GatewayAction>,
    },
    /// ACME operations: external account binding keys, early renewal.
    Acme {
        #[command(subcommand)]
        action: AcmeAction,
    },
    /// Run the control plane alone.
    Control {
        #[arg(long)]
        config: PathBuf,
        /// Create what a first start creates (the CA in data_dir, the
        /// registry's schema, the admin token), then exit without serving:
        /// a deployment issues its services' TLS certificates from the CA
        /// before the stores the node needs are up.
        #[arg(long)]
        init: bool,
    },
}

#[derive(Subcommand)]
enum OcspSignerAction {
    /// Issue the issuing CA's OCSP signer anew now, on a new key, and have
    /// every response re-signed by it.
    Rotate {
        #[arg(long, default_value = "./cartorio-data")]
        data_dir: PathBuf,
        /// The issuing CA (default: the default one).
        #[arg(long)]
        issuer: Option<String>,
    },
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct AdminTokenArgs {
    #[command(subcommand)]
    action: Option<AdminTokenAction>,
    #[arg(long, default_value = "./cartorio-data")]
    data_dir: PathBuf,
    #[arg(long)]
    role: Option<String>,
    /// How long the token is valid: 90d, 12h, 30m, or never.
    #[arg(long, default_value = "90d")]
    expires_in: String,
}

#[derive(Subcommand)]
enum AdminTokenAction {
    /// Every token by the first characters of its hash (as the audit log
    /// names it): role, creation, expiry, and whether valid, expired or
    /// revoked.
    List {
        #[arg(long, default_value = "./cartorio-data")]
        data_dir: PathBuf,
    },
    /// Revoke the token whose hash starts with PREFIX (8 hex characters or
    /// more, from `admin-token list`); it is refused from then on.
    Revoke {
        #[arg(long, default_value = "./cartorio-data")]
        data_dir: PathBuf,
        prefix: String,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Check the hash chain against every signed checkpoint (the registry's,
    /// the ones exported to DIR/store, and --checkpoints) with the audit
    /// public key alone; exit 0 when intact, else name the first bad entry
    /// or checkpoint.
    Verify {
        #[arg(long, default_value = "./cartorio-data")]
        data_dir: PathBuf,
        /// A folder of exported checkpoints kept elsewhere (`*.json`).
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// The audit public key (PEM) to trust; default: the one exported
        /// to the store, else DIR/pki/audit-public-key.pem.
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AcmeAction {
    /// External account binding keys (RFC 8555 §7.3.4).
    Eab {
        #[command(subcommand)]
        action: EabAction,
    },
    /// Ask ACME clients (ARI, RFC 9773) to renew a certificate now, or
    /// with --all every certificate issued so far (after an incident).
    RenewEarly {
        #[arg(long, default_value = "./cartorio-data")]
        data_dir: PathBuf,
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        serial: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum EabAction {
    /// Create a key: prints its id and HMAC key (base64url), shown once.
    Create {
        #[arg(long, default_value = "./cartorio-data")]
        data_dir: PathBuf,
        /// The key id (default: a random one).
        #[arg(long)]
        kid: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Generate an EC key pair inside the token (audited in DIR's registry).
    Generate {
        #[arg(long, default_value = "./cartorio-data")]
        data_dir: PathBuf,
        /// A TOML file with an [hsm] table (default: DIR/pki/hsm.toml).
        #[arg(long)]
        hsm: Option<PathBuf>,
        #[arg(long)]
        label: String,
        /// p256 or p384.
        #[arg(long, default_value = "p256")]
        curve: String,
    },
    /// List the key pairs on the token.
    List {
        #[arg(long, default_value = "./cartorio-data")]
        data_dir: PathBuf,
        /// A TOML file with an [hsm] table (default: DIR/pki/hsm.toml).
        #[arg(long)]
        hsm: Option<PathBuf>,
    },
}

impl Command {
    /// The `service` of this command's JSON log lines.
    fn service(&self) -> &'static str {
        match self {
            Self::Up(_) => "up",
            Self::Responder { .. } => "responder",
            Self::Gateway { config: Some(_), action: None } => "gateway",
            Self::Control { .. } => "control",
            _ => "cli",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let service = cli.command.service();
    let default_level = if service == "cli" { "warn" } else { "info" };
    let format = cartorio_platform::logging::init(cli.log_format, service, default_level);
    // A service's fatal error in its logs' format (a JSON reader sees no
    // stray line); a one-shot command's is its answer, plain for the caller.
    let fail = |error: &dyn std::fmt::Display| match (format, service) {
        (LogFormat::Json, s) if s != "cli" => tracing::error!(error = %error, "cartorio stopped"),
        _ => eprintln!("error: {error}"),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(error) => {
            fail(&format_args!("cannot start the runtime: {error}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command));
    // The last requests' access lines are still queued for their writer.
    cartorio_platform::access_log::flush(std::time::Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A request refused for a rule it broke: 2, as a usage error.
        Err(error) if error.downcast_ref::<cartorio_control::cli::Refused>().is_some() => {
            fail(&format_args!("{error:#}"));
            ExitCode::from(2)
        }
        Err(error) => {
            fail(&format_args!("{error:#}"));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Up(args) => up::run(*args).await,
        Command::Issue { data_dir, csr, profile, issuer, out } => {
            let dir = DataDir::new(data_dir);
            let serial = cartorio_control::cli::issue(&dir, &csr, &profile, issuer.as_deref(), &out).await?;
            println!("issued serial {serial} -> {}", out.display());
            Ok(())
        }
        Command::Revoke { data_dir, serial, reason } => {
            let done = cartorio_control::cli::revoke(&DataDir::new(data_dir), &serial, &reason).await?;
            println!("{done}");
            Ok(())
        }
        Command::AdminToken(args) => {
            use cartorio_control::cli;
            let out = match args.action {
                Some(AdminTokenAction::List { data_dir }) => {
                    cli::list_tokens(&DataDir::new(data_dir)).await?
                }
                Some(AdminTokenAction::Revoke { data_dir, prefix }) => {
                    cli::revoke_token(&DataDir::new(data_dir), &prefix).await?
                }
                None => {
                    let role = args
                        .role
                        .ok_or_else(|| anyhow::anyhow!("--role: admin, issuer, revoker or auditor"))?;
                    cli::add_token(&DataDir::new(args.data_dir), &role, &args.expires_in).await?
                }
            };
            println!("{out}");
            Ok(())
        }
        Command::OcspSigner { action: OcspSignerAction::Rotate { data_dir, issuer } } => {
            println!("{}", cartorio_control::cli::rotate_ocsp_signer(&DataDir::new(data_dir), issuer).await?);
            Ok(())
        }
        Command::Backup(args) => backup::backup(args).await,
        Command::Restore(args) => backup::restore(args).await,
        Command::Audit { action: AuditAction::Verify { data_dir, checkpoints, public_key } } => {
            let sources = cartorio_control::cli::AuditSources { public_key, checkpoints };
            match cartorio_control::cli::audit_verify(&DataDir::new(data_dir), &sources).await? {
                Ok(summary) => {
                    println!("{summary}");
                    Ok(())
                }
                Err(report) => anyhow::bail!("{report}"),
            }
        }
        Command::Crl { data_dir, out, issuer, shard, shards, url } => {
            let shard = match (shard, shards, url) {
                (Some(shard), Some(shards), Some(url)) => {
                    Some((cartorio_control::crl::CrlSharding { shards, url }, shard))
                }
                _ => None,
            };
            let entries = cartorio_control::cli::crl(&DataDir::new(data_dir), &out, issuer, shard).await?;
            println!("CRL with {entries} revoked certificate(s) -> {}", out.display());
            Ok(())
        }
        Command::Presign { data_dir, refresh_all } => {
            let bar = indicatif::ProgressBar::new(0).with_style(indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} certificates ({per_sec}, eta {eta})",
            )?);
            let started = std::time::Instant::now();
            let done = cartorio_control::cli::presign(&DataDir::new(data_dir), refresh_all, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .await?;
            bar.finish();
            let secs = started.elapsed().as_secs_f64();
            println!("{done} certificates' responses signed and published in {secs:.1} s");
            Ok(())
        }
        Command::Keys { action } => cartorio_control::registry::off_async(|| keys(action))?,
        Command::Ceremony { config } => {
            let config = cartorio_control::ceremony::load(&config)?;
            let now = cartorio_platform::clock::unix_seconds();
            // Off the runtime: the registry may be PostgreSQL's blocking client.
            let transcript =
                cartorio_control::registry::off_async(|| cartorio_control::ceremony::run(&config, now))??;
            println!("{}", serde_json::to_string_pretty(&transcript)?);
            println!("ceremony complete: start with `cartorio up --data-dir {}`", config.data_dir.display());
            Ok(())
        }
        Command::Responder { config } => up::run_responder(&config).await,
        Command::Gateway { action: Some(action), .. } => gateway_cmd::run(action).await,
        Command::Gateway { config: Some(config), action: None } => up::run_gateway(&config).await,
        Command::Gateway { config: None, action: None } => {
            anyhow::bail!("cartorio gateway needs --config FILE (or a subcommand: decrypt)")
        }
        Command::Control { config, init: true } => up::init_control(&config).await,
        Command::Control { config, init: false } => up::run_control(&config).await,
        Command::Acme { action: AcmeAction::Eab { action: EabAction::Create { data_dir, kid } } } => {
            let key = cartorio_control::cli::acme_eab_create(&DataDir::new(data_dir), kid).await?;
            println!("kid      {}\nhmac_key {}", key.kid, key.hmac_key);
            println!("e.g. certbot --eab-kid {} --eab-hmac-key {} ...", key.kid, key.hmac_key);
            Ok(())
        }
        Command::Acme { action: AcmeAction::RenewEarly { data_dir, serial, all: _ } } => {
            cartorio_control::cli::acme_renew_early(&DataDir::new(data_dir), serial.clone()).await?;
            match serial {
                Some(serial) => println!("ACME clients are asked to renew {serial} now"),
                None => println!("ACME clients are asked to renew every certificate issued so far, now"),
            }
            Ok(())
        }
    }
}

fn keys(action: KeysAction) -> anyhow::Result<()> {
    use cartorio_control::hsm::{HsmConfig, Token, keys};
    use cartorio_control::keys::HsmBinding;
    let hsm_config = |data_dir: &PathBuf, hsm: Option<PathBuf>| {
        HsmConfig::from_file(&hsm.unwrap_or_else(|| HsmBinding::path(&DataDir::new(data_dir))))
    };
    match action {
        KeysAction::Generate { data_dir, hsm, label, curve } => {
            let config = hsm_config(&data_dir, hsm)?;
            let info =
                keys::generate_audited(&DataDir::new(data_dir), config, &label, keys::parse_curve(&curve)?)?;
            println!("{}", serde_json::to_string_pretty(&info)?);
        }
        KeysAction::List { data_dir, hsm } => {
            let token = Token::open(hsm_config(&data_dir, hsm)?)?;
            for key in keys::list(&token)? {
                println!("{}\t{}\t{}", key.label, key.curve, key.spki_sha256);
            }
        }
    }
    Ok(())
}
