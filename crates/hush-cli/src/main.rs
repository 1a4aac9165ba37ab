//! `hush`: the command line of the hush libraries.
//!
//! - `hush demo`: a short story that runs the libraries for real and checks itself.
//! - `hush backup keygen | encrypt IN OUT --key CODE | decrypt IN OUT --key CODE`:
//!   encrypted backups (`docs/wire/backup.md`).
//! - `hush link offer | accept PAYLOAD | demo`: device linking (`docs/wire/linking.md`).
//! - `hush interop-peer [--spqr required|allowed|off]`: one party of the interop driver's
//!   conversations (`../shared/interop/PROTOCOL.md`).
//! - `hush vectors check DIR...`: runs every recognised vector file in each directory
//!   against hush's own code and ends with `N passed, N failed`.
//! - `hush vectors generate DIR`: writes hush's own vectors for its own formats.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod backup;
mod demo;
mod interop;
mod link;
mod prekeys;
mod staging;
mod vectors;

#[derive(Parser, Debug)]
#[command(
    name = "hush",
    version,
    about = "Signal-protocol end-to-end encryption, wire-compatible with libsignal"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Play a short story with real keys and check every step.
    Demo,
    /// Speak the interop peer protocol (JSON lines on stdin/stdout).
    InteropPeer {
        /// The post-quantum ratchet (SPQR) policy of every session: `required` (libsignal
        /// v0.101), `allowed` (also peers without SPQR) or `off` (libsignal v0.91 without
        /// SPQR).
        #[arg(long, value_enum, default_value_t = SpqrArg::Required)]
        spqr: SpqrArg,
    },
    /// Prekeys: generate an upload, or validate one as a server would.
    Prekeys {
        #[command(subcommand)]
        command: prekeys::PrekeysCommand,
    },
    /// Encrypted backups: make a key, encrypt a file, restore it.
    Backup {
        #[command(subcommand)]
        command: backup::BackupCommand,
    },
    /// Link a device: show an offer as a QR code (companion) or accept one (primary).
    Link {
        #[command(subcommand)]
        command: link::LinkCommand,
    },
    /// Conformance vectors.
    Vectors {
        #[command(subcommand)]
        command: VectorsCommand,
    },
}

/// `--spqr` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum SpqrArg {
    /// Sessions run SPQR and peers without it are refused.
    Required,
    /// Sessions offer SPQR and accept peers without it.
    Allowed,
    /// Sessions run no SPQR.
    Off,
}

impl From<SpqrArg> for hush_ratchet::SpqrPolicy {
    fn from(arg: SpqrArg) -> Self {
        match arg {
            SpqrArg::Required => Self::Required,
            SpqrArg::Allowed => Self::Allowed,
            SpqrArg::Off => Self::Off,
        }
    }
}

#[derive(Subcommand, Debug)]
enum VectorsCommand {
    /// Run every recognised vector file in each directory.
    Check {
        /// Directories holding vector files.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Write hush's own vectors for its own formats into DIR.
    Generate {
        /// Output directory (normally `test-vectors/`).
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => demo::run(),
        Command::InteropPeer { spqr } => interop::run(spqr.into()),
        Command::Prekeys { command } => prekeys::run(command),
        Command::Backup { command } => backup::run(command),
        Command::Link { command } => link::run(command),
        Command::Vectors {
            command: VectorsCommand::Check { dirs },
        } => vectors::check(&dirs),
        Command::Vectors {
            command: VectorsCommand::Generate { dir },
        } => vectors::generate(&dir),
    }
}
