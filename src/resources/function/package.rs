//! Reproducible zips of function and layer folders.
//!
//! Lambda identifies code by `CodeSha256` = base64(SHA-256(zip bytes)), so the same files must
//! always give the same bytes: entries sorted by path, no directory entries, a fixed timestamp
//! (1980-01-01, the zip epoch), fixed permissions (0644, or 0755 for executables), a fixed "made
//! by" system, deflate. Byte-compiled Python and Finder litter are left out, since they change
//! on every run without the source changing.
//!
//! This is local, deterministic file I/O, not AWS: `spec` calls [`code`] so that the plan can
//! compare the folder with the deployed code. Layers are compared by [`content`], a hash of the
//! same file list that skips compression (layer folders are large, and the plan runs it on every
//! `plan`); the zip itself is only built at apply.
//!
//! What goes in is whatever Lambda will run with, so the walk is strict: regular files only
//! (a fifo would hang the plan, a device or `/proc` file could ship the deployer's memory or
//! environment), no symbolic link leading outside the folder, never `.git/` or `__pycache__/`.
//! Lambda's size limits are checked while walking, from the files' sizes before any byte is read,
//! and again while streaming, so a huge (or sparse) file is refused at once and never held in
//! memory.

use std::cell::Cell;
use std::collections::HashMap;
use std::fs;
use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use base64::Engine;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipWriter};

/// The largest zip Lambda accepts uploaded directly in the request (`ZipFile`), not through S3.
pub const MAX_DIRECT_UPLOAD: usize = 50 * 1024 * 1024;
/// Lambda's limit on a function's unzipped code plus all its layers.
pub const MAX_UNZIPPED: u64 = 250 * 1024 * 1024;

/// A zipped folder and its Lambda code hash.
pub struct Package {
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// What the plan needs to know of a folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hashed {
    /// base64 SHA-256: of the zip ([`code`]) or of the file list ([`content`]).
    pub sha256: String,
    /// The sum of the files' sizes: what the folder weighs once Lambda unzips it.
    pub unzipped: u64,
    /// Files whose names suggest a secret (`.env*`, `*.pem` holding a key, `id_rsa*`), which the
    /// plan shows before they are uploaded.
    pub suspicious: Vec<String>,
}

/// One file to put in the zip.
struct Entry {
    /// Path inside the zip, `/`-separated.
    name: String,
    path: PathBuf,
    mode: u32,
    /// Size when listed; reading stops at the unzipped limit whatever it has become since.
    len: u64,
}

/// The files of a folder, sorted by zip path.
struct Listing {
    entries: Vec<Entry>,
    total: u64,
    suspicious: Vec<String>,
}

