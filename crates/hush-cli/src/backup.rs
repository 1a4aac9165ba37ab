//! `hush backup keygen`, `hush backup encrypt` and `hush backup decrypt`: encrypted
//! backups from the command line (format in `docs/wire/backup.md`).
//!
//! - The key is given as its 64-character recovery code, with `--key CODE` or, to keep it
//!   out of the process list and shell history, `--key-file FILE` (the code on the
//!   file's first line).
//! - Output grows in a staging file in `OUT`'s directory and gets the name `OUT` only when
//!   the whole stream has been written (encrypt) or authenticated (decrypt); see
//!   [`crate::staging`]. On Linux, where `OUT`'s filesystem has `O_TMPFILE`, the staging
//!   file has no name at all until then, so no plaintext file of an unfinished restore
//!   exists under any name, even after `kill -9` or a power cut. Elsewhere it is a
//!   `.hush-partial-*` file (mode 0600): deleted on any failure the process survives, and
//!   after a kill or a power cut by the next `hush backup` run in that directory, which
//!   removes every such file no running restore holds (older versions' too) and says so.
//! - On a terminal, a progress bar runs on stderr. Every error is one line on stderr;
//!   exit status 1 for a failed operation, 2 for bad arguments.

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use hush_backup::{BackupKey, Decryptor, Encryptor, Progress, RecoveryCode};
use hush_core::rng::os_rng;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::staging::{self, Access, Staged, remove_stale_partials};

/// Largest key file read: a recovery code with spaces and a newline is under 100 bytes.
const MAX_KEY_FILE: u64 = 4096;

/// `hush backup ...`
#[derive(Subcommand, Debug)]
pub(crate) enum BackupCommand {
    /// Make a new backup key and print its recovery code (alone on stdout; advice on
    /// stderr).
    Keygen,
    /// Encrypt IN into the backup OUT.
    Encrypt {
        /// The file to back up.
        input: PathBuf,
        /// Where to write the backup (refused if it exists, unless --force).
        output: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        /// Chunk size in bytes (default 64 KiB; see docs/wire/backup.md for the bounds).
        #[arg(long, value_name = "BYTES")]
        chunk_size: Option<u32>,
        /// Replace OUT if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Decrypt the backup IN into OUT, which appears only if every byte authenticated.
    ///
    /// Until then the plaintext grows in an unnamed file (Linux, most local filesystems),
    /// which vanishes with the process whatever stops it; elsewhere in a .hush-partial-*
    /// file beside OUT, deleted on failure, or by the next run in that directory if the
    /// process was killed.
    Decrypt {
        /// The backup file.
        input: PathBuf,
        /// Where to write the restored file (refused if it exists, unless --force).
        output: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        /// Replace OUT if it exists.
        #[arg(long)]
        force: bool,
    },
}

/// Where the recovery code comes from.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub(crate) struct KeyArgs {
    /// The recovery code (64 characters; case, spaces and dashes do not matter).
    #[arg(long, value_name = "CODE")]
    key: Option<String>,
    /// A file whose first line is the recovery code.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
}

/// Runs a `hush backup` command.
pub(crate) fn run(command: BackupCommand) -> ExitCode {
    let outcome = match command {
        BackupCommand::Keygen => {
            keygen();
            Ok(())
        }
        BackupCommand::Encrypt {
            input,
            output,
            key,
            chunk_size,
            force,
        } => load_key(&key).and_then(|key| encrypt(&key, &input, &output, chunk_size, force)),
        BackupCommand::Decrypt {
            input,
            output,
            key,
            force,
        } => load_key(&key).and_then(|key| decrypt(&key, &input, &output, force)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("hush: {}", failure.message);
            ExitCode::from(failure.status)
        }
    }
}

/// A one-line error and the exit status that goes with it.
struct Failure {
    message: String,
    status: u8,
}

impl Failure {
    fn usage(message: String) -> Self {
        Self { message, status: 2 }
    }

    fn failed(message: String) -> Self {
        Self { message, status: 1 }
    }
}

fn keygen() {
    let key = BackupKey::generate(&mut os_rng());
    eprintln!(
        "New backup key {}. Its recovery code is the only way to restore:",
        key.id()
    );
    eprintln!("write it down and keep it offline; anyone holding it can read the backups.");
    println!("{}", key.recovery_code().to_grouped_string().as_str());
}

fn load_key(args: &KeyArgs) -> Result<BackupKey, Failure> {
    let code = match (&args.key, &args.key_file) {
        (Some(code), _) => RecoveryCode::parse(code),
        (None, Some(path)) => {
            let mut text = String::new();
            File::open(path)
                .and_then(|file| file.take(MAX_KEY_FILE).read_to_string(&mut text))
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
            let first_line = zeroize::Zeroizing::new(text);
            RecoveryCode::parse(first_line.lines().next().unwrap_or_default())
        }
        (None, None) => return Err(Failure::usage("give --key or --key-file".to_owned())),
    };
    code.map(|code| BackupKey::from_recovery_code(&code))
        .map_err(|e| Failure::usage(recovery_code_problem(&e)))
}

