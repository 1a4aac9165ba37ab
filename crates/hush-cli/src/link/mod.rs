//! `hush link offer`, `hush link accept PAYLOAD` and `hush link demo`: linking a
//! companion device to an account (`docs/wire/linking.md`, `docs/wire/device-list.md`).
//!
//! The two real commands talk through stdin and stdout, one line each way, so that any
//! relay (a pipe, a chat window, copy and paste) can carry them:
//!
//! ```text
//! hush link offer                          hush link accept PAYLOAD
//!   stdout: PAYLOAD (Base45 QR text) ───────▶ argument
//!   stdin:  linking message (hex)    ◀─────── stdout
//!   stdout: countersignature (hex)   ───────▶ stdin
//!                                            stdout: device-entry ..., device-list HEX
//! ```
//!
//! Pictures, prompts and summaries go to stderr, so stdout stays machine-readable. Exit
//! status 0 on success, 1 if a step failed (a bad payload or message included), 2 for a
//! usage problem (bad arguments, unreadable identity or state file).
//!
//! The primary's `--state FILE` (mode 0600 on Unix) holds what must survive between runs:
//!
//! ```text
//! 0x01 || seen-offers length (u16 BE) || SeenOffers bytes || last signed device list (or nothing)
//! ```

mod companion;
mod demo;
mod primary;

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use hush_core::fingerprint::Fingerprint;
use hush_core::rng::os_rng;
use hush_core::{IdentityKey, IdentityKeyPair};
use hush_device::limits::DEFAULT_OFFER_LIFETIME_MS;
use zeroize::Zeroizing;

/// Largest identity file read: the protobuf is 69 bytes.
const MAX_IDENTITY_FILE: u64 = 1024;
/// Longest line read from stdin: a linking message is at most 518 hex digits.
const MAX_LINE: u64 = 4096;
/// Iterations of the safety-number hash used for the key fingerprints shown.
const FINGERPRINT_ITERATIONS: u32 = 5200;

