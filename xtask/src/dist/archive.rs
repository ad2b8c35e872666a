//! The release archive: `NAME/bin/*`, `NAME/share/{bash-completion,zsh,fish,man}/...` (the
//! layout of an install prefix, so `cp -r bin share ~/.local` installs it), the README and the
//! licences at the top, gzip-compressed, with a `sha256sum -c` compatible checksum file.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::generate::{self, TOOLS};
use super::safe_write::{PendingFile, write_file};

/// What goes into one archive.
pub struct Inputs {
    /// The archive's name without `.tar.gz`, also its top directory.
    pub name: String,
    /// The directory holding every tool's binary.
    pub bin_dir: PathBuf,
    /// Files placed at the archive's top (README, licences).
    pub docs: Vec<PathBuf>,
    /// Where the archive and checksum are written (created if missing).
    pub out: PathBuf,
}

/// The files `write` produced.
pub struct Written {
    /// `OUT/NAME.tar.gz`.
    pub archive: PathBuf,
    /// `OUT/NAME.tar.gz.sha256`.
    pub checksum: PathBuf,
}

/// Writes the archive and its checksum.
pub fn write(inputs: &Inputs) -> Result<Written> {
    super::check_built(&inputs.bin_dir)?;
    std::fs::create_dir_all(&inputs.out)
        .with_context(|| format!("cannot create {}", inputs.out.display()))?;
    let file_name = format!("{}.tar.gz", inputs.name);
    let archive = inputs.out.join(&file_name);
    let mut pending = PendingFile::create(&archive, 0o644)?;
    {
        let gz = GzEncoder::new(pending.file(), Compression::default());
        let mut tar = tar::Builder::new(gz);
        let mtime = archive_mtime();
        let top = Path::new(&inputs.name);
        for tool in &TOOLS {
            let bin = inputs.bin_dir.join(tool.bin);
            let bytes =
                std::fs::read(&bin).with_context(|| format!("cannot read {}", bin.display()))?;
            append(
                &mut tar,
                &top.join("bin").join(tool.bin),
                &bytes,
                0o755,
                mtime,
            )?;
            let cmd = tool.command(tool.bin);
            let mut generated = generate::completions(&cmd);
            generated.extend(generate::man_pages(&cmd)?);
            for g in generated {
                append(&mut tar, &top.join(&g.rel_path), &g.contents, 0o644, mtime)?;
            }
        }
        for doc in &inputs.docs {
            let bytes =
                std::fs::read(doc).with_context(|| format!("cannot read {}", doc.display()))?;
            let name = doc
                .file_name()
                .with_context(|| format!("{} has no file name", doc.display()))?;
            append(&mut tar, &top.join(name), &bytes, 0o644, mtime)?;
        }
        tar.into_inner()
            .and_then(GzEncoder::finish)
            .with_context(|| format!("cannot write {}", archive.display()))?;
    }
    pending.commit()?;
    let checksum = inputs.out.join(format!("{file_name}.sha256"));
    let line = format!("{}  {file_name}\n", sha256_file(&archive)?);
    write_file(&checksum, line.as_bytes(), 0o644)?;
    Ok(Written { archive, checksum })
}

fn append<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    path: &Path,
    bytes: &[u8],
    mode: u32,
    mtime: u64,
) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(mode);
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, bytes)
        .with_context(|| format!("cannot add {} to the archive", path.display()))
}

/// `$SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
fn archive_mtime() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })
}

/// The file's SHA-256, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