/// base64(SHA-256(bytes)), the form Lambda reports as `CodeSha256`.
pub fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// An in-memory zip that refuses to grow past the direct-upload limit, so that a folder of
/// incompressible data costs at most that much memory before it is refused.
struct Capped {
    inner: Cursor<Vec<u8>>,
    cap: usize,
    over: Rc<Cell<bool>>,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // After the refusal, the writer's drop still finalises the archive: let it, quietly.
        if self.over.get() {
            return Ok(buf.len());
        }
        let end = self.inner.position() as usize + buf.len();
        if end > self.cap {
            self.over.set(true);
            return Err(std::io::Error::other(
                "the zip is over the direct-upload limit",
            ));
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for Capped {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

fn too_large_zipped(dir: &Path) -> String {
    format!(
        "{} zips to more than 50 MB; Lambda accepts at most 50 MB uploaded directly: trim the folder",
        dir.display()
    )
}

fn too_large_unzipped(dir: &Path, at: &str, total: u64) -> String {
    format!(
        "{} holds at least {:.0} MB (reached at {at}); Lambda allows at most 250 MB unzipped for a function and its layers: trim the folder",
        dir.display(),
        total as f64 / 1024.0 / 1024.0
    )
}

/// Copies at most `budget` bytes of `e` into `out`; returns how many. More than `budget` means the
/// file grew past the unzipped limit since it was listed.
fn stream(
    e: &Entry,
    budget: u64,
    out: &mut dyn FnMut(&[u8]) -> Result<(), String>,
) -> Result<u64, String> {
    let f = fs::File::open(&e.path)
        .map_err(|err| format!("cannot read {}: {err}", e.path.display()))?;
    let mut f = f.take(budget + 1);
    let mut buf = vec![0u8; 64 * 1024];
    let mut n_total = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|err| format!("cannot read {}: {err}", e.path.display()))?;
        if n == 0 {
            return Ok(n_total);
        }
        n_total += n as u64;
        out(&buf[..n])?;
    }
}

/// Zips `dir` reproducibly, refusing it as soon as it passes Lambda's limits.
pub fn zip_dir(dir: &Path) -> Result<Package, String> {
    let listing = list(dir)?;
    zip_listing(dir, &listing, MAX_DIRECT_UPLOAD)
}

fn zip_listing(dir: &Path, listing: &Listing, cap: usize) -> Result<Package, String> {
    let over = Rc::new(Cell::new(false));
    let mut zip = ZipWriter::new(Capped {
        inner: Cursor::new(Vec::new()),
        cap,
        over: over.clone(),
    });
    let zip_err = |path: &Path, err: &dyn std::fmt::Display| {
        if over.get() {
            too_large_zipped(dir)
        } else {
            format!("cannot zip {}: {err}", path.display())
        }
    };
    let mut total = 0u64;
    for e in &listing.entries {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(DateTime::default())
            .system(System::Unix)
            .unix_permissions(e.mode)
            .large_file(false);
        zip.start_file(e.name.as_str(), options)
            .map_err(|err| zip_err(&e.path, &err))?;
        let n = stream(e, MAX_UNZIPPED - total, &mut |chunk| {
            zip.write_all(chunk).map_err(|err| zip_err(&e.path, &err))
        })?;
        total += n;
        if total > MAX_UNZIPPED {
            return Err(too_large_unzipped(dir, &e.name, total));
        }
    }
    let bytes = zip
        .finish()
        .map_err(|err| zip_err(dir, &err))?
        .inner
        .into_inner();
    let sha256 = sha256_base64(&bytes);
    Ok(Package { bytes, sha256 })
}

/// The `CodeSha256` Lambda will report for the zip of `dir`, with what the plan checks: the
/// direct-upload and unzipped limits are errors here, at plan time, rather than apply failures.
pub fn code(dir: &Path) -> Result<Hashed, String> {
    let listing = list(dir)?;
    let p = zip_listing(dir, &listing, MAX_DIRECT_UPLOAD)?;
    Ok(Hashed {
        sha256: p.sha256,
        unzipped: listing.total,
        suspicious: listing.suspicious,
    })
}

/// [`code`]'s hash alone.
pub fn code_sha256(dir: &Path) -> Result<String, String> {
    code(dir).map(|h| h.sha256)
}

/// Refuses a zip Lambda would reject as too large for a direct upload.
pub fn check_size(dir: &Path, len: usize) -> Result<(), String> {
    if len > MAX_DIRECT_UPLOAD {
        return Err(format!(
            "{} zips to {:.1} MB; Lambda accepts at most 50 MB uploaded directly: trim the folder",
            dir.display(),
            len as f64 / 1024.0 / 1024.0
        ));
    }
    Ok(())
}

/// A hash of exactly what [`zip_dir`] would put in the zip (names, permissions, contents),
/// without compressing: it changes exactly when the zip's content does.
pub fn content(dir: &Path) -> Result<Hashed, String> {
    let listing = list(dir)?;
    let mut h = Sha256::new();
    let mut total: u64 = 0;
    for e in &listing.entries {
        h.update(e.name.as_bytes());
        h.update([0]);
        h.update(e.mode.to_le_bytes());
        h.update(e.len.to_le_bytes());
        let n = stream(e, MAX_UNZIPPED - total, &mut |chunk| {
            h.update(chunk);
            Ok(())
        })?;
        total += n;
        if total > MAX_UNZIPPED {
            return Err(too_large_unzipped(dir, &e.name, total));
        }
    }
    Ok(Hashed {
        sha256: base64::engine::general_purpose::STANDARD.encode(h.finalize()),
        unzipped: listing.total,
        suspicious: listing.suspicious,
    })
}

/// Hashes computed ahead by [`prefetch`], each handed out once: the first plan-time use gets it,
/// any later one (the apply re-diffs from the files as they are then) hashes again.
type AheadCell = Arc<OnceLock<Result<Hashed, String>>>;
type Ahead = Mutex<HashMap<(bool, PathBuf), AheadCell>>;
static AHEAD: LazyLock<Ahead> = LazyLock::new(Ahead::default);

/// Hashes the functions' folders ([`code`]) and the layers' ([`content`]) ahead, on the
/// calling (blocking) thread, while the plan reads the account: a 12 MB layer costs tens of
/// milliseconds that need not wait for the answers. [`code_once`] and [`content_once`] use them.
pub fn prefetch(code_dirs: &[PathBuf], content_dirs: &[PathBuf]) {
    let cells: Vec<(bool, PathBuf, AheadCell)> = {
        let Ok(mut ahead) = AHEAD.lock() else {
            return;
        };
        let dirs = code_dirs
            .iter()
            .map(|d| (true, d))
            .chain(content_dirs.iter().map(|d| (false, d)));
        dirs.map(|(is_code, d)| {
            let cell = ahead.entry((is_code, d.clone())).or_default().clone();
            (is_code, d.clone(), cell)
        })
        .collect()
    };
    for (is_code, dir, cell) in cells {
        // A plan that got here first computed it itself; this one is then never used.
        cell.get_or_init(|| if is_code { code(&dir) } else { content(&dir) });
    }
}

fn once(is_code: bool, dir: &Path) -> Result<Hashed, String> {
    let cell = AHEAD
        .lock()
        .ok()
        .and_then(|mut a| a.remove(&(is_code, dir.to_path_buf())));
    match cell {
        // Waits if the prefetch is hashing it right now.
        Some(cell) => cell
            .get_or_init(|| if is_code { code(dir) } else { content(dir) })
            .clone(),
        None if is_code => code(dir),
        None => content(dir),
    }
}

/// [`code`], from [`prefetch`] when it hashed `dir` ahead (once).
pub fn code_once(dir: &Path) -> Result<Hashed, String> {
    once(true, dir)
}

/// [`content`], from [`prefetch`] when it hashed `dir` ahead (once).
pub fn content_once(dir: &Path) -> Result<Hashed, String> {
    once(false, dir)
}

/// [`content`]'s hash alone.
pub fn content_sha256(dir: &Path) -> Result<String, String> {
    content(dir).map(|h| h.sha256)
}

/// The checks of [`code`] and [`content`] that need no hashing: links leading outside, entries
/// that are not regular files, an empty folder, the unzipped limit. `validate` runs them (no
/// AWS), so a folder problem shows before `plan`.
pub fn check(dir: &Path) -> Result<(), String> {
    list(dir).map(|_| ())
}

/// The unzipped size of `dir` from the files' sizes alone: nothing is read.
pub fn unzipped_size(dir: &Path) -> Result<u64, String> {
    list(dir).map(|l| l.total)
}

/// Left out of every package: build litter that changes on every run, and version control.
fn skipped(name: &str) -> bool {
    name == "__pycache__" || name == ".git" || name == ".DS_Store" || name.ends_with(".pyc")
}

/// Names that usually hold a secret. A `.pem` holding only certificates (a CA bundle a function
/// needs to verify its database) is not one.
fn suspicious(name: &str, path: &Path) -> bool {
    if name.starts_with(".env") || name.starts_with("id_rsa") {
        return true;
    }
    if name.ends_with(".pem") {
        let mut head = Vec::new();
        let read =
            fs::File::open(path).and_then(|f| f.take(4 * 1024 * 1024).read_to_end(&mut head));
        return read.is_err() || String::from_utf8_lossy(&head).contains("PRIVATE KEY");
    }
    false
}

/// Every file under `dir`, sorted by zip path. A symbolic link is followed only when it leads to
/// a file or folder inside `dir` (a layer built with `pip install` may contain some); one leading
/// outside is an error naming it.
fn list(dir: &Path) -> Result<Listing, String> {
    let root = dir
        .canonicalize()
        .map_err(|err| format!("cannot read {}: {err}", dir.display()))?;
    let mut w = Walk {
        dir,
        root,
        ancestry: Vec::new(),
        out: Listing {
            entries: Vec::new(),
            total: 0,
            suspicious: Vec::new(),
        },
        outside: Vec::new(),
        problems: Vec::new(),
    };
    w.walk(dir, "")?;
    w.problems()?;
    let mut out = w.out;
    if out.entries.is_empty() {
        return Err(format!("{} has no files to deploy", dir.display()));
    }
    out.entries.sort_by(|a, b| a.name.cmp(&b.name));
    out.suspicious.sort();
    Ok(out)
}

struct Walk<'a> {
    dir: &'a Path,
    root: PathBuf,
    ancestry: Vec<PathBuf>,
    out: Listing,
    /// Links leading outside the folder, `(link, target)`: all of them are named at once, so
    /// that fixing the folder takes one run, not one per link.
    outside: Vec<(PathBuf, PathBuf)>,
    /// Other entries that cannot be packaged (dangling links, fifos, devices, odd names).
    problems: Vec<String>,
}