/// `hush link ...`
#[derive(Subcommand, Debug)]
pub(crate) enum LinkCommand {
    /// Companion: show a linking offer as a QR code, then countersign the primary's answer.
    ///
    /// Prints the QR payload (Base45 text) as the first line of stdout and the QR code on
    /// stderr, then reads ONE line from stdin: the primary's linking message in hex.
    /// Prints the countersignature in hex on stdout for the primary. Exit status 1 if a
    /// step fails, 2 for bad arguments or files.
    Offer {
        /// This device's identity key pair (libsignal's IdentityKeyPair protobuf).
        /// Without it a fresh identity is used (and not saved).
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
        /// The server reference to put in the offer, 1 to 64 bytes of text (default: 16
        /// random bytes in hex).
        #[arg(long, value_name = "TEXT")]
        reference: Option<String>,
        /// How long the offer stays valid, in milliseconds (at most 600000).
        #[arg(long, value_name = "N", default_value_t = DEFAULT_OFFER_LIFETIME_MS)]
        lifetime_ms: u64,
        /// Also write the QR code as a PNG image (it shows the linking secret).
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
        /// Also write the QR code as an SVG image (it shows the linking secret).
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
    /// Primary: accept a scanned offer and add the companion to the signed device list.
    ///
    /// Prints the linking message in hex on stdout, then reads ONE line from stdin: the
    /// companion's countersignature in hex. Prints the new device entry (`device-entry ID
    /// KEY KEY-INDEX ADDED-AT-MS`) and the signed device list (`device-list HEX`) on
    /// stdout. Exit status 1 if a step fails, 2 for bad arguments or files.
    Accept {
        /// The QR payload (Base45 text) the companion shows. Quote it: Base45 uses spaces
        /// and may start with `-`, which is read as part of the payload, not as an option.
        #[arg(allow_hyphen_values = true)]
        payload: String,
        /// The account identity key pair (libsignal's IdentityKeyPair protobuf); it also
        /// serves as the primary device's key. Without it a fresh identity is used (and
        /// not saved).
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
        /// The account's user id (1 to 64 bytes), signed into the linking: the companion
        /// becomes a device of this user, and every device on the list consents to it.
        #[arg(long, value_name = "NAME", default_value = "me")]
        user: String,
        /// The device id to give the companion (default: the next free one).
        #[arg(long, value_name = "N")]
        device_id: Option<u32>,
        /// Where the primary keeps its device list and the offers it has answered, so a
        /// replayed offer is refused across runs (default: memory only).
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
    },
    /// Both roles in one process, with a stand-in relay and a contact; checks every step.
    Demo,
}

/// Runs a `hush link` command.
pub(crate) fn run(command: LinkCommand) -> ExitCode {
    let result = match command {
        LinkCommand::Offer {
            identity,
            reference,
            lifetime_ms,
            png,
            svg,
        } => companion::offer(
            identity.as_deref(),
            reference.as_deref(),
            lifetime_ms,
            png.as_deref(),
            svg.as_deref(),
        ),
        LinkCommand::Accept {
            payload,
            identity,
            user,
            device_id,
            state,
        } => primary::accept(
            &payload,
            identity.as_deref(),
            &user,
            device_id,
            state.as_deref(),
        ),
        LinkCommand::Demo => return demo::demo(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(what)) => {
            eprintln!("hush: {what}");
            ExitCode::from(2)
        }
        Err(Failure::Step(what)) => {
            eprintln!("hush: {what}");
            ExitCode::from(1)
        }
    }
}

/// Why a command stopped: one line for stderr.
enum Failure {
    /// Bad arguments or files: exit 2.
    Usage(String),
    /// A linking step failed: exit 1.
    Step(String),
}

fn step(what: &str) -> impl FnOnce(hush_device::Error) -> Failure + '_ {
    move |e| Failure::Step(format!("{what}: {e}"))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Reads at most `limit + 1` bytes, so an oversized file is noticed without reading it all.
fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Writes `bytes` to `path` (replacing it), readable only by the owner on Unix.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

fn load_identity(path: Option<&Path>) -> Result<IdentityKeyPair, Failure> {
    let Some(path) = path else {
        eprintln!("using a fresh identity key pair (not saved; pass --identity FILE to keep one)");
        return Ok(IdentityKeyPair::generate(&mut os_rng()));
    };
    let bytes = Zeroizing::new(
        read_bounded(path, MAX_IDENTITY_FILE)
            .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?,
    );
    IdentityKeyPair::decode(&bytes).map_err(|e| {
        Failure::Usage(format!(
            "{} is not an identity key pair: {e}",
            path.display()
        ))
    })
}

/// The 30 safety-number digits of one identity key, in groups of five: what both devices
/// show so the user can compare them.
fn fingerprint(key: &IdentityKey) -> String {
    Fingerprint::new(2, FINGERPRINT_ITERATIONS, b"", key, b"", key).map_or_else(
        |_| "(unavailable)".to_owned(),
        |f| {
            let digits = f.displayable().local_digits().as_bytes();
            digits
                .chunks(5)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}

/// Reads one line from stdin (at most [`MAX_LINE`] bytes) and decodes it as hex.
fn read_hex_line(what: &str) -> Result<Vec<u8>, Failure> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take(MAX_LINE)
        .read_line(&mut line)
        .map_err(|e| Failure::Step(format!("cannot read the {what} from stdin: {e}")))?;
    let line = line.trim();
    if line.is_empty() {
        return Err(Failure::Step(format!("no {what} on stdin")));
    }
    hex::decode(line).map_err(|_| Failure::Step(format!("the {what} is not hex")))
}

fn flush_stdout() {
    let _ = std::io::stdout().flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_thirty_digits_in_groups_of_five() {
        let key = IdentityKeyPair::generate(&mut os_rng()).identity_key();
        let shown = fingerprint(&key);
        assert_eq!(shown.len(), 35, "{shown}");
        assert!(
            shown
                .split(' ')
                .all(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_digit()))
        );
        assert_eq!(shown, fingerprint(&key));
    }
}
