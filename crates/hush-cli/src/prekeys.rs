//! `hush prekeys generate` and `hush prekeys validate`: the client's and the server's
//! side of a prekey upload, from the command line.
//!
//! Files (formats in `docs/wire/prekeys.md`):
//!
//! - the upload: `PreKeyUpload` v1 (version byte `0x01`, then protobuf);
//! - the private keys: `PreKeyRecordSet` v1, written next to the upload as
//!   `<output>.private` unless `--private-keys` names another file (mode 0600 on Unix);
//! - the identity: libsignal's `IdentityKeyPair` protobuf, read from `--identity FILE`,
//!   or made fresh and written as `<output>.identity` (never over an existing file).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use hush_core::rng::os_rng;
use hush_core::{IdentityKey, IdentityKeyPair};
use hush_prekey::limits::MAX_RECORDS_PER_KIND;
use hush_prekey::{
    GenerateRequest, PreKeyIdAllocator, UploadError, UploadPolicy, generate_prekeys, upload_for,
    validate_upload,
};

/// Largest identity file read: the protobuf is 69 bytes.
const MAX_IDENTITY_FILE: u64 = 1024;

/// `hush prekeys ...`
#[derive(Subcommand, Debug)]
pub(crate) enum PrekeysCommand {
    /// Make a signed prekey, one-time EC prekeys, signed Kyber1024 prekeys and a
    /// last-resort Kyber1024 prekey; write the upload, and the private keys to a
    /// separate file.
    Generate {
        /// How many one-time EC prekeys.
        #[arg(long, default_value_t = 100)]
        one_time: usize,
        /// How many one-time Kyber1024 prekeys.
        #[arg(long, default_value_t = 100)]
        kyber: usize,
        /// The identity key pair (libsignal's IdentityKeyPair protobuf). Without it a new
        /// identity is made and written to `<output>.identity`.
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
        /// Where to write the upload.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Where to write the private keys (default `<output>.private`).
        #[arg(long, value_name = "FILE")]
        private_keys: Option<PathBuf>,
        /// The keys' timestamp, in milliseconds since the Unix epoch (default: now).
        #[arg(long)]
        now_ms: Option<u64>,
    },
    /// Validate an upload as a server would. Prints `valid` and a summary (exit 0), or
    /// one line per problem (exit 1); exit 2 if the input cannot be read.
    Validate {
        /// The upload file.
        upload: PathBuf,
        /// The account's identity key: 33 bytes in hex (`05...`).
        #[arg(long, value_name = "HEX")]
        identity_key: String,
        /// The server's clock, in milliseconds since the Unix epoch (default: now).
        #[arg(long)]
        now_ms: Option<u64>,
    },
}

