//! The ignore file (`.seccheck.toml`): advisories accepted for a reason, until an expiry
//! date.
//!
//! ```toml
//! [[ignore]]
//! id = "RUSTSEC-2023-0071"          # or any alias (CVE-…, GHSA-…)
//! reason = "rsa: no private-key operations on attacker-timed input"
//! expires = "2027-01-31"            # optional; after it the ignore fails the gate
//! ```

use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::textfile::{FileError, line_of, read_text};

/// One accepted advisory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    /// The advisory id or alias.
    pub id: String,
    /// Why it is accepted (required).
    pub reason: String,
    /// The last day it holds, if any.
    pub expires: Option<NaiveDate>,
}

impl Ignore {
    /// Whether it has expired on `today` (an ignore holds through its expiry day).
    pub fn expired(&self, today: NaiveDate) -> bool {
        self.expires.is_some_and(|d| today > d)
    }
}

/// An ignore file that cannot be used: unreadable, or malformed at a line.
pub type IgnoreError = FileError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    ignore: Vec<toml::Spanned<Entry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    expires: Option<String>,
}

/// Reads an ignore file.
pub fn load(path: &Path) -> Result<Vec<Ignore>, IgnoreError> {
    let text = read_text(path)?;
    let bad = |line: usize, message: String| FileError::malformed(path, line, message);
    let file: File = toml::from_str(&text).map_err(|e| FileError::toml(path, &text, &e))?;
    let mut out = Vec::new();
    for spanned in file.ignore {
        let line = line_of(&text, spanned.span().start);
        let e = spanned.into_inner();
        let reason = e
            .reason
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| bad(line, format!("ignore of {} has no reason (required)", e.id)))?;
        let expires = match e.expires {
            None => None,
            Some(s) => Some(NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| {
                bad(
                    line,
                    format!("ignore of {}: expires '{s}' is not a YYYY-MM-DD date", e.id),
                )
            })?),
        };
        out.push(Ignore {
            id: e.id,
            reason,
            expires,
        });
    }
    Ok(out)
}
