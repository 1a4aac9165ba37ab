//! Output files that appear under their name only when complete (issue 16, item 10).
//!
//! `hush backup decrypt` writes authenticated plaintext chunk by chunk, but OUT must
//! appear only once the whole backup has authenticated, and nothing of a failed or killed
//! restore may stay behind. A [`Staged`] file is where the output grows until then:
//!
//! - **Unnamed** (Linux, on filesystems with `O_TMPFILE`: ext4, xfs, btrfs, tmpfs, ...):
//!   the file has no name in any directory while it is written. If the process dies for
//!   any reason (an error, `kill -9`, a power cut) the kernel frees it, or the filesystem
//!   drops it as an orphan when it is next mounted; no name ever pointed at it. It gets
//!   its name by `linkat` from `/proc/self/fd/N` when committed.
//! - **Named**, the fallback where there is no `O_TMPFILE` (other systems; filesystems
//!   that refuse it, such as NFS or FAT; no `/proc`): a `.hush-partial-*` file (mode 0600)
//!   in OUT's directory, locked with `flock` while in use and deleted on any failure the
//!   process survives. After a `kill -9` or a power cut it stays until the next
//!   [`remove_stale_partials`] in that directory (every `hush backup` run does one), which
//!   deletes the partial files no live process holds locked, older versions' included.
//!
//! The disk blocks of a dropped file are freed, not overwritten: like any deleted file,
//! they may still hold plaintext until reused.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The name prefix of named staging files (and of the ones older versions left).
pub(crate) const PARTIAL_PREFIX: &str = ".hush-partial-";

/// A file being written in OUT's directory, given its name only by [`Staged::commit`].
pub(crate) struct Staged {
    inner: Inner,
}

enum Inner {
    /// An `O_TMPFILE`: no name yet.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Unnamed { file: File, dir: PathBuf },
    /// A locked `.hush-partial-*` file, deleted on drop unless persisted.
    Named(tempfile::NamedTempFile),
}

/// Who may read a staged file once it is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Mode 0600: plaintext, private keys.
    Owner,
    /// Mode 0666 less the umask, as `std::fs::write` gives: public data.
    Everyone,
}

impl Access {
    #[cfg_attr(not(unix), expect(dead_code, reason = "file modes exist on Unix only"))]
    const fn mode(self) -> u32 {
        match self {
            Self::Owner => 0o600,
            Self::Everyone => 0o666,
        }
    }
}

impl Staged {
    /// A staging file in `dir`, unnamed if the system and the filesystem allow it,
    /// otherwise named and locked.
    pub(crate) fn new(dir: &Path, access: Access) -> io::Result<Self> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(staged) = Self::unnamed(dir, access) {
            return Ok(staged);
        }
        Self::named(dir, access)
    }

    /// An `O_TMPFILE` in `dir`, if the filesystem supports it and `/proc/self/fd` is
    /// there to give it a name later; `None` otherwise (the caller falls back).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn unnamed(dir: &Path, access: Access) -> Option<Self> {
        use rustix::fs::{CWD, Mode, OFlags};
        // The kernel applies the umask to this mode, as for any new file.
        let fd = rustix::fs::openat(
            CWD,
            dir,
            OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
            Mode::from_raw_mode(access.mode()),
        )
        .ok()?;
        let file = File::from(fd);
        // The link at the end goes through /proc; without it the file could never be
        // named, so do not start.
        std::fs::metadata(proc_fd_path(&file)).ok()?;
        Some(Self {
            inner: Inner::Unnamed {
                file,
                dir: dir.to_path_buf(),
            },
        })
    }

    /// A `.hush-partial-*` file in `dir` (created exclusively), locked so that
    /// [`remove_stale_partials`] leaves it alone while this process lives.
    pub(crate) fn named(dir: &Path, access: Access) -> io::Result<Self> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(PARTIAL_PREFIX);
        #[cfg(unix)]
        if access == Access::Everyone {
            use std::os::unix::fs::PermissionsExt as _;
            builder.permissions(std::fs::Permissions::from_mode(access.mode()));
        }
        #[cfg(not(unix))]
        let _ = access;
        // Without an explicit mode tempfile creates 0600.
        let file = builder.tempfile_in(dir)?;
        // Best effort: where flock is unavailable, a concurrent cleaner could delete the
        // name, and the commit would then fail; nothing would leak.
        lock(file.as_file());
        Ok(Self {
            inner: Inner::Named(file),
        })
    }

    /// Whether the file has no name (the strong case, see the module docs).
    pub(crate) fn is_unnamed(&self) -> bool {
        match &self.inner {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Unnamed { .. } => true,
            Inner::Named(_) => false,
        }
    }

    /// The file to write to.
    pub(crate) fn file(&self) -> &File {
        match &self.inner {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Unnamed { file, .. } => file,
            Inner::Named(named) => named.as_file(),
        }
    }

    /// Syncs the file, gives it the name `target` (replacing an existing file there only
    /// if `replace`), and syncs the directory. On error nothing is named `target` by this
    /// call, and the staging file is dropped (deleted).
    pub(crate) fn commit(self, target: &Path, replace: bool) -> io::Result<()> {
        self.file().sync_all()?;
        match self.inner {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Unnamed { file, dir } => {
                if replace {
                    // linkat cannot replace: link under a fresh partial name (the inode
                    // is complete and still locked by us), then rename over the target.
                    lock(&file);
                    // A kill between the two steps leaves the complete, authenticated
                    // output under that name, unlocked: the next cleaner removes it.
                    let temporary = tempfile::Builder::new()
                        .prefix(PARTIAL_PREFIX)
                        .make_in(&dir, |path| link(&file, path))?;
                    temporary
                        .into_temp_path()
                        .persist(target)
                        .map_err(|e| e.error)?;
                } else {
                    link(&file, target)?;
                }
                sync_dir(&dir);
            }
            Inner::Named(named) => {
                let persisted = if replace {
                    named.persist(target).map(drop)
                } else {
                    named.persist_noclobber(target).map(drop)
                };
                persisted.map_err(|e| e.error)?;
                if let Some(dir) = target.parent() {
                    sync_dir(dir);
                }
            }
        }
        Ok(())
    }
}

