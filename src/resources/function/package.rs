//! Reproducible zips of function and layer folders.
//!
//! Lambda identifies code by `CodeSha256` = base64(SHA-256(zip bytes)), so the same files must
//! always give the same bytes: entries sorted by path, no directory entries, a fixed timestamp
//! (1980-01-01, the zip epoch), fixed permissions (0644, or 0755 for executables), a fixed "made
//! by" system, deflate. Byte-compiled Python and Finder litter are left out, since they change
//! on every run without the source changing.
//!
//! This is local, deterministic file I/O, not AWS: `spec` calls [`code_sha256`] so that the plan
//! can compare the folder with the deployed code. Layers are compared by [`content_sha256`], a
//! hash of the same file list that skips compression (layer folders are large, and the plan runs
//! it on every `plan`); the zip itself is only built at apply.

use std::fs;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

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

/// One file to put in the zip.
struct Entry {
    /// Path inside the zip, `/`-separated.
    name: String,
    path: PathBuf,
    mode: u32,
}

/// base64(SHA-256(bytes)), the form Lambda reports as `CodeSha256`.
pub fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// Zips `dir` reproducibly.
pub fn zip_dir(dir: &Path) -> Result<Package, String> {
    let entries = entries(dir)?;
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let mut buf = Vec::new();
    for e in &entries {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(DateTime::default())
            .system(System::Unix)
            .unix_permissions(e.mode)
            .large_file(false);
        buf.clear();
        fs::File::open(&e.path)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .map_err(|err| format!("cannot read {}: {err}", e.path.display()))?;
        zip.start_file(e.name.as_str(), options)
            .and_then(|_| zip.write_all(&buf).map_err(Into::into))
            .map_err(|err| format!("cannot zip {}: {err}", e.path.display()))?;
    }
    let bytes = zip
        .finish()
        .map_err(|err| format!("cannot zip {}: {err}", dir.display()))?
        .into_inner();
    let sha256 = sha256_base64(&bytes);
    Ok(Package { bytes, sha256 })
}

/// The `CodeSha256` Lambda will report for the zip of `dir`, checked against the direct-upload
/// limit so that a too-large folder is a plan error rather than an apply failure.
pub fn code_sha256(dir: &Path) -> Result<String, String> {
    let p = zip_dir(dir)?;
    check_size(dir, p.bytes.len())?;
    Ok(p.sha256)
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
pub fn content_sha256(dir: &Path) -> Result<String, String> {
    let entries = entries(dir)?;
    let mut h = Sha256::new();
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for e in &entries {
        let mut f = fs::File::open(&e.path)
            .map_err(|err| format!("cannot read {}: {err}", e.path.display()))?;
        let len = f
            .metadata()
            .map_err(|err| format!("cannot read {}: {err}", e.path.display()))?
            .len();
        total += len;
        h.update(e.name.as_bytes());
        h.update([0]);
        h.update(e.mode.to_le_bytes());
        h.update(len.to_le_bytes());
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|err| format!("cannot read {}: {err}", e.path.display()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    if total > MAX_UNZIPPED {
        return Err(format!(
            "{} holds {:.0} MB; Lambda allows at most 250 MB unzipped for a function and its layers",
            dir.display(),
            total as f64 / 1024.0 / 1024.0
        ));
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(h.finalize()))
}

fn skipped(name: &str) -> bool {
    name == "__pycache__" || name == ".DS_Store" || name.ends_with(".pyc")
}

/// Every file under `dir`, sorted by zip path. Symlinks are followed (a layer built with
/// `pip install` may contain some); a directory link back into its own ancestry is refused.
fn entries(dir: &Path) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    let mut ancestry = Vec::new();
    walk(dir, "", &mut ancestry, &mut out)?;
    if out.is_empty() {
        return Err(format!("{} has no files to deploy", dir.display()));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn walk(
    dir: &Path,
    prefix: &str,
    ancestry: &mut Vec<PathBuf>,
    out: &mut Vec<Entry>,
) -> Result<(), String> {
    let canonical = dir
        .canonicalize()
        .map_err(|err| format!("cannot read {}: {err}", dir.display()))?;
    if ancestry.contains(&canonical) {
        return Err(format!(
            "{} links back to one of its parent folders",
            dir.display()
        ));
    }
    ancestry.push(canonical);
    let read = fs::read_dir(dir).map_err(|err| format!("cannot read {}: {err}", dir.display()))?;
    for item in read {
        let item = item.map_err(|err| format!("cannot read {}: {err}", dir.display()))?;
        let path = item.path();
        let Some(name) = item.file_name().to_str().map(str::to_string) else {
            return Err(format!("{}: file names must be UTF-8", path.display()));
        };
        if skipped(&name) {
            continue;
        }
        let meta =
            fs::metadata(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        let zip_name = format!("{prefix}{name}");
        if meta.is_dir() {
            walk(&path, &format!("{zip_name}/"), ancestry, out)?;
        } else if meta.is_file() {
            out.push(Entry {
                name: zip_name,
                path,
                mode: mode_of(&meta),
            });
        }
    }
    ancestry.pop();
    Ok(())
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
}
