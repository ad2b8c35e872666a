//! Severity: from CVSS v2/v3/v4 base scores (standard rating bands, the highest of several
//! vectors), else the database's own rating (GitHub's `MODERATE` is `MEDIUM`), else unknown.

use std::str::FromStr;

/// A severity rating; the order is the gate's order. The protocol's own grades (core's
/// [`soak_core::record::Severity`]), with the CVSS bands and the databases' words.
pub use soak_core::record::Severity;

/// Where a severity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A CVSS vector's base score.
    Cvss,
    /// The database's own rating.
    Database,
    /// Neither: `--unknown-severity` decided.
    Unknown,
}

impl Source {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cvss => "cvss",
            Source::Database => "database",
            Source::Unknown => "unknown",
        }
    }
}

/// An advisory's rating before `--unknown-severity` applies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rating {
    /// The band, when known.
    pub severity: Option<Severity>,
    /// The highest CVSS base score, when there was a vector.
    pub score: Option<f64>,
    /// Where it came from.
    pub source: Source,
}

impl Rating {
    /// No rating.
    pub const UNKNOWN: Rating = Rating {
        severity: None,
        score: None,
        source: Source::Unknown,
    };

    /// The highest score of the CVSS `vectors` that parse; else the first database `words`
    /// that is a rating; else unknown.
    pub fn from_parts<'a>(
        vectors: impl IntoIterator<Item = &'a str>,
        words: impl IntoIterator<Item = &'a str>,
    ) -> Rating {
        let best = vectors
            .into_iter()
            .filter_map(|v| cvss::Cvss::from_str(v.trim()).ok())
            .map(|c| c.score())
            .fold(None, |acc: Option<f64>, s| {
                Some(acc.map_or(s, |a| a.max(s)))
            });
        if let Some(score) = best {
            return Rating {
                severity: Some(Severity::from_score(score)),
                score: Some(score),
                source: Source::Cvss,
            };
        }
        let word = words.into_iter().filter_map(Severity::from_word).max();
        match word {
            Some(s) => Rating {
                severity: Some(s),
                score: None,
                source: Source::Database,
            },
            None => Rating::UNKNOWN,
        }
    }

    /// The severity the gate uses: the known one, else `unknown_as`.
    pub fn effective(&self, unknown_as: Severity) -> Severity {
        self.severity.unwrap_or(unknown_as)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_vector_wins_and_bands_apply() {
        let r = Rating::from_parts(
            [
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
            ],
            [],
        );
        assert_eq!(r.score, Some(9.8));
        assert_eq!(r.severity, Some(Severity::Critical));
        assert_eq!(r.source, Source::Cvss);
    }

    #[test]
    fn cvss_v4_is_scored() {
        let r = Rating::from_parts(
            ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"],
            [],
        );
        assert_eq!(r.severity, Some(Severity::Critical));
    }

    #[test]
    fn moderate_is_medium_and_unknown_falls_back() {
        let r = Rating::from_parts(["garbage"], ["MODERATE"]);
        assert_eq!(r.severity, Some(Severity::Medium));
        assert_eq!(r.source, Source::Database);
        assert_eq!(Rating::UNKNOWN.effective(Severity::High), Severity::High);
    }
}