impl Walk<'_> {
    /// Everything wrong with the folder's entries, as one message.
    fn problems(&mut self) -> Result<(), String> {
        // read_dir's order is the file system's: sort, so that the message is stable.
        self.outside.sort();
        self.problems.sort();
        let mut parts = Vec::new();
        match self.outside.as_slice() {
            [] => {}
            [(link, target)] => parts.push(format!(
                "{} is a symbolic link to {}, outside {}: only files inside the folder are packaged; copy what the function needs into the folder",
                link.display(),
                target.display(),
                self.dir.display()
            )),
            links => parts.push(format!(
                "{} symbolic links lead outside {}: {}: only files inside the folder are packaged; copy what the function needs into the folder",
                links.len(),
                self.dir.display(),
                links
                    .iter()
                    .map(|(l, t)| format!("{} -> {}", l.display(), t.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        parts.extend(self.problems.iter().cloned());
        if parts.is_empty() {
            Ok(())
        } else {
            Err(parts.join("; "))
        }
    }

    fn walk(&mut self, dir: &Path, prefix: &str) -> Result<(), String> {
        let canonical = dir
            .canonicalize()
            .map_err(|err| format!("cannot read {}: {err}", dir.display()))?;
        if self.ancestry.contains(&canonical) {
            return Err(format!(
                "{} links back to one of its parent folders",
                dir.display()
            ));
        }
        self.ancestry.push(canonical);
        let read =
            fs::read_dir(dir).map_err(|err| format!("cannot read {}: {err}", dir.display()))?;
        for item in read {
            let item = item.map_err(|err| format!("cannot read {}: {err}", dir.display()))?;
            let path = item.path();
            let Some(name) = item.file_name().to_str().map(str::to_string) else {
                self.problems
                    .push(format!("{}: file names must be UTF-8", path.display()));
                continue;
            };
            if skipped(&name) {
                continue;
            }
            let zip_name = format!("{prefix}{name}");
            let mut meta = fs::symlink_metadata(&path)
                .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
            if meta.file_type().is_symlink() {
                let target = match path.canonicalize() {
                    Ok(t) => t,
                    Err(err) => {
                        self.problems.push(format!(
                            "{} is a symbolic link that cannot be followed ({err}): remove it or replace it with the file",
                            path.display()
                        ));
                        continue;
                    }
                };
                if !target.starts_with(&self.root) {
                    self.outside.push((path, target));
                    continue;
                }
                meta = fs::metadata(&target)
                    .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
            }
            if meta.is_dir() {
                self.walk(&path, &format!("{zip_name}/"))?;
            } else if meta.is_file() {
                self.out.total += meta.len();
                if self.out.total > MAX_UNZIPPED {
                    return Err(too_large_unzipped(self.dir, &zip_name, self.out.total));
                }
                if suspicious(&name, &path) {
                    self.out.suspicious.push(zip_name.clone());
                }
                self.out.entries.push(Entry {
                    name: zip_name,
                    path,
                    mode: mode_of(&meta),
                    len: meta.len(),
                });
            } else {
                self.problems.push(format!(
                    "{} is not a regular file (a device, socket or fifo): only regular files are packaged; remove it from the folder",
                    path.display()
                ));
            }
        }
        self.ancestry.pop();
        Ok(())
    }
}

#[cfg(unix)]
fn mode_of(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o111 != 0 {
        0o755
    } else {
        0o644
    }
}

#[cfg(not(unix))]
fn mode_of(_meta: &fs::Metadata) -> u32 {
    0o644
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefetched_hash_is_used_once_and_later_uses_see_the_files_as_they_are() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().to_path_buf();
        fs::write(dir.join("a.py"), "x = 1\n").unwrap();
        prefetch(std::slice::from_ref(&dir), std::slice::from_ref(&dir));
        let ahead = (content(&dir).unwrap(), code(&dir).unwrap());
        fs::write(dir.join("a.py"), "x = 2\n").unwrap();
        // The plan's first use gets what was hashed ahead (while the account was read)...
        assert_eq!(content_once(&dir).unwrap().sha256, ahead.0.sha256);
        assert_eq!(code_once(&dir).unwrap().sha256, ahead.1.sha256);
        // ...any later one (the apply's re-diff) hashes the folder as it is now.
        assert_ne!(content_once(&dir).unwrap().sha256, ahead.0.sha256);
        assert_eq!(code_once(&dir).unwrap(), code(&dir).unwrap());
    }

    fn folder() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("pkg/__pycache__")).unwrap();
        fs::create_dir_all(d.path().join("empty")).unwrap();
        fs::write(
            d.path().join("lambda_function.py"),
            "def lambda_handler(e, c):\n    return 1\n",
        )
        .unwrap();
        fs::write(d.path().join("pkg/mod.py"), "X = 1\n").unwrap();
        fs::write(d.path().join("pkg/mod.pyc"), "junk").unwrap();
        fs::write(d.path().join("pkg/__pycache__/mod.cpython-312.pyc"), "junk").unwrap();
        fs::write(d.path().join(".DS_Store"), "junk").unwrap();
        d
    }

    #[test]
    fn same_folder_gives_identical_bytes_and_hash() {
        let d = folder();
        let a = zip_dir(d.path()).unwrap();
        // Touching files (new mtimes) must not change anything.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        fs::write(d.path().join("pkg/mod.py"), "X = 1\n").unwrap();
        let b = zip_dir(d.path()).unwrap();
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(code_sha256(d.path()).unwrap(), a.sha256);
    }

    /// Pins the exact bytes: a change of the zip or deflate crates that alters them would make
    /// every deployed function look changed, and must be a deliberate decision.
    #[test]
    fn golden_hash() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("pkg")).unwrap();
        fs::write(
            d.path().join("lambda_function.py"),
            "def lambda_handler(event, context):\n    return {'ok': True}\n",
        )
        .unwrap();
        fs::write(d.path().join("pkg/__init__.py"), "").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in ["lambda_function.py", "pkg/__init__.py"] {
                fs::set_permissions(d.path().join(f), fs::Permissions::from_mode(0o644)).unwrap();
            }
        }
        assert_eq!(
            code_sha256(d.path()).unwrap(),
            "+LvZg/H6F+1g7pCZVKlaMFyWI6/S7u/UwsGtmoUKnWU="
        );
    }

    #[test]
    fn hash_is_base64_sha256_of_the_bytes() {
        let d = folder();
        let p = zip_dir(d.path()).unwrap();
        let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&p.bytes));
        assert_eq!(p.sha256, expected);
        assert_eq!(p.sha256.len(), 44);
    }

    #[test]
    fn entries_are_sorted_files_only_with_fixed_metadata() {
        let d = folder();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::write(d.path().join("run.sh"), "#!/bin/sh\n").unwrap();
            fs::set_permissions(d.path().join("run.sh"), fs::Permissions::from_mode(0o700))
                .unwrap();
        }
        let p = zip_dir(d.path()).unwrap();
        let mut z = zip::ZipArchive::new(Cursor::new(p.bytes)).unwrap();
        let names: Vec<String> = (0..z.len())
            .map(|i| z.by_index(i).unwrap().name().unwrap().to_string())
            .collect();
        let mut want = vec!["lambda_function.py", "pkg/mod.py"];
        if cfg!(unix) {
            want.push("run.sh");
        }
        assert_eq!(names, want);
        for i in 0..z.len() {
            let f = z.by_index(i).unwrap();
            assert_eq!(f.compression(), CompressionMethod::Deflated);
            assert_eq!(f.last_modified(), Some(DateTime::default()));
            let mode = f.unix_mode().unwrap() & 0o777;
            if f.name().unwrap() == "run.sh" {
                assert_eq!(mode, 0o755);
            } else {
                assert_eq!(mode, 0o644);
            }
        }
        let mut s = String::new();
        z.by_name("pkg/mod.py")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "X = 1\n");
    }

    #[test]
    fn a_content_change_changes_both_hashes() {
        let d = folder();
        let (code, content) = (
            code_sha256(d.path()).unwrap(),
            content_sha256(d.path()).unwrap(),
        );
        assert_eq!(content_sha256(d.path()).unwrap(), content);
        fs::write(d.path().join("pkg/mod.py"), "X = 2\n").unwrap();
        assert_ne!(code_sha256(d.path()).unwrap(), code);
        assert_ne!(content_sha256(d.path()).unwrap(), content);
        // Skipped files do not count.
        let before = content_sha256(d.path()).unwrap();
        fs::write(d.path().join("pkg/other.pyc"), "junk").unwrap();
        assert_eq!(content_sha256(d.path()).unwrap(), before);
    }

    #[test]
    fn an_empty_folder_is_refused() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("a/__pycache__")).unwrap();
        let e = zip_dir(d.path()).err().unwrap();
        assert!(e.contains("has no files"), "{e}");
        assert!(content_sha256(d.path()).is_err());
    }

    #[test]
    fn too_large_for_direct_upload_is_refused() {
        let e = check_size(Path::new("big"), MAX_DIRECT_UPLOAD + 1).unwrap_err();
        assert!(e.contains("50 MB"), "{e}");
        assert!(check_size(Path::new("ok"), MAX_DIRECT_UPLOAD).is_ok());
    }

    #[cfg(unix)]
    fn link(target: &Path, at: &Path) {
        std::os::unix::fs::symlink(target, at).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_link_leading_outside_the_folder_is_an_error_naming_it() {
        let d = folder();
        link(Path::new("/proc/self/environ"), &d.path().join("environ"));
        for e in [
            zip_dir(d.path()).err().unwrap(),
            content_sha256(d.path()).unwrap_err(),
        ] {
            assert!(e.contains("environ is a symbolic link to /proc/"), "{e}");
            assert!(e.contains("outside"), "{e}");
        }
        // A relative link climbing out, and a link to a folder outside, too.
        let d = folder();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("credentials"), "secret").unwrap();
        link(
            Path::new("../../../../../../../../etc"),
            &d.path().join("pkg/etc"),
        );
        let e = code_sha256(d.path()).unwrap_err();
        assert!(e.contains("pkg/etc is a symbolic link"), "{e}");
        fs::remove_file(d.path().join("pkg/etc")).unwrap();
        link(outside.path(), &d.path().join("creds"));
        let e = code_sha256(d.path()).unwrap_err();
        assert!(e.contains("creds is a symbolic link"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn every_link_leading_outside_is_named_at_once() {
        let d = folder();
        link(Path::new("/etc"), &d.path().join("up"));
        link(Path::new("/etc/passwd"), &d.path().join("pkg/pw"));
        link(Path::new("nowhere.py"), &d.path().join("dangling.py"));
        let e = check(d.path()).unwrap_err();
        assert!(e.contains("2 symbolic links lead outside"), "{e}");
        assert!(e.contains("pkg/pw -> /etc/passwd"), "{e}");
        assert!(e.contains("up -> /etc"), "{e}");
        assert!(
            e.contains("dangling.py is a symbolic link that cannot be followed"),
            "{e}"
        );
        assert_eq!(code_sha256(d.path()).unwrap_err(), e);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_inside_the_folder_is_stored_as_its_targets_content() {
        let d = folder();
        link(Path::new("pkg/mod.py"), &d.path().join("alias.py"));
        let p = zip_dir(d.path()).unwrap();
        let mut z = zip::ZipArchive::new(Cursor::new(p.bytes)).unwrap();
        let mut s = String::new();
        z.by_name("alias.py")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "X = 1\n");
        // A dangling link is an error too: it would ship nothing the author meant.
        link(Path::new("missing.py"), &d.path().join("dangling.py"));
        let e = zip_dir(d.path()).err().unwrap();
        assert!(e.contains("dangling.py is a symbolic link"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_sockets_are_errors() {
        let d = folder();
        let _sock =
            std::os::unix::net::UnixListener::bind(d.path().join("pkg/agent.sock")).unwrap();
        let e = code_sha256(d.path()).unwrap_err();
        assert!(e.contains("agent.sock is not a regular file"), "{e}");
        let d = folder();
        let status = std::process::Command::new("mkfifo")
            .arg(d.path().join("pipe"))
            .status()
            .unwrap();
        assert!(status.success());
        // Opening a fifo would block forever: the error must come from the listing.
        let e = content_sha256(d.path()).unwrap_err();
        assert!(e.contains("pipe is not a regular file"), "{e}");
    }

    #[test]
    fn git_and_pycache_are_never_packaged() {
        let d = folder();
        fs::create_dir_all(d.path().join(".git/objects")).unwrap();
        fs::write(d.path().join(".git/config"), "[remote]\n").unwrap();
        fs::create_dir_all(d.path().join("pkg/.git")).unwrap();
        fs::write(d.path().join("pkg/.git/HEAD"), "ref").unwrap();
        let before = code(d.path()).unwrap();
        let p = zip_dir(d.path()).unwrap();
        let z = zip::ZipArchive::new(Cursor::new(p.bytes)).unwrap();
        let names: Vec<String> = z.file_names().map(|n| n.unwrap().to_string()).collect();
        assert!(
            names
                .iter()
                .all(|n| !n.contains(".git") && !n.contains("__pycache__")),
            "{names:?}"
        );
        fs::remove_dir_all(d.path().join(".git")).unwrap();
        assert_eq!(code(d.path()).unwrap().sha256, before.sha256);
    }

    #[test]
    fn files_named_like_secrets_are_reported() {
        let d = folder();
        fs::write(d.path().join(".env.production"), "DB_PASSWORD=x").unwrap();
        fs::write(d.path().join("pkg/id_rsa"), "key").unwrap();
        fs::write(
            d.path().join("pkg/server.pem"),
            "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        // A CA bundle is public: the shipped stack puts one in its layer.
        fs::write(
            d.path().join("ca.pem"),
            "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let want = vec![".env.production", "pkg/id_rsa", "pkg/server.pem"];
        assert_eq!(code(d.path()).unwrap().suspicious, want);
        assert_eq!(content(d.path()).unwrap().suspicious, want);
    }

    /// A 2 GB sparse file costs nothing to create and must cost nothing to refuse: the listing
    /// sees its size before any byte is read.
    #[test]
    fn a_huge_sparse_file_is_refused_at_once() {
        let d = folder();
        let f = fs::File::create(d.path().join("pkg/huge.bin")).unwrap();
        f.set_len(2 * 1024 * 1024 * 1024).unwrap();
        let start = std::time::Instant::now();
        for e in [
            code(d.path()).unwrap_err(),
            content(d.path()).unwrap_err(),
            zip_dir(d.path()).err().unwrap(),
            unzipped_size(d.path()).unwrap_err(),
        ] {
            assert!(e.contains("250 MB"), "{e}");
            assert!(e.contains("pkg/huge.bin"), "{e}");
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn the_unzipped_size_is_the_sum_of_the_files() {
        let d = folder();
        let expected = ("def lambda_handler(e, c):\n    return 1\n".len() + "X = 1\n".len()) as u64;
        assert_eq!(unzipped_size(d.path()).unwrap(), expected);
        assert_eq!(code(d.path()).unwrap().unzipped, expected);
    }

    /// Incompressible content stops the zip as soon as it passes the cap (the real cap is 50 MB;
    /// a small one keeps the test fast).
    #[test]
    fn the_zip_stops_growing_at_the_cap() {
        let d = folder();
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let noise: Vec<u8> = (0..256 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        fs::write(d.path().join("noise.bin"), noise).unwrap();
        let listing = list(d.path()).unwrap();
        let e = zip_listing(d.path(), &listing, 64 * 1024).err().unwrap();
        assert!(e.contains("more than 50 MB"), "{e}");
        assert!(zip_listing(d.path(), &listing, MAX_DIRECT_UPLOAD).is_ok());
    }
}
