//! OSV records (JSON or YAML) and their version matching.
//!
//! Only the fields matching needs are read; unknown fields are ignored, so a newer schema
//! still loads. Ranges follow the OSV rules: events in version order, `introduced` opens,
//! `fixed` closes exclusively, `last_affected` closes inclusively, `limit` caps; a `GIT` range
//! (commit hashes) is skipped, never taken as the end of the ranges; the explicit `versions`
//! list matches too.

use std::cmp::Ordering;

use rustsec::semver;
use serde::Deserialize;

use crate::lockfile::Ecosystem;

/// An OSV record as stored in a file.
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    /// The id (`PYSEC-…`, `GHSA-…`, `RUSTSEC-…`).
    pub id: String,
    /// Other ids of the same issue.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// When it was withdrawn, if it was.
    #[serde(default)]
    pub withdrawn: Option<String>,
    /// One-line summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// Longer description.
    #[serde(default)]
    pub details: Option<String>,
    /// The affected packages.
    #[serde(default)]
    pub affected: Vec<Affected>,
    /// Severity vectors.
    #[serde(default)]
    pub severity: Vec<SeverityEntry>,
    /// Database-specific data (GitHub's `severity` word lives here).
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
    /// Reference links.
    #[serde(default)]
    pub references: Vec<Reference>,
}

/// A reference link.
#[derive(Debug, Clone, Deserialize)]
pub struct Reference {
    /// The link.
    #[serde(default)]
    pub url: String,
}

/// A `severity` entry (`CVSS_V3` and a vector).
#[derive(Debug, Clone, Deserialize)]
pub struct SeverityEntry {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The vector.
    #[serde(default)]
    pub score: String,
}

/// An `affected` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct Affected {
    /// The package.
    #[serde(default)]
    pub package: Option<PackageRef>,
    /// Version ranges.
    #[serde(default)]
    pub ranges: Vec<Range>,
    /// Explicitly affected versions.
    #[serde(default)]
    pub versions: Vec<String>,
    /// Per-package severity.
    #[serde(default)]
    pub severity: Vec<SeverityEntry>,
    /// Per-package database data (RustSec's `informational` in its OSV export).
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

/// The package an `affected` entry names.
#[derive(Debug, Clone, Deserialize)]
pub struct PackageRef {
    /// `PyPI`, `crates.io`, …
    #[serde(default)]
    pub ecosystem: String,
    /// The name.
    #[serde(default)]
    pub name: String,
}

/// A range: its type and events.
#[derive(Debug, Clone, Deserialize)]
pub struct Range {
    /// `ECOSYSTEM`, `SEMVER` or `GIT`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The events.
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One range event (exactly one field set).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Event {
    /// Start of an affected span.
    #[serde(default)]
    pub introduced: Option<String>,
    /// First unaffected version.
    #[serde(default)]
    pub fixed: Option<String>,
    /// Last affected version (inclusive).
    #[serde(default)]
    pub last_affected: Option<String>,
    /// Upper limit.
    #[serde(default)]
    pub limit: Option<String>,
}

/// A version of one ecosystem, ordered by that ecosystem's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// The `0` of `introduced: "0"`: before every version.
    Zero,
    /// A crates.io version.
    Semver(semver::Version),
    /// A PyPI version.
    Pep440(pep440_rs::Version),
}

impl Version {
    /// Parses `s` as a version of `eco`.
    pub fn parse(eco: Ecosystem, s: &str) -> Option<Version> {
        let s = s.trim();
        match eco {
            Ecosystem::CratesIo if s == "0" => Some(Version::Zero),
            Ecosystem::CratesIo => semver::Version::parse(s).ok().map(Version::Semver),
            Ecosystem::PyPI => s.parse().ok().map(Version::Pep440),
        }
    }

    fn cmp_same(&self, other: &Version) -> Ordering {
        match (self, other) {
            (Version::Zero, Version::Zero) => Ordering::Equal,
            (Version::Zero, _) => Ordering::Less,
            (_, Version::Zero) => Ordering::Greater,
            (Version::Semver(a), Version::Semver(b)) => a.cmp(b),
            (Version::Pep440(a), Version::Pep440(b)) => a.cmp(b),
            // Different ecosystems never meet: a range's versions are parsed as the package's.
            (Version::Semver(_), Version::Pep440(_)) => Ordering::Less,
            (Version::Pep440(_), Version::Semver(_)) => Ordering::Greater,
        }
    }
}

/// An event with its version parsed.
#[derive(Debug, Clone)]
pub enum Bound {
    /// `introduced`.
    Introduced(Version),
    /// `fixed`.
    Fixed(Version),
    /// `last_affected`.
    LastAffected(Version),
    /// `limit`.
    Limit(Version),
}

impl Bound {
    fn version(&self) -> &Version {
        match self {
            Bound::Introduced(v) | Bound::Fixed(v) | Bound::LastAffected(v) | Bound::Limit(v) => v,
        }
    }
    fn rank(&self) -> u8 {
        match self {
            Bound::Introduced(_) => 0,
            Bound::LastAffected(_) => 1,
            Bound::Fixed(_) => 2,
            Bound::Limit(_) => 3,
        }
    }
}

