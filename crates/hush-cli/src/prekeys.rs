//! `hush prekeys generate` and `hush prekeys validate`: the client's and the server's
//! side of a prekey upload, from the command line.
//!
//! Files (formats in `docs/wire/prekeys.md`):
//!
//! - the upload: `PreKeyUpload` v1 (version byte `0x01`, then protobuf);
//! - the private keys: `PreKeyRecordSet` v1, written next to the upload as
//!   `<output>.private` unless `--private-keys` names another file (mode 0600 on Unix);
//! - the identity: libsignal's `IdentityKeyPair` protobuf, read from `--identity FILE`,
//!   or made fresh and written as `<output>.identity`.
//!
//! `generate` never replaces a file and never leaves a partial set: every output is
//! checked before anything is generated (exit 2 if one exists or two name the same
//! file), each is written to a staging file beside it and synced (unnamed where the
//! filesystem allows it, so a killed run leaves no private key behind; see
//! [`crate::staging`]), and only then are they named, without replacing anything (private
//! keys and identity first, the upload last, so an upload on disk always has its private
//! keys). If naming one fails (a file appeared meanwhile), the outputs already named are
//! removed again.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use hush_core::rng::os_rng;
use hush_core::{IdentityKey, IdentityKeyPair};
use hush_prekey::limits::MAX_RECORDS_PER_KIND;

use crate::staging::{Access, Staged, remove_stale_partials};
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

/// One output of `generate`: where it goes, what it holds, and whether only the owner
/// may read it.
struct Output<'a> {
    path: PathBuf,
    bytes: &'a [u8],
    private: bool,
}

/// Refuses (exit 2) if two outputs name the same file or one already exists; nothing has
/// been written yet.
fn check_outputs(paths: &[&Path]) -> Result<(), String> {
    let mut seen: Vec<PathBuf> = Vec::new();
    for path in paths {
        let absolute = std::path::absolute(path)
            .map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
        if seen.contains(&absolute) {
            return Err(format!("{} is named twice as an output", path.display()));
        }
        seen.push(absolute);
        // symlink_metadata: a dangling symbolic link is a file we would replace too.
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(format!(
                "{} exists; prekeys generate never replaces a file (move it away or choose \
                 another name)",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Writes every output to a staging file in its directory (unnamed where the filesystem
/// allows it, see [`crate::staging`]), then names them in order without replacing
/// anything. On failure nothing of this run is left behind: staging files are dropped,
/// and outputs already named are removed.
fn write_all_or_nothing(outputs: &[Output<'_>]) -> Result<(), String> {
    use std::io::Write as _;
    let mut staged = Vec::with_capacity(outputs.len());
    for output in outputs {
        let dir = match output.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        for stale in remove_stale_partials(&dir) {
            eprintln!(
                "hush: removed {}, a partial file left by a hush run that was killed",
                stale.display()
            );
        }
        let access = if output.private {
            Access::Owner
        } else {
            Access::Everyone
        };
        let file = Staged::new(&dir, access)
            .map_err(|e| format!("cannot create a file in {}: {e}", dir.display()))?;
        file.file()
            .write_all(output.bytes)
            .map_err(|e| format!("cannot write {}: {e}", output.path.display()))?;
        staged.push((file, &output.path));
    }
    let mut placed: Vec<&Path> = Vec::with_capacity(staged.len());
    for (file, path) in staged {
        if let Err(e) = file.commit(path, false) {
            for done in placed {
                let _ = std::fs::remove_file(done);
            }
            return Err(format!("cannot write {}: {e}", path.display()));
        }
        placed.push(path);
    }
    Ok(())
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
    let private_path =
        private_keys.map_or_else(|| with_suffix(output, ".private"), Path::to_path_buf);
    let identity_output = identity_path
        .is_none()
        .then(|| with_suffix(output, ".identity"));
    let mut paths = vec![output, private_path.as_path()];
    paths.extend(identity_output.as_deref());
    if let Err(message) = check_outputs(&paths) {
        eprintln!("hush: {message}");
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
        None => IdentityKeyPair::generate(&mut rng),
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
    let records_bytes = records.encode();
    let identity_bytes = identity.encode();
    // The upload last: whatever happens, an upload on disk has its private keys.
    let mut outputs = vec![Output {
        path: private_path.clone(),
        bytes: &records_bytes,
        private: true,
    }];
    if let Some(path) = &identity_output {
        outputs.push(Output {
            path: path.clone(),
            bytes: &identity_bytes,
            private: true,
        });
    }
    outputs.push(Output {
        path: output.to_path_buf(),
        bytes: &upload_bytes,
        private: false,
    });
    if let Err(message) = write_all_or_nothing(&outputs) {
        eprintln!("hush: {message}");
        return ExitCode::from(1);
    }
    if let Some(path) = &identity_output {
        println!("wrote new identity to {}", path.display());
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
