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

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use hush_core::fingerprint::Fingerprint;
use hush_core::rng::os_rng;
use hush_core::{IdentityKey, IdentityKeyPair};
use hush_device::limits::{
    DEFAULT_OFFER_LIFETIME_MS, MAX_OFFER_LIFETIME_MS, MAX_SERVER_REFERENCE_LEN,
};
use hush_device::render::OfferQr;
use hush_device::{
    CompanionAssignment, CompanionLinking, Countersignature, DeviceEntry, DeviceList,
    DeviceListPolicy, KnownDeviceLists, LinkingMessage, LinkingOffer, PrimaryLinking, SeenOffers,
    SignedDeviceList,
};
use zeroize::Zeroizing;

/// Largest identity file read: the protobuf is 69 bytes.
const MAX_IDENTITY_FILE: u64 = 1024;
/// Largest state file read: a full replay set (10 243 bytes) and the largest device
/// list (948 bytes) fit with room to spare.
const MAX_STATE_FILE: u64 = 16 * 1024;
/// Longest line read from stdin: a linking message is at most 518 hex digits.
const MAX_LINE: u64 = 4096;
/// Version byte of the `--state` file.
const STATE_VERSION: u8 = 1;
/// PNG pixels per QR module.
const PNG_SCALE: u32 = 8;
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
        } => offer(
            identity.as_deref(),
            reference.as_deref(),
            lifetime_ms,
            png.as_deref(),
            svg.as_deref(),
        ),
        LinkCommand::Accept {
            payload,
            identity,
            device_id,
            state,
        } => accept(&payload, identity.as_deref(), device_id, state.as_deref()),
        LinkCommand::Demo => return demo(),
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

// ---------------------------------------------------------------------------------------
// The companion.

