//! The `cartorio` binary: parses the command line and hands over to a
//! service crate. Nothing else lives here.

mod up;

use cartorio_control::paths::DataDir;
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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in one process with embedded defaults.
    Up(up::UpArgs),
    /// Issue a certificate from a CSR (through a running `up`, or directly).
    Issue {
        #[arg(long, default_value = "./cartorio-data")]
        data_dir: PathBuf,
        /// PEM or DER PKCS#10 request.
        #[arg(long)]
        csr: PathBuf,
        #[arg(long, default_value = "server")]
        profile: String,
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
    /// Run the OCSP responder alone.
    Responder {
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the ingestion gateway alone.
    Gateway {
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the control plane alone.
    Control {
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Up(args) => up::run(args).await,
        Command::Issue { data_dir, csr, profile, out } => {
            let serial = cartorio_control::cli::issue(&DataDir::new(data_dir), &csr, &profile, &out).await?;
            println!("issued serial {serial} -> {}", out.display());
            Ok(())
        }
        Command::Revoke { data_dir, serial, reason } => {
            let done = cartorio_control::cli::revoke(&DataDir::new(data_dir), &serial, &reason).await?;
            println!("{done}");
            Ok(())
        }
        Command::Responder { config } => up::run_responder(&config).await,
        Command::Gateway { config } => up::run_gateway(&config).await,
        Command::Control { config } => up::run_control(&config).await,
    }
}
