//! The file-system side of the watched folder: one walk of `{watch_dir}` per round
//! (blocking; run it on the blocking pool), the in-memory record of what each file
//! looked like before ([`Tracker`]: a file is taken once its size and modification time
//! stayed the same for `ingest.stable_secs`), and moving a file aside into `.done/` or
//! `.failed/` keeping its relative path.
//!
//! Polling only (no inotify), so the watched directory may be a network mount.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where imported files go (with `ingest.after = "move"`), inside a handle's folder.
pub const DONE_DIR: &str = ".done";
/// Where files that could not be taken go, inside a handle's folder (or the watched
/// directory itself for files of no account).
pub const FAILED_DIR: &str = ".failed";
/// Suffix of the file next to a failed one that says why.
pub const REASON_SUFFIX: &str = ".reason.txt";
/// Deepest folder nesting walked below a handle's folder.
pub const MAX_DEPTH: usize = 16;

/// One regular file seen in the watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenFile {
    /// The top-level folder it is in (the account's handle), or `None` for a file lying
    /// directly in the watched directory.
    pub handle_dir: Option<String>,
    /// Its path below the handle's folder (below the watched directory for a file of no
    /// folder), one entry per step; the last is the file name.
    pub rel: Vec<String>,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Device and inode: the file opened or moved later must be this very file (a path
    /// swapped for a symbolic link meanwhile is not).
    pub inode: (u64, u64),
}

impl SeenFile {
    /// Its path relative to the watched directory, `/`-separated (the key it is
    /// recorded under).
    pub fn key(&self) -> String {
        let mut parts: Vec<&str> = Vec::with_capacity(self.rel.len() + 1);
        if let Some(h) = &self.handle_dir {
            parts.push(h);
        }
        parts.extend(self.rel.iter().map(String::as_str));
        parts.join("/")
    }

    /// Its absolute path.
    pub fn path(&self, watch_dir: &Path) -> PathBuf {
        let mut p = watch_dir.to_path_buf();
        if let Some(h) = &self.handle_dir {
            p.push(h);
        }
        p.extend(&self.rel);
        p
    }

    /// The file name.
    pub fn name(&self) -> &str {
        self.rel.last().map_or("", String::as_str)
    }

    /// Whether `meta` (of the opened file, or of the path about to be moved) is this file
    /// as it was seen: same inode, size and modification time.
    pub fn is(&self, meta: &std::fs::Metadata) -> bool {
        self.inode == (meta.dev(), meta.ino())
            && self.size == meta.len()
            && seen(None, Vec::new(), meta).mtime_ns == self.mtime_ns
    }

    /// The folders between the handle's folder and the file.
    pub fn folders(&self) -> &[String] {
        self.rel.split_last().map_or(&[], |(_, dirs)| dirs)
    }
}

/// Names never taken: hidden files, partial downloads and office lock files, and the
/// operating systems' own clutter. Compared ignoring case.
pub fn is_ignored(name: &str) -> bool {
    const PARTIAL_SUFFIXES: &[&str] = &[
        ".part",
        ".partial",
        ".tmp",
        ".temp",
        ".crdownload",
        ".download",
        ".filepart",
        ".swp",
    ];
    const CLUTTER: &[&str] = &["thumbs.db", "desktop.ini"];
    let lower = name.to_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || PARTIAL_SUFFIXES.iter().any(|s| lower.ends_with(s))
        || CLUTTER.contains(&lower.as_str())
}

/// Every file below `watch_dir` that may be taken: regular files only (symbolic links
/// are never followed), skipping hidden entries (`.done`, `.failed` included) and
/// [`is_ignored`] names, at most [`MAX_DEPTH`] folders deep. Entries that vanish or
/// cannot be read while walking are skipped (the next round sees them again). Sorted by
/// path. An unreadable watched directory is the error.
pub fn scan(watch_dir: &Path) -> io::Result<Vec<SeenFile>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(watch_dir)? {
        let Ok(entry) = entry else { continue };
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if is_ignored(&name) {
            continue;
        }
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if meta.is_dir() {
            walk(&entry.path(), Some(&name), &mut Vec::new(), &mut out);
        } else if meta.is_file() {
            out.push(seen(None, vec![name], &meta));
        }
    }
    out.sort_by_cached_key(SeenFile::key);
    Ok(out)
}