fn offer(
    identity: Option<&Path>,
    reference: Option<&str>,
    lifetime_ms: u64,
    png: Option<&Path>,
    svg: Option<&Path>,
) -> Result<(), Failure> {
    if lifetime_ms == 0 || lifetime_ms > MAX_OFFER_LIFETIME_MS {
        return Err(Failure::Usage(format!(
            "--lifetime-ms must be 1 to {MAX_OFFER_LIFETIME_MS}"
        )));
    }
    if reference.is_some_and(|r| r.is_empty() || r.len() > MAX_SERVER_REFERENCE_LEN) {
        return Err(Failure::Usage(format!(
            "--reference must be 1 to {MAX_SERVER_REFERENCE_LEN} bytes"
        )));
    }
    let mut rng = os_rng();
    let identity = load_identity(identity)?;
    let reference = reference.map_or_else(
        || {
            let mut bytes = [0u8; 16];
            hush_core::rng::Rng::fill_bytes(&mut rng, &mut bytes);
            hex::encode(bytes)
        },
        str::to_owned,
    );
    let linking = CompanionLinking::new(
        &mut rng,
        identity.identity_key(),
        reference.as_bytes(),
        now_ms(),
        lifetime_ms,
    )
    .map_err(|e| Failure::Usage(format!("cannot make an offer: {e}")))?;
    let qr = OfferQr::new(linking.offer()).map_err(step("QR code"))?;
    eprint!("{}", qr.render_unicode().as_str());
    eprintln!(
        "Scan this code with the primary device (QR version {}), or run there:\n  hush link accept 'PAYLOAD'\nwith the payload printed on stdout. It expires in {} s.",
        qr.version(),
        lifetime_ms / 1000
    );
    if let Some(path) = png {
        let image = qr.render_png(PNG_SCALE).map_err(step("PNG"))?;
        write_private(path, &image)
            .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = svg {
        write_private(path, qr.render_svg().as_bytes())
            .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
        eprintln!("wrote {}", path.display());
    }
    println!("{}", linking.offer().to_qr_text().as_str());
    flush_stdout();
    eprintln!("Waiting for the linking message (one line of hex) on stdin...");

    let bytes = read_hex_line("linking message")?;
    let message = LinkingMessage::decode(&bytes).map_err(step("linking message"))?;
    let (linked, countersignature) = linking
        .receive(&message, &identity, now_ms(), &mut rng)
        .map_err(step("linking message"))?;
    println!("{}", hex::encode(countersignature.encode()));
    flush_stdout();
    eprintln!(
        "linked as device {} (key index {}) of the account whose key fingerprint is\n  {}\nCompare it with the one the primary shows.",
        linked.metadata.device_id,
        linked.metadata.key_index,
        fingerprint(&linked.account_identity)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The primary.

/// What the primary keeps between runs.
struct PrimaryState {
    seen: SeenOffers,
    list: Option<SignedDeviceList>,
}

impl PrimaryState {
    fn encode(&self) -> Vec<u8> {
        let seen = self.seen.encode();
        let mut out = vec![STATE_VERSION];
        out.extend_from_slice(&u16::try_from(seen.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(&seen);
        if let Some(list) = &self.list {
            out.extend_from_slice(&list.encode());
        }
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let (&version, rest) = bytes.split_first()?;
        if version != STATE_VERSION {
            return None;
        }
        let (len, rest) = rest.split_at_checked(2)?;
        let len = usize::from(u16::from_be_bytes(len.try_into().ok()?));
        let (seen, list) = rest.split_at_checked(len)?;
        Some(Self {
            seen: SeenOffers::decode(seen).ok()?,
            list: if list.is_empty() {
                None
            } else {
                Some(SignedDeviceList::decode(list).ok()?)
            },
        })
    }

    fn load(path: Option<&Path>) -> Result<Self, Failure> {
        let empty = Self {
            seen: SeenOffers::new(),
            list: None,
        };
        let Some(path) = path else {
            return Ok(empty);
        };
        match read_bounded(path, MAX_STATE_FILE) {
            Ok(bytes) => Self::decode(&bytes).ok_or_else(|| {
                Failure::Usage(format!("{} is not a hush link state file", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(empty),
            Err(e) => Err(Failure::Usage(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    fn save(&self, path: Option<&Path>) -> Result<(), Failure> {
        let Some(path) = path else {
            return Ok(());
        };
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        write_private(&temporary, &self.encode())
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| Failure::Step(format!("cannot write {}: {e}", path.display())))
    }
}

fn accept(
    payload: &str,
    identity: Option<&Path>,
    device_id: Option<u32>,
    state_path: Option<&Path>,
) -> Result<(), Failure> {
    let offer = LinkingOffer::from_qr_text(payload).map_err(step("payload"))?;
    let mut rng = os_rng();
    let account = load_identity(identity)?;
    let mut state = PrimaryState::load(state_path)?;
    let policy = DeviceListPolicy::default();
    let mut list = match &state.list {
        Some(signed) if *signed.account_identity() != account.identity_key() => {
            return Err(Failure::Usage(
                "the state file belongs to another account key".to_owned(),
            ));
        }
        Some(signed) => DeviceList::from_signed(signed, policy),
        None => DeviceList::new(
            account.identity_key(),
            account.identity_key(),
            1,
            now_ms(),
            policy,
        ),
    };
    list.check_room().map_err(step("device list"))?;
    let assignment = CompanionAssignment {
        device_id: device_id.unwrap_or_else(|| list.next_device_id()),
        key_index: 1,
    };
    let (primary, message) = PrimaryLinking::accept(
        &offer,
        &account,
        assignment,
        &mut state.seen,
        now_ms(),
        &mut rng,
    )
    .map_err(step("offer"))?;
    // Remember the offer before anything else can fail, so it is never answered twice.
    state.save(state_path)?;
    println!("{}", hex::encode(message.encode()));
    flush_stdout();
    eprintln!(
        "Waiting for the companion's countersignature (one line of hex) on stdin... (account key fingerprint {})",
        fingerprint(&account.identity_key())
    );

    let bytes = read_hex_line("countersignature")?;
    let countersignature = Countersignature::decode(&bytes).map_err(step("countersignature"))?;
    let linked = primary
        .finish(&countersignature, now_ms())
        .map_err(step("countersignature"))?;
    list.add_companion(linked.entry)
        .map_err(step("device list"))?;
    let signed = list
        .sign(&account, now_ms(), &mut rng)
        .map_err(step("device list"))?;
    state.list = Some(signed.clone());
    state.save(state_path)?;
    let DeviceEntry {
        device_id,
        identity_key,
        key_index,
        added_at_ms,
    } = linked.entry;
    println!(
        "device-entry {device_id} {} {key_index} {added_at_ms}",
        hex::encode(identity_key.encode())
    );
    println!("device-list {}", hex::encode(signed.encode()));
    flush_stdout();
    eprintln!(
        "linked device {device_id}; the signed device list is now version {} with {} devices",
        signed.version(),
        signed.devices().len()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The demo.

/// Counts the demo's checks and prints one line per step.
#[derive(Default)]
struct Story {
    failed: usize,
}

impl Story {
    fn say(line: &str) {
        println!("  {line}");
    }

    fn check(&mut self, ok: bool, line: &str) {
        if ok {
            println!("ok    {line}");
        } else {
            self.failed += 1;
            println!("FAIL  {line}");
        }
    }

    /// Records a failed step that stops the story.
    fn stop(&mut self, line: &str, error: &hush_device::Error) -> ExitCode {
        self.failed += 1;
        println!("FAIL  {line}: {error}");
        println!("demo stopped: {} check(s) failed", self.failed);
        ExitCode::from(1)
    }
}

/// A stand-in for the server: carries bytes and says only how many.
fn relay(what: &str, bytes: Vec<u8>) -> Vec<u8> {
    Story::say(&format!(
        "relay: carried the {what} ({} bytes)",
        bytes.len()
    ));
    bytes
}

/// Some "recent history" for the hand-off: 6 000 bytes of chat lines.
fn recent_history() -> Vec<u8> {
    let mut text = String::new();
    let mut i = 0u32;
    while text.len() < 6_000 {
        text.push_str(&format!(
            "[{:02}:{:02}] alice: message {i} of the week\n",
            8 + i / 60 % 12,
            i % 60
        ));
        i += 1;
    }
    let mut bytes = text.into_bytes();
    bytes.truncate(6_000);
    bytes
}

fn demo() -> ExitCode {
    let mut story = Story::default();
    let mut rng = os_rng();
    let now = now_ms();
    println!("Alice links her new desktop to the account on her phone.");

    let account = IdentityKeyPair::generate(&mut rng);
    let desktop = IdentityKeyPair::generate(&mut rng);
    let policy = DeviceListPolicy::default();
    let mut list = DeviceList::new(
        account.identity_key(),
        account.identity_key(),
        1,
        now,
        policy,
    );
    let mut seen = SeenOffers::new();

    // 1. The desktop shows an offer.
    let companion = match CompanionLinking::new(
        &mut rng,
        desktop.identity_key(),
        b"demo-relay-ref-01",
        now,
        DEFAULT_OFFER_LIFETIME_MS,
    ) {
        Ok(c) => c,
        Err(e) => return story.stop("the desktop makes a linking offer", &e),
    };
    match OfferQr::new(companion.offer()) {
        Ok(qr) => {
            print!("{}", qr.render_unicode().as_str());
            story.check(
                qr.version() <= 9,
                &format!(
                    "the desktop shows its offer as a QR code (version {}, {} modules wide)",
                    qr.version(),
                    qr.width()
                ),
            );
        }
        Err(e) => return story.stop("the desktop draws the QR code", &e),
    }
    let payload = companion.offer().to_qr_text();

    // 2. The phone scans it.
    let offer = match LinkingOffer::from_qr_text(&payload) {
        Ok(offer) => offer,
        Err(e) => return story.stop("the phone scans the QR code", &e),
    };
    story.check(
        offer == *companion.offer(),
        &format!(
            "the phone scans the QR code ({} characters of Base45) and reads the same offer",
            payload.len()
        ),
    );
    let assignment = CompanionAssignment {
        device_id: list.next_device_id(),
        key_index: 1,
    };
    let (primary, message) = match PrimaryLinking::accept(
        &offer,
        &account,
        assignment,
        &mut seen,
        now + 2_000,
        &mut rng,
    ) {
        Ok(x) => x,
        Err(e) => return story.stop("the phone accepts the offer", &e),
    };
    story.check(
        seen.contains(&offer.id()),
        "the phone signs the desktop in with the account key and remembers the offer",
    );

    // 3. The relay carries the linking message; a forged copy is refused.
    let carried = relay("linking message", message.encode());
    let forged = carried
        .iter()
        .enumerate()
        .map(|(i, b)| if i == 40 { b ^ 1 } else { *b })
        .collect::<Vec<u8>>();
    let refused = LinkingMessage::decode(&forged).map(|m| {
        companion
            .clone()
            .receive(&m, &desktop, now + 3_000, &mut rng)
            .map(|_| ())
    });
    story.check(
        matches!(refused, Ok(Err(hush_device::Error::Tampered))),
        "a linking message the relay changed is refused as tampered",
    );
    let message = match LinkingMessage::decode(&carried) {
        Ok(m) => m,
        Err(e) => return story.stop("the desktop reads the linking message", &e),
    };
    let (linked, countersignature) =
        match companion.receive(&message, &desktop, now + 3_000, &mut rng) {
            Ok(x) => x,
            Err(e) => return story.stop("the desktop checks the linking message", &e),
        };
    story.check(
        linked.account_identity == account.identity_key(),
        &format!(
            "the desktop checks the account signature and countersigns as device {}",
            linked.metadata.device_id
        ),
    );

    // 4. The countersignature goes back; the phone adds the desktop.
    let carried = relay("countersignature", countersignature.encode());
    let added =
        match Countersignature::decode(&carried).and_then(|cs| primary.finish(&cs, now + 4_000)) {
            Ok(added) => added,
            Err(e) => return story.stop("the phone checks the countersignature", &e),
        };
    story.check(
        added.history.transcript_hash() == linked.history.transcript_hash()
            && added.entry.identity_key == desktop.identity_key(),
        "the phone checks the desktop's signature; both hold the same transcript hash",
    );
    if let Err(e) = list.add_companion(added.entry) {
        return story.stop("the phone adds the desktop to its device list", &e);
    }
    let signed = match list.sign(&account, now + 5_000, &mut rng) {
        Ok(s) => s,
        Err(e) => return story.stop("the phone signs the device list", &e),
    };
    let carried = relay("signed device list", signed.encode());

    // 5. A contact checks the list before sending.
    let mut bob = KnownDeviceLists::new(policy);
    match bob.verify(b"alice", &carried) {
        Ok(verified) => {
            let to = verified.devices_to_send(now + 6_000);
            story.check(
                to.len() == 2
                    && verified
                        .check_device(added.entry.device_id, &desktop.identity_key(), now + 6_000)
                        .is_ok(),
                &format!(
                    "Bob verifies version {} of Alice's device list and will send to {} devices",
                    verified.version(),
                    to.len()
                ),
            );
        }
        Err(e) => return story.stop("Bob verifies Alice's device list", &e),
    }

    // 6. Recent history moves to the desktop.
    let history = recent_history();
    let mut stream = Vec::new();
    let total = u64::try_from(history.len()).unwrap_or(u64::MAX);
    let sent = added.history.send(
        &mut rng,
        history.as_slice(),
        &mut stream,
        Some(total),
        |p| {
            Story::say(&format!(
                "phone: sealed {} of {} bytes of history",
                p.bytes_done,
                p.bytes_total.unwrap_or(0)
            ));
        },
    );
    if let Err(e) = sent {
        return story.stop("the phone sends recent history", &e);
    }
    let carried = relay("history stream", stream);
    let mut restored = Vec::new();
    let stream_len = u64::try_from(carried.len()).unwrap_or(u64::MAX);
    let received =
        linked
            .history
            .receive(carried.as_slice(), &mut restored, Some(stream_len), |p| {
                Story::say(&format!(
                    "desktop: opened {} of {} bytes of the stream",
                    p.bytes_done,
                    p.bytes_total.unwrap_or(0)
                ));
            });
    story.check(
        received.is_ok() && restored == history,
        &format!(
            "the desktop restores {} bytes of recent history, bound to this linking",
            restored.len()
        ),
    );

    // 7. Offers are single-use and short-lived.
    let again = PrimaryLinking::accept(
        &offer,
        &account,
        assignment,
        &mut seen,
        now + 7_000,
        &mut rng,
    );
    story.check(
        matches!(again, Err(hush_device::Error::Replayed)),
        "the same QR code scanned again is refused as replayed",
    );
    let late = CompanionLinking::new(
        &mut rng,
        desktop.identity_key(),
        b"demo-relay-ref-02",
        now,
        DEFAULT_OFFER_LIFETIME_MS,
    )
    .and_then(|c| {
        PrimaryLinking::accept(
            c.offer(),
            &account,
            CompanionAssignment {
                device_id: 3,
                key_index: 1,
            },
            &mut seen,
            now + DEFAULT_OFFER_LIFETIME_MS + 1,
            &mut rng,
        )
        .map(|_| ())
    });
    story.check(
        matches!(late, Err(hush_device::Error::Expired)),
        "an offer scanned after its 60 s lifetime is refused as expired",
    );

    if story.failed == 0 {
        println!("demo complete: every check held");
        ExitCode::SUCCESS
    } else {
        println!("demo finished: {} check(s) failed", story.failed);
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_file_round_trips_and_refuses_garbage() {
        let mut seen = SeenOffers::new();
        let mut rng = os_rng();
        let account = IdentityKeyPair::generate(&mut rng);
        let desktop = IdentityKeyPair::generate(&mut rng).identity_key();
        let companion = CompanionLinking::new(&mut rng, desktop, b"r", 1_000, 1_000).unwrap();
        seen.insert(companion.offer().id(), 2_000, 1_000).unwrap();
        let mut list = DeviceList::new(
            account.identity_key(),
            account.identity_key(),
            1,
            1_000,
            DeviceListPolicy::default(),
        );
        let signed = list.sign(&account, 1_000, &mut rng).unwrap();
        let state = PrimaryState {
            seen,
            list: Some(signed),
        };
        let bytes = state.encode();
        let back = PrimaryState::decode(&bytes).unwrap();
        assert_eq!(back.encode(), bytes);
        assert!(back.seen.contains(&companion.offer().id()));
        let empty = PrimaryState {
            seen: SeenOffers::new(),
            list: None,
        };
        assert_eq!(
            PrimaryState::decode(&empty.encode()).unwrap().encode(),
            empty.encode()
        );
        assert!(PrimaryState::decode(&[]).is_none());
        assert!(PrimaryState::decode(&[2, 0, 3, 1, 0, 0]).is_none());
        assert!(PrimaryState::decode(&bytes[..bytes.len() - 1]).is_none());
        assert!(PrimaryState::decode(&[1, 0, 9, 1, 0, 0]).is_none());
    }

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