/// What is wrong with a recovery code, for a person: positions count from 1.
fn recovery_code_problem(error: &hush_backup::Error) -> String {
    match error {
        hush_backup::Error::RecoveryCodeCharacter { position } => format!(
            "recovery code: character {} is not one a code uses (0-9 and A-Z without U)",
            position.saturating_add(1)
        ),
        hush_backup::Error::RecoveryCodeTypo => "recovery code: it has a typo (a wrong or \
             swapped character); check it group by group"
            .to_owned(),
        other => format!("recovery code: {other}"),
    }
}

/// A progress bar on stderr when it is a terminal, hidden otherwise.
fn progress_bar(total: Option<u64>) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::no_length(),
    };
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style);
        }
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

/// A staging file in `output`'s directory (see [`crate::staging`]), after removing the
/// partial files killed runs left there.
fn staging_file(output: &Path, force: bool) -> Result<Staged, Failure> {
    if !force && output.exists() {
        return Err(Failure::usage(format!(
            "{} exists (use --force to replace it)",
            output.display()
        )));
    }
    let dir = match output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    for stale in remove_stale_partials(&dir) {
        eprintln!(
            "hush: removed {}, a partial file left by a hush backup run that was killed",
            stale.display()
        );
    }
    Staged::new(&dir, Access::Owner)
        .map_err(|e| Failure::failed(format!("cannot create a file in {}: {e}", dir.display())))
}

fn commit(staged: Staged, output: &Path, force: bool) -> Result<(), Failure> {
    staged
        .commit(output, force)
        .map_err(|e| Failure::failed(format!("cannot write {}: {e}", output.display())))
}

fn open_input(input: &Path) -> Result<(File, u64), Failure> {
    let file = File::open(input)
        .map_err(|e| Failure::failed(format!("cannot read {}: {e}", input.display())))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((file, len))
}

fn encrypt(
    key: &BackupKey,
    input: &Path,
    output: &Path,
    chunk_size: Option<u32>,
    force: bool,
) -> Result<(), Failure> {
    let (reader, len) = open_input(input)?;
    let staged = staging_file(output, force)?;
    let bar = progress_bar(Some(len));
    let mut encryptor = Encryptor::new(key)
        .total_len(len)
        .progress(|p: Progress| bar.set_position(p.bytes_done));
    if let Some(size) = chunk_size {
        encryptor = encryptor
            .chunk_size(size)
            .map_err(|e| Failure::usage(format!("--chunk-size {size}: {e}")))?;
    }
    let mut writer = BufWriter::new(staged.file());
    let summary = encryptor
        .encrypt(&mut os_rng(), BufReader::new(reader), &mut writer)
        .map_err(|e| Failure::failed(format!("backup failed: {e}")))?;
    writer
        .flush()
        .map_err(|e| Failure::failed(format!("cannot write {}: {e}", output.display())))?;
    drop(writer);
    bar.finish_and_clear();
    commit(staged, output, force)?;
    eprintln!(
        "encrypted {} bytes into {} ({} chunks, backup key {})",
        summary.plaintext_bytes,
        output.display(),
        summary.chunks,
        summary.backup_id
    );
    Ok(())
}

fn decrypt(key: &BackupKey, input: &Path, output: &Path, force: bool) -> Result<(), Failure> {
    let (reader, len) = open_input(input)?;
    let staged = staging_file(output, force)?;
    if !staged.is_unnamed() {
        eprintln!(
            "hush: {}'s filesystem has no unnamed files: until the restore ends, its \
             plaintext grows in a {}* file there (removed on failure, or by the next run if \
             this one is killed)",
            output.display(),
            staging::PARTIAL_PREFIX
        );
    }
    let bar = progress_bar(Some(len));
    let mut writer = BufWriter::new(staged.file());
    // On failure `staged` is dropped: an unnamed file vanishes, a named one is deleted.
    // Chunks that did authenticate before the failure never reach OUT.
    let summary = Decryptor::new(key)
        .total_len(len)
        .progress(|p: Progress| bar.set_position(p.bytes_done))
        .decrypt(BufReader::new(reader), &mut writer)
        .map_err(|e| Failure::failed(format!("restore failed, nothing written: {e}")))?;
    writer
        .flush()
        .map_err(|e| Failure::failed(format!("cannot write {}: {e}", output.display())))?;
    drop(writer);
    bar.finish_and_clear();
    commit(staged, output, force)?;
    eprintln!(
        "restored {} bytes into {}",
        summary.plaintext_bytes,
        output.display()
    );
    Ok(())
}