fn seen(handle_dir: Option<&str>, rel: Vec<String>, meta: &std::fs::Metadata) -> SeenFile {
    SeenFile {
        handle_dir: handle_dir.map(str::to_owned),
        rel,
        size: meta.len(),
        mtime_ns: meta
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(meta.mtime_nsec()),
        inode: (meta.dev(), meta.ino()),
    }
}

fn walk(dir: &Path, handle: Option<&str>, rel: &mut Vec<String>, out: &mut Vec<SeenFile>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let Ok(entry) = entry else { continue };
        // A name that is not UTF-8 cannot become a document or folder name; it stays.
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if is_ignored(&name) {
            continue;
        }
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if meta.is_dir() {
            if rel.len() < MAX_DEPTH {
                rel.push(name);
                walk(&entry.path(), handle, rel, out);
                rel.pop();
            }
        } else if meta.is_file() {
            let mut path = rel.clone();
            path.push(name);
            out.push(seen(handle, path, &meta));
        }
    }
}

/// What a file looked like when it was last seen, and since when.
#[derive(Debug, Clone, Copy)]
struct Observed {
    size: u64,
    mtime_ns: i64,
    inode: (u64, u64),
    since: Instant,
}

/// The instance's memory of the files it has seen: a file is ready once it has looked
/// the same (size and modification time) for the stable period. Lost at a restart,
/// which only means waiting the stable period again.
#[derive(Debug, Default)]
pub struct Tracker {
    seen: HashMap<String, Observed>,
}

impl Tracker {
    /// Records this round's files (seen at `now`) and returns those unchanged for at
    /// least `stable`; files no longer there are forgotten.
    pub fn observe(
        &mut self,
        files: Vec<SeenFile>,
        now: Instant,
        stable: Duration,
    ) -> Vec<SeenFile> {
        let mut next = HashMap::with_capacity(files.len());
        let mut ready = Vec::new();
        for file in files {
            let key = file.key();
            let observed = match self.seen.get(&key) {
                Some(o)
                    if o.size == file.size
                        && o.mtime_ns == file.mtime_ns
                        && o.inode == file.inode =>
                {
                    *o
                }
                _ => Observed {
                    size: file.size,
                    mtime_ns: file.mtime_ns,
                    inode: file.inode,
                    since: now,
                },
            };
            if now.saturating_duration_since(observed.since) >= stable {
                ready.push(file);
            }
            next.insert(key, observed);
        }
        self.seen = next;
        ready
    }

    /// Forgets `file`, so it waits a whole stable period again (after a failure that
    /// may pass, such as storage being down).
    pub fn forget(&mut self, file: &SeenFile) {
        self.seen.remove(&file.key());
    }
}

/// `name (n).ext` (the number before the last extension; `name (n)` without one).
pub fn numbered(name: &str, n: u32) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem} ({n}).{ext}"),
        _ => format!("{name} ({n})"),
    }
}

/// Moves `from` to `base/rel…` (creating the folders), numbering the name when it is
/// taken (`a (2).pdf`); returns where it went. `from` missing is `NotFound`. With
/// `expect`, `from` must still be that file, reached without symbolic links (else
/// `NotFound`: a path swapped meanwhile is left alone).
pub fn move_aside(
    from: &Path,
    base: &Path,
    rel: &[String],
    expect: Option<&SeenFile>,
) -> io::Result<PathBuf> {
    let Some((name, dirs)) = rel.split_last() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty path"));
    };
    let mut dir = base.to_path_buf();
    dir.extend(dirs);
    std::fs::create_dir_all(&dir)?;
    // `from` first: a vanished file must not leave a name taken or a folder behind.
    check_seen(from, expect)?;
    let mut target = dir.join(name);
    let mut n = 1;
    while target.symlink_metadata().is_ok() || reason_path(&target).symlink_metadata().is_ok() {
        n += 1;
        if n > 10_000 {
            return Err(io::Error::other("no free name"));
        }
        target = dir.join(numbered(name, n));
    }
    std::fs::rename(from, &target)?;
    Ok(target)
}