/// `/proc/self/fd/N` for `file`: the path through which an `O_TMPFILE` is linked.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn proc_fd_path(file: &File) -> PathBuf {
    use std::os::fd::AsRawFd as _;
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Names the unnamed `file` `path`; fails with `AlreadyExists` if `path` exists.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn link(file: &File, path: &Path) -> io::Result<()> {
    use rustix::fs::{AtFlags, CWD};
    rustix::fs::linkat(CWD, proc_fd_path(file), CWD, path, AtFlags::SYMLINK_FOLLOW)
        .map_err(io::Error::from)
}

/// Takes an exclusive `flock` on `file` without waiting; failures are ignored (see
/// [`Staged::named`]).
fn lock(file: &File) {
    #[cfg(unix)]
    {
        let _ = rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive);
    }
    #[cfg(not(unix))]
    let _ = file;
}

/// Makes a rename or link in `dir` durable. Best effort: not every platform can sync a
/// directory, and the file itself is already synced.
fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let _ = File::open(dir).and_then(|d| d.sync_all());
}

/// Deletes the `.hush-partial-*` regular files in `dir` that no live process holds
/// locked: what a `hush backup` run killed by a signal or a power cut left, with this
/// version's named fallback or an older version (which did not lock; a restore of an
/// older version still running in the same directory would lose its staging file and
/// fail, leaking nothing). Symbolic links and anything that cannot be opened or locked
/// are left alone. Returns the names deleted.
pub(crate) fn remove_stale_partials(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(PARTIAL_PREFIX) {
            continue;
        }
        let path = entry.path();
        if is_stale(&path) && std::fs::remove_file(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

/// Whether `path` is a regular file (not a link) whose lock nobody holds.
#[cfg(unix)]
fn is_stale(path: &Path) -> bool {
    use rustix::fs::{CWD, FlockOperation, Mode, OFlags};
    let Ok(fd) = rustix::fs::openat(
        CWD,
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    let file = File::from(fd);
    let regular = file.metadata().is_ok_and(|m| m.is_file());
    // The lock is released when `file` closes, after the caller's unlink: by then the
    // name is gone, so no new owner can come for it.
    regular && rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive).is_ok()
}

/// Without `flock` nothing tells a live restore's file from a stale one: leave them.
#[cfg(not(unix))]
fn is_stale(_path: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// On Linux (the CI's tmp directories support `O_TMPFILE`) the staging file has no
    /// name until committed, and a dropped one leaves nothing.
    #[cfg(target_os = "linux")]
    #[test]
    fn unnamed_files_have_no_name_until_committed() {
        let dir = tempfile::tempdir().unwrap();
        let staged = Staged::new(dir.path(), Access::Owner).unwrap();
        if !staged.is_unnamed() {
            // The fallback is tested below; nothing to check here.
            eprintln!("note: no O_TMPFILE under {}", dir.path().display());
            return;
        }
        staged.file().write_all(b"secret").unwrap();
        assert!(names(dir.path()).is_empty());
        drop(staged);
        assert!(names(dir.path()).is_empty());

        let staged = Staged::new(dir.path(), Access::Owner).unwrap();
        staged.file().write_all(b"complete").unwrap();
        let out = dir.path().join("out");
        staged.commit(&out, false).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"complete");
        assert_eq!(names(dir.path()), ["out"]);

        // Without `replace` an existing file stays; with it, it is replaced, and no
        // partial name is left either way.
        let staged = Staged::new(dir.path(), Access::Owner).unwrap();
        staged.file().write_all(b"second").unwrap();
        let refused = staged.commit(&out, false).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&out).unwrap(), b"complete");
        let staged = Staged::new(dir.path(), Access::Owner).unwrap();
        staged.file().write_all(b"third").unwrap();
        staged.commit(&out, true).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"third");
        assert_eq!(names(dir.path()), ["out"]);
    }

    /// The fallback: a named partial file, deleted when dropped, and never taken for a
    /// stale one while it is in use.
    #[cfg(unix)]
    #[test]
    fn named_partials_are_locked_while_in_use_and_stale_ones_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let staged = Staged::named(dir.path(), Access::Owner).unwrap();
        assert!(!staged.is_unnamed());
        staged.file().write_all(b"in use").unwrap();
        let [name] = names(dir.path()).try_into().unwrap();
        assert!(name.starts_with(PARTIAL_PREFIX));

        // A stale partial (as a killed restore, or an older version, left it), a link
        // named like one, and an unrelated file.
        std::fs::write(dir.path().join(".hush-partial-stale"), b"plaintext").unwrap();
        std::fs::write(dir.path().join("keep.txt"), b"mine").unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("keep.txt"),
            dir.path().join(".hush-partial-link"),
        )
        .unwrap();
        let removed = remove_stale_partials(dir.path());
        assert_eq!(removed, [dir.path().join(".hush-partial-stale")]);
        let mut expected = vec![name.clone(), ".hush-partial-link".into(), "keep.txt".into()];
        expected.sort();
        assert_eq!(names(dir.path()), expected);

        // Dropped without a commit: deleted.
        drop(staged);
        assert!(!dir.path().join(&name).exists());
        assert_eq!(std::fs::read(dir.path().join("keep.txt")).unwrap(), b"mine");
    }
}
