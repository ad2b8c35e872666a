//! Files a tool writes on request (`--output`, `--write-analysis`, `--plot`): made as a temporary file created
//! exclusively (`O_CREAT|O_EXCL`, so never through a symbolic link or into an existing file)
//! with a random name in the target's own directory, then renamed over the target. A link
//! planted at the target's name is replaced, never written through; a reader never sees half a
//! file.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing {}: {source}", path.display())]
pub struct OutError {
    /// The file asked for.
    pub path: PathBuf,
    /// The cause.
    pub source: std::io::Error,
}

/// Creates `path` from what `fill` writes into the temporary file it is given (same
/// directory, same extension), then renames it over `path` with mode 0644.
pub fn replace_with<E: std::fmt::Display>(
    path: &Path,
    fill: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), OutError> {
    let fail = |source| OutError {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(&format!(".tmp{suffix}"))
        .tempfile_in(dir)
        .map_err(fail)?;
    fill(tmp.path()).map_err(|e| fail(std::io::Error::other(e.to_string())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(fail)?;
    }
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Writes `bytes` as `path` (see [`replace_with`]).
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), OutError> {
    replace_with(path, |tmp| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(tmp)
            .and_then(|mut f| f.write_all(bytes))
    })
}

/// Unix only: creating a symlink on Windows needs a privilege a test cannot assume.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_link_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().expect("tmp");
        let outside = tempfile::tempdir().expect("tmp");
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "keep").expect("write");
        let target = dir.path().join("analysis.json");
        std::os::unix::fs::symlink(&victim, &target).expect("link");
        write(&target, b"{}\n").expect("write");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep");
        assert!(
            !std::fs::symlink_metadata(&target)
                .expect("meta")
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "{}\n");
        // Nothing else is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    }
}
