//! The compression formats `--compress` offers.

/// The compression formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Codec {
    /// gzip, level 6 (as `gzip -6`).
    Gzip,
    /// zstd, level 3.
    Zstd,
}

impl Codec {
    /// The suffix it adds.
    pub fn suffix(self) -> &'static str {
        match self {
            Codec::Gzip => ".gz",
            Codec::Zstd => ".zst",
        }
    }
}