/// A range whose versions did not parse.
#[derive(Debug, thiserror::Error)]
#[error("range event '{0}' is not a {1} version")]
pub struct BadVersion(pub String, pub &'static str);

/// One ecosystem range, parsed and sorted, ready to match.
#[derive(Debug, Clone)]
pub struct ParsedRange(Vec<Bound>);

impl ParsedRange {
    /// Parses an `ECOSYSTEM`/`SEMVER` range's events as versions of `eco`; `None` for a `GIT`
    /// (or other non-version) range, which is skipped.
    pub fn parse(eco: Ecosystem, range: &Range) -> Option<Result<ParsedRange, BadVersion>> {
        if !matches!(range.kind.as_str(), "ECOSYSTEM" | "SEMVER") {
            return None;
        }
        Some(Self::parse_events(eco, &range.events))
    }

    fn parse_events(eco: Ecosystem, events: &[Event]) -> Result<ParsedRange, BadVersion> {
        let parse =
            |s: &str| Version::parse(eco, s).ok_or_else(|| BadVersion(s.to_string(), eco.as_str()));
        let mut bounds = Vec::new();
        for e in events {
            let b = if let Some(v) = &e.introduced {
                Bound::Introduced(parse(v)?)
            } else if let Some(v) = &e.fixed {
                Bound::Fixed(parse(v)?)
            } else if let Some(v) = &e.last_affected {
                Bound::LastAffected(parse(v)?)
            } else if let Some(v) = &e.limit {
                Bound::Limit(parse(v)?)
            } else {
                continue;
            };
            bounds.push(b);
        }
        bounds.sort_by(|a, b| {
            a.version()
                .cmp_same(b.version())
                .then(a.rank().cmp(&b.rank()))
        });
        Ok(ParsedRange(bounds))
    }

    /// Whether `v` falls in the range.
    pub fn affects(&self, v: &Version) -> bool {
        let mut affected = false;
        for b in &self.0 {
            let ord = b.version().cmp_same(v);
            match b {
                Bound::Introduced(_) if ord != Ordering::Greater => affected = true,
                Bound::Fixed(_) | Bound::Limit(_) if ord != Ordering::Greater => affected = false,
                Bound::LastAffected(_) if ord == Ordering::Less => affected = false,
                _ => break, // sorted: every later event is above v too
            }
        }
        affected
    }
}

/// The matcher of one `affected` entry: its version ranges and its explicit versions.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    /// The parsed ranges.
    pub ranges: Vec<ParsedRange>,
    /// The explicit versions.
    pub versions: Vec<Version>,
    /// The `fixed` versions, for the report.
    pub fixed: Vec<String>,
}

impl Matcher {
    /// Builds the matcher of `affected` for `eco`.
    pub fn new(eco: Ecosystem, affected: &Affected) -> Result<Matcher, BadVersion> {
        let mut m = Matcher::default();
        for r in &affected.ranges {
            if let Some(parsed) = ParsedRange::parse(eco, r) {
                m.ranges.push(parsed?);
                m.fixed
                    .extend(r.events.iter().filter_map(|e| e.fixed.clone()));
            }
        }
        // Explicit versions that do not parse (tags like `v1.0-rc`) cannot equal a parsed
        // lockfile version; they are left out rather than failing the advisory.
        m.versions = affected
            .versions
            .iter()
            .filter_map(|s| Version::parse(eco, s))
            .collect();
        Ok(m)
    }

    /// Whether `v` is affected.
    pub fn affects(&self, v: &Version) -> bool {
        self.versions
            .iter()
            .any(|x| x.cmp_same(v) == Ordering::Equal)
            || self.ranges.iter().any(|r| r.affects(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, v: &str) -> Event {
        let mut e = Event::default();
        match kind {
            "introduced" => e.introduced = Some(v.into()),
            "fixed" => e.fixed = Some(v.into()),
            "last_affected" => e.last_affected = Some(v.into()),
            _ => e.limit = Some(v.into()),
        }
        e
    }

    fn range(kind: &str, events: Vec<Event>) -> Range {
        Range {
            kind: kind.into(),
            events,
        }
    }

    fn pypi(s: &str) -> Version {
        Version::parse(Ecosystem::PyPI, s).expect("version")
    }

    #[test]
    fn git_range_first_is_skipped_not_the_end() {
        let a = Affected {
            package: None,
            ranges: vec![
                range("GIT", vec![ev("introduced", "0"), ev("fixed", "abcdef")]),
                range(
                    "ECOSYSTEM",
                    vec![ev("introduced", "0"), ev("fixed", "3.7.4")],
                ),
            ],
            versions: vec![],
            severity: vec![],
            database_specific: None,
        };
        let m = Matcher::new(Ecosystem::PyPI, &a).expect("matcher");
        assert!(m.affects(&pypi("3.7.3")));
        assert!(!m.affects(&pypi("3.7.4")));
        assert_eq!(m.fixed, vec!["3.7.4"]);
    }

    #[test]
    fn last_affected_is_inclusive_and_pep440_orders() {
        let r = ParsedRange::parse(
            Ecosystem::PyPI,
            &range(
                "ECOSYSTEM",
                vec![ev("introduced", "1.0"), ev("last_affected", "1.10")],
            ),
        )
        .expect("ecosystem")
        .expect("parses");
        assert!(r.affects(&pypi("1.10")));
        assert!(r.affects(&pypi("1.9")));
        assert!(!r.affects(&pypi("1.10.1")));
        assert!(!r.affects(&pypi("1.0rc1")));
        assert!(r.affects(&pypi("1.0")));
    }

    #[test]
    fn several_spans_in_one_range() {
        let r = ParsedRange::parse(
            Ecosystem::CratesIo,
            &range(
                "SEMVER",
                vec![
                    ev("introduced", "0"),
                    ev("fixed", "0.5.0"),
                    ev("introduced", "1.0.0"),
                    ev("fixed", "1.2.0"),
                ],
            ),
        )
        .expect("semver")
        .expect("parses");
        let v = |s| Version::parse(Ecosystem::CratesIo, s).expect("v");
        assert!(r.affects(&v("0.4.9")));
        assert!(!r.affects(&v("0.9.0")));
        assert!(r.affects(&v("1.1.0")));
        assert!(!r.affects(&v("1.2.0")));
    }
}
