//! Matching lockfile packages against advisories, applying ignores and the severity gate.

use std::collections::HashSet;

use chrono::NaiveDate;

use crate::db::Database;
use crate::ignore::Ignore;
use crate::lockfile::Inventory;
use crate::severity::{Rating, Severity, Source};

/// A vulnerable (or, for informational advisories, flagged) package.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The advisory id.
    pub id: String,
    /// Its aliases.
    pub aliases: Vec<String>,
    /// The package name as the lockfile (or report) spells it.
    pub package: String,
    /// Its version.
    pub version: String,
    /// `crates.io` or `PyPI`.
    pub ecosystem: String,
    /// The lockfile (or, for `ingest`, the report) it came from.
    pub lockfile: String,
    /// The line in the lockfile, when known.
    pub line: Option<usize>,
    /// The severity the gate uses.
    pub severity: Severity,
    /// The highest CVSS base score, when there was a vector.
    pub score: Option<f64>,
    /// Where the severity came from.
    pub severity_source: Source,
    /// Fixed versions or patched requirements.
    pub fixed: Vec<String>,
    /// The advisory's title.
    pub title: String,
    /// A link.
    pub url: Option<String>,
    /// For informational advisories (reported as warnings): `unmaintained`, `unsound`…
    pub informational: Option<String>,
    /// The reason of the ignore that accepts it, if one does.
    pub ignored: Option<String>,
}

impl Finding {
    /// Builds the severity fields from a rating.
    pub fn rate(&mut self, rating: &Rating, unknown_as: Severity) {
        self.severity = rating.effective(unknown_as);
        self.score = rating.score;
        self.severity_source = rating.source;
    }

    /// Whether it fails a gate at `fail_on` (ignored and informational ones never do).
    pub fn fails(&self, fail_on: Severity) -> bool {
        self.ignored.is_none() && self.informational.is_none() && self.severity >= fail_on
    }

    fn named_by(&self, id: &str) -> bool {
        self.id.eq_ignore_ascii_case(id) || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(id))
    }
}

/// The findings of a run, before output.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Vulnerabilities.
    pub findings: Vec<Finding>,
    /// Informational advisories that apply (warnings, never failing).
    pub warnings: Vec<Finding>,
    /// Ignores past their expiry date (each fails the gate).
    pub expired: Vec<Ignore>,
}

impl Outcome {
    /// Applies `ignores` on `today`: a finding named by a valid ignore is accepted; expired
    /// ignores are collected and accept nothing.
    pub fn apply_ignores(&mut self, ignores: &[Ignore], today: NaiveDate) {
        for ig in ignores {
            if ig.expired(today) {
                self.expired.push(ig.clone());
                continue;
            }
            for f in self.findings.iter_mut().chain(self.warnings.iter_mut()) {
                if f.ignored.is_none() && f.named_by(&ig.id) {
                    f.ignored = Some(ig.reason.clone());
                }
            }
        }
    }

    /// Whether the gate passes at `fail_on`.
    pub fn passes(&self, fail_on: Severity) -> bool {
        self.expired.is_empty() && !self.findings.iter().any(|f| f.fails(fail_on))
    }
}

/// Matches every package of `inv` against `db`. An advisory already reported for a package
/// under one of its aliases (the same issue in two databases) is reported once.
pub fn audit(inv: &Inventory, db: &Database, unknown_as: Severity) -> Outcome {
    let mut out = Outcome::default();
    for pkg in &inv.packages {
        let mut seen: HashSet<String> = HashSet::new();
        for adv in db.for_package(pkg) {
            if seen.contains(&adv.id) || adv.aliases.iter().any(|a| seen.contains(a)) {
                continue;
            }
            if !adv.affects(&pkg.version) {
                continue;
            }
            seen.insert(adv.id.clone());
            seen.extend(adv.aliases.iter().cloned());
            let mut f = Finding {
                id: adv.id.clone(),
                aliases: adv.aliases.clone(),
                package: pkg.name.clone(),
                version: pkg.version.clone(),
                ecosystem: pkg.ecosystem.as_str().to_string(),
                lockfile: pkg.lockfile.display().to_string(),
                line: pkg.line,
                severity: unknown_as,
                score: None,
                severity_source: Source::Unknown,
                fixed: adv.fixed.clone(),
                title: adv.title.clone(),
                url: adv.url.clone(),
                informational: adv.informational.clone(),
                ignored: None,
            };
            f.rate(&adv.rating, unknown_as);
            if f.informational.is_some() {
                out.warnings.push(f);
            } else {
                out.findings.push(f);
            }
        }
    }
    out
}