/// `NotFound` unless `from` is there and, with `expect`, is still that file reached
/// without symbolic links (paths are built on the canonical watched directory).
fn check_seen(from: &Path, expect: Option<&SeenFile>) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    if let Some(seen) = expect {
        let parent = from.parent().unwrap_or(from);
        if !seen.is(&meta) || parent.canonicalize()? != parent {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "not the file seen (replaced, or reached through a symbolic link)",
            ));
        }
    }
    Ok(())
}

/// Deletes `from` if it is still the file `expect` saw (see [`move_aside`]).
pub fn remove_seen(from: &Path, expect: &SeenFile) -> io::Result<()> {
    check_seen(from, Some(expect))?;
    std::fs::remove_file(from)
}

/// `<file>.reason.txt` next to `file`.
pub fn reason_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(REASON_SUFFIX);
    PathBuf::from(s)
}

/// Moves `from` into `base/rel…` as [`move_aside`] does and writes the reason next to
/// it (`<name>.reason.txt`, one sentence and a newline).
pub fn fail_aside(
    from: &Path,
    base: &Path,
    rel: &[String],
    expect: Option<&SeenFile>,
    reason: &str,
) -> io::Result<PathBuf> {
    let target = move_aside(from, base, rel, expect)?;
    // Written aside, then renamed: whoever sees the reason file sees all of it.
    let path = reason_path(&target);
    let mut partial = path.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, format!("{reason}\n"))?;
    std::fs::rename(&partial, &path)?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn file(rel: &[&str], size: u64, mtime_ns: i64) -> SeenFile {
        SeenFile {
            handle_dir: Some("alice".into()),
            rel: rel.iter().map(|s| (*s).to_owned()).collect(),
            size,
            mtime_ns,
            inode: (1, 1),
        }
    }

    #[test]
    fn a_file_is_ready_once_unchanged_for_the_stable_period() {
        let stable = Duration::from_secs(5);
        let t0 = Instant::now();
        let mut tracker = Tracker::default();
        let a = file(&["a.pdf"], 10, 1);
        assert!(tracker.observe(vec![a.clone()], t0, stable).is_empty());
        assert!(
            tracker
                .observe(vec![a.clone()], t0 + Duration::from_secs(4), stable)
                .is_empty()
        );
        // Grew: the clock starts again.
        let grown = file(&["a.pdf"], 20, 2);
        assert!(
            tracker
                .observe(vec![grown.clone()], t0 + Duration::from_secs(6), stable)
                .is_empty()
        );
        assert!(
            tracker
                .observe(vec![grown.clone()], t0 + Duration::from_secs(10), stable)
                .is_empty()
        );
        assert_eq!(
            tracker.observe(vec![grown.clone()], t0 + Duration::from_secs(11), stable),
            vec![grown.clone()]
        );
        // Touched (same size, new time): not ready.
        let touched = file(&["a.pdf"], 20, 3);
        assert!(
            tracker
                .observe(vec![touched.clone()], t0 + Duration::from_secs(12), stable)
                .is_empty()
        );
        // Gone, then back: a new file.
        assert!(
            tracker
                .observe(vec![], t0 + Duration::from_secs(13), stable)
                .is_empty()
        );
        assert!(
            tracker
                .observe(vec![touched.clone()], t0 + Duration::from_secs(30), stable)
                .is_empty()
        );
        tracker.forget(&touched);
        assert!(
            tracker
                .observe(vec![touched], t0 + Duration::from_secs(40), stable)
                .is_empty()
        );
        // Stable period 0: ready when first seen.
        let mut eager = Tracker::default();
        assert_eq!(eager.observe(vec![a.clone()], t0, Duration::ZERO), vec![a]);
    }

    #[test]
    fn partial_and_hidden_names_are_ignored() {
        for name in [
            ".hidden.pdf",
            ".done",
            "report.pdf.part",
            "report.PDF.crdownload",
            "x.tmp",
            "~$letter.docx",
            "Thumbs.db",
            "file.filepart",
        ] {
            assert!(is_ignored(name), "{name}");
        }
        for name in ["report.pdf", "tmp.pdf", "part 2.docx", "a~$b.pdf"] {
            assert!(!is_ignored(name), "{name}");
        }
    }

    #[test]
    fn a_file_swapped_after_the_scan_is_neither_moved_nor_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let root = &dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("alice/Tax")).unwrap();
        std::fs::create_dir_all(root.join("elsewhere")).unwrap();
        std::fs::write(root.join("alice/Tax/secret.key"), b"decoy").unwrap();
        std::fs::write(root.join("elsewhere/secret.key"), b"secret").unwrap();
        let seen = scan(root).unwrap().remove(0);
        assert_eq!(seen.key(), "alice/Tax/secret.key");
        // The folder becomes a link to another one holding a file of the same name.
        std::fs::rename(root.join("alice/Tax"), root.join("alice/Old")).unwrap();
        std::os::unix::fs::symlink(root.join("elsewhere"), root.join("alice/Tax")).unwrap();
        let done = root.join("alice").join(DONE_DIR);
        let refused = move_aside(&seen.path(root), &done, &seen.rel, Some(&seen)).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::NotFound);
        let refused = remove_seen(&seen.path(root), &seen).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            std::fs::read(root.join("elsewhere/secret.key")).unwrap(),
            b"secret"
        );
        // The file itself replaced (same name and size, another inode): not it either.
        std::fs::remove_file(root.join("alice/Tax")).unwrap();
        std::fs::rename(root.join("alice/Old"), root.join("alice/Tax")).unwrap();
        let meta = std::fs::metadata(seen.path(root)).unwrap();
        assert!(seen.is(&meta));
        std::fs::write(root.join("alice/Tax/new"), b"other").unwrap();
        std::fs::rename(root.join("alice/Tax/new"), seen.path(root)).unwrap();
        let meta = std::fs::metadata(seen.path(root)).unwrap();
        assert!(!seen.is(&meta));
    }

    #[test]
    fn numbering_goes_before_the_extension() {
        assert_eq!(numbered("a.pdf", 2), "a (2).pdf");
        assert_eq!(numbered("README", 3), "README (3)");
        assert_eq!(numbered(".x", 2), ".x (2)");
    }

    #[test]
    fn scan_walks_handles_and_moves_aside_keep_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let root = &dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("alice/Tax/2026")).unwrap();
        std::fs::create_dir_all(root.join("alice/.done/old")).unwrap();
        std::fs::write(root.join("alice/Tax/2026/a.pdf"), b"pdf").unwrap();
        std::fs::write(root.join("alice/Tax/2026/a.pdf.part"), b"p").unwrap();
        std::fs::write(root.join("alice/.done/old/b.pdf"), b"b").unwrap();
        std::fs::write(root.join("stray.pdf"), b"s").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("alice/link.pdf")).unwrap();
        let files = scan(root).unwrap();
        let keys: Vec<String> = files.iter().map(SeenFile::key).collect();
        assert_eq!(keys, ["alice/Tax/2026/a.pdf", "stray.pdf"]);
        let a = &files[0];
        assert_eq!(a.folders(), ["Tax", "2026"]);
        assert_eq!(a.name(), "a.pdf");
        assert_eq!(a.size, 3);

        let done = root.join("alice").join(DONE_DIR);
        let first = move_aside(&a.path(root), &done, &a.rel, None).unwrap();
        assert_eq!(first, done.join("Tax/2026/a.pdf"));
        std::fs::write(root.join("alice/Tax/2026/a.pdf"), b"again").unwrap();
        let second = move_aside(&a.path(root), &done, &a.rel, None).unwrap();
        assert_eq!(second, done.join("Tax/2026/a (2).pdf"));
        assert_eq!(std::fs::read(second).unwrap(), b"again");
        let gone = move_aside(&a.path(root), &done, &a.rel, None).unwrap_err();
        assert_eq!(gone.kind(), io::ErrorKind::NotFound);

        let failed = root.join(FAILED_DIR);
        let stray = &files[1];
        let to = fail_aside(
            &stray.path(root),
            &failed,
            &stray.rel,
            Some(stray),
            "No account.",
        )
        .unwrap();
        assert_eq!(to, failed.join("stray.pdf"));
        assert_eq!(
            std::fs::read_to_string(failed.join("stray.pdf.reason.txt")).unwrap(),
            "No account.\n"
        );
        assert!(scan(root).unwrap().is_empty());
    }
}