/// Runs a `hush prekeys` command.
pub(crate) fn run(command: PrekeysCommand) -> ExitCode {
    match command {
        PrekeysCommand::Generate {
            one_time,
            kyber,
            identity,
            output,
            private_keys,
            now_ms,
        } => generate(
            one_time,
            kyber,
            identity.as_deref(),
            &output,
            private_keys.as_deref(),
            now_ms,
        ),
        PrekeysCommand::Validate {
            upload,
            identity_key,
            now_ms,
        } => validate(&upload, &identity_key, now_ms),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Reads at most `limit + 1` bytes, so that an oversized file is noticed without
/// reading all of it.
fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Writes `bytes` to a new file (never over an existing one), readable only by the owner
/// on Unix.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

/// `hush prekeys generate`.
pub(crate) fn generate(
    one_time: usize,
    kyber: usize,
    identity_path: Option<&Path>,
    output: &Path,
    private_keys: Option<&Path>,
    now: Option<u64>,
) -> ExitCode {
    if one_time > MAX_RECORDS_PER_KIND || kyber > MAX_RECORDS_PER_KIND {
        eprintln!("hush: at most {MAX_RECORDS_PER_KIND} keys of a kind per batch");
        return ExitCode::from(2);
    }
    let mut rng = os_rng();
    let identity = match identity_path {
        Some(path) => match read_bounded(path, MAX_IDENTITY_FILE) {
            Ok(bytes) => match IdentityKeyPair::decode(&bytes) {
                Ok(identity) => identity,
                Err(e) => {
                    eprintln!("hush: {} is not an identity key pair: {e}", path.display());
                    return ExitCode::from(2);
                }
            },
            Err(e) => {
                eprintln!("hush: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => {
            let identity = IdentityKeyPair::generate(&mut rng);
            let path = with_suffix(output, ".identity");
            if let Err(e) = write_private(&path, &identity.encode()) {
                eprintln!("hush: cannot write {}: {e}", path.display());
                return ExitCode::from(1);
            }
            println!("wrote new identity to {}", path.display());
            identity
        }
    };

    let mut request = GenerateRequest::default();
    request.one_time_prekeys = one_time;
    request.kem_prekeys = kyber;
    // A random start, as a fresh install does, so separate runs do not reuse ids.
    let mut ids = PreKeyIdAllocator::with_random_start(&mut rng);
    let records = match generate_prekeys(
        &identity,
        &mut ids,
        &request,
        now.unwrap_or_else(now_ms),
        &mut rng,
    ) {
        Ok(records) => records,
        Err(e) => {
            eprintln!("hush: {e}");
            return ExitCode::from(1);
        }
    };
    let upload = upload_for(&identity, &records);
    let upload_bytes = upload.encode();
    if let Err(e) = std::fs::write(output, &upload_bytes) {
        eprintln!("hush: cannot write {}: {e}", output.display());
        return ExitCode::from(1);
    }
    let private_path =
        private_keys.map_or_else(|| with_suffix(output, ".private"), Path::to_path_buf);
    if let Err(e) = write_private(&private_path, &records.encode()) {
        eprintln!("hush: cannot write {}: {e}", private_path.display());
        return ExitCode::from(1);
    }
    println!(
        "wrote upload to {} ({} bytes)",
        output.display(),
        upload_bytes.len()
    );
    println!("wrote private keys to {}", private_path.display());
    println!(
        "signed prekey id {}, {} one-time prekeys, {} Kyber1024 prekeys, last-resort Kyber1024 prekey id {}",
        upload.signed_prekey().map_or(0, |k| k.id()),
        upload.one_time_prekeys().len(),
        upload.kem_prekeys().len(),
        upload.last_resort_kem_prekey().map_or(0, |k| k.id()),
    );
    println!(
        "identity key {}",
        hex::encode(identity.identity_key().encode())
    );
    ExitCode::SUCCESS
}

/// `hush prekeys validate`.
pub(crate) fn validate(upload_path: &Path, identity_key_hex: &str, now: Option<u64>) -> ExitCode {
    let identity_key = match hex::decode(identity_key_hex.trim())
        .map_err(|e| e.to_string())
        .and_then(|bytes| IdentityKey::decode(&bytes).map_err(|e| e.to_string()))
    {
        Ok(key) => key,
        Err(e) => {
            eprintln!("hush: --identity-key is not a 33-byte identity key in hex: {e}");
            return ExitCode::from(2);
        }
    };
    let policy = UploadPolicy::default();
    let limit = u64::try_from(policy.max_upload_bytes).unwrap_or(u64::MAX);
    let bytes = match read_bounded(upload_path, limit) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("hush: cannot read {}: {e}", upload_path.display());
            return ExitCode::from(2);
        }
    };
    match validate_upload(
        &identity_key,
        &bytes,
        &policy,
        now.unwrap_or_else(now_ms),
        &mut os_rng(),
    ) {
        Ok(upload) => {
            println!("valid: {upload}");
            ExitCode::SUCCESS
        }
        Err(UploadError::Rejected { problems }) => {
            for problem in &problems {
                println!("{problem}");
            }
            ExitCode::from(1)
        }
        Err(UploadError::TooLarge { limit, .. }) => {
            println!("upload is larger than the limit of {limit} bytes");
            ExitCode::from(1)
        }
        Err(error) => {
            println!("{error}");
            ExitCode::from(1)
        }
    }
}
