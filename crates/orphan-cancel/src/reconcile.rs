//! The difference between the bot's view of its orders and the exchange's.
//!
//! Orders are matched by exchange order id, then by client id. Each difference is a finding:
//!
//! | kind         | meaning                                                                   |
//! |--------------|---------------------------------------------------------------------------|
//! | `orphan`     | open on the exchange, unknown locally (or locally final)                 |
//! | `ghost`      | open locally, absent on the exchange                                      |
//! | `quarantine` | open locally, absent on the exchange, older than `--quarantine-after`: mark it `unknown` and review by hand (seed 002) |
//! | `stale`      | open locally and on the exchange, but pending longer than `--stale-after` |

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use soak_core::record::{self, FieldsError, Record, Severity};

use crate::order::Order;

/// The kinds of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// Open on the exchange, not open locally.
    Orphan,
    /// Open locally, absent on the exchange.
    Ghost,
    /// A ghost older than the quarantine age.
    Quarantine,
    /// Open on both sides but pending too long.
    Stale,
}

impl FindingKind {
    /// The `kind` field's value.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Orphan => "orphan",
            FindingKind::Ghost => "ghost",
            FindingKind::Quarantine => "quarantine",
            FindingKind::Stale => "stale",
        }
    }

    /// How bad it is: an orphan is exposure nobody manages (high); a ghost or a quarantined
    /// order, a bot wrong about its own orders (medium); a stale one only slow (low, not failing).
    pub fn severity(self) -> Severity {
        match self {
            FindingKind::Orphan => Severity::High,
            FindingKind::Ghost | FindingKind::Quarantine => Severity::Medium,
            FindingKind::Stale => Severity::Low,
        }
    }
}

/// One difference.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What kind.
    pub kind: FindingKind,
    /// The exchange's order (orphan, stale) or the local one (ghost, quarantine).
    pub order: Order,
    /// The local status, when the bot knows the order.
    pub local_status: Option<String>,
    /// Why, in words.
    pub reason: String,
}

/// Thresholds.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Pending longer than this is stale.
    pub stale_after: Duration,
    /// A ghost older than this is to be quarantined.
    pub quarantine_after: Duration,
    /// "Now", Unix ms.
    pub now_ms: i64,
}

/// The result of a reconciliation.
#[derive(Debug, Clone, Default)]
pub struct Reconciliation {
    /// The differences.
    pub findings: Vec<Finding>,
    /// Orders open on both sides.
    pub matched: usize,
    /// Orders open on the exchange.
    pub exchange_open: usize,
    /// Orders open locally.
    pub local_open: usize,
}

impl Reconciliation {
    /// How many findings of `kind`.
    pub fn count(&self, kind: FindingKind) -> usize {
        self.findings.iter().filter(|f| f.kind == kind).count()
    }

    /// Passes when there is no orphan and no ghost (quarantine counts as a ghost).
    pub fn ok(&self) -> bool {
        self.count(FindingKind::Orphan)
            + self.count(FindingKind::Ghost)
            + self.count(FindingKind::Quarantine)
            == 0
    }
}

/// Compares local orders with the exchange's open orders.
pub fn reconcile(local: &[Order], exchange_open: &[Order], t: Thresholds) -> Reconciliation {
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    let mut by_client: HashMap<&str, usize> = HashMap::new();
    for (i, o) in exchange_open.iter().enumerate() {
        if !o.id.is_empty() {
            by_id.insert(&o.id, i);
        }
        if let Some(c) = o.client_id.as_deref().filter(|c| !c.is_empty()) {
            by_client.insert(c, i);
        }
    }
    let mut claimed = vec![None::<&Order>; exchange_open.len()];
    let mut out = Reconciliation {
        exchange_open: exchange_open.len(),
        ..Default::default()
    };
    for l in local {
        let hit = (!l.id.is_empty())
            .then(|| by_id.get(l.id.as_str()).copied())
            .flatten()
            .or_else(|| {
                l.client_id
                    .as_deref()
                    .and_then(|c| by_client.get(c).copied())
            });
        if let Some(i) = hit {
            claimed[i] = Some(l);
        }
        if l.is_terminal() {
            continue;
        }
        out.local_open += 1;
        let age = l.age_s(t.now_ms);
        match hit {
            Some(i) => {
                out.matched += 1;
                if age.is_some_and(|a| a > t.stale_after.as_secs_f64()) {
                    out.findings.push(Finding {
                        kind: FindingKind::Stale,
                        order: exchange_open[i].clone(),
                        local_status: Some(l.status.clone()),
                        reason: format!(
                            "pending for {:.0}s, longer than --stale-after {}s",
                            age.unwrap_or_default(),
                            t.stale_after.as_secs()
                        ),
                    });
                }
            }
            None => {
                let old = age.is_some_and(|a| a > t.quarantine_after.as_secs_f64());
                out.findings.push(Finding {
                    kind: if old { FindingKind::Quarantine } else { FindingKind::Ghost },
                    order: l.clone(),
                    local_status: Some(l.status.clone()),
                    reason: if old {
                        format!(
                            "open locally, missing on the exchange, older than {}s: mark unknown and review",
                            t.quarantine_after.as_secs()
                        )
                    } else {
                        "open locally, absent on the exchange".into()
                    },
                });
            }
        }
    }
    for (i, o) in exchange_open.iter().enumerate() {
        let local = claimed[i];
        if local.is_some_and(|l| !l.is_terminal()) {
            continue;
        }
        out.findings.push(Finding {
            kind: FindingKind::Orphan,
            order: o.clone(),
            local_status: local.map(|l| l.status.clone()),
            reason: match local {
                Some(l) => format!("open on the exchange, but '{}' locally", l.status),
                None => "open on the exchange, unknown locally".into(),
            },
        });
    }
    out
}

/// The `finding` record for one difference.
pub fn finding_record(f: &Finding, exchange: &str, now_ms: i64) -> Record {
    let o = &f.order;
    let kind = f.kind.as_str();
    let message = format!("{kind}: {} {}", o.named(), f.reason);
    let mut finding = record::Finding::new(kind, f.kind.severity(), message)
        .with("exchange", exchange)
        .with("category", o.category.clone())
        .with("symbol", o.symbol.as_str())
        .with("side", o.side.as_str())
        .with("qty", o.qty.clone())
        .with("price", o.price.clone())
        .with("order_id", o.id.as_str())
        .with("client_id", o.client_id.clone())
        .with("status", o.status.as_str())
        .with("local_status", f.local_status.clone())
        .with("created_ms", o.created_ms)
        .with("age_s", o.age_s(now_ms).map(|a| (a * 10.0).round() / 10.0))
        .with("reason", f.reason.as_str());
    if f.kind == FindingKind::Quarantine {
        finding.insert("mark_as", "unknown");
    }
    finding.into_record("orphan-cancel")
}

/// `orphan-cancel reconcile`'s summary, the last record of a reconciliation: how many orders
/// each side had open and how many differences of each kind. Written through
/// [`summary_record`]; a reader (the soak) reads it back as this type. Every field has a
/// default, so a summary that lacks one still reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReconcileSummary {
    /// The subcommand, `reconcile`.
    pub command: String,
    /// The exchange's name (`bybit`, `kraken`).
    pub exchange: String,
    /// Orders open on the exchange.
    pub exchange_open: usize,
    /// Orders open locally (in the bot's state).
    pub local_open: usize,
    /// Orders open on both sides.
    pub matched: usize,
    /// Open on the exchange and unknown to the bot.
    pub orphans: usize,
    /// Tracked by the bot and not open on the exchange.
    pub ghosts: usize,
    /// Ghosts gone long enough to be marked unknown.
    pub quarantined: usize,
    /// Matched orders open longer than the stale threshold.
    pub stale: usize,
    /// No orphan, ghost or quarantined order.
    pub ok: bool,
}

impl ReconcileSummary {
    /// The summary of `r`, reconciled against `exchange`.
    pub fn new(r: &Reconciliation, exchange: &str) -> Self {
        ReconcileSummary {
            command: "reconcile".into(),
            exchange: exchange.into(),
            exchange_open: r.exchange_open,
            local_open: r.local_open,
            matched: r.matched,
            orphans: r.count(FindingKind::Orphan),
            ghosts: r.count(FindingKind::Ghost),
            quarantined: r.count(FindingKind::Quarantine),
            stale: r.count(FindingKind::Stale),
            ok: r.ok(),
        }
    }
}

/// The `summary` record: its [`ReconcileSummary`].
pub fn summary_record(r: &Reconciliation, exchange: &str) -> Result<Record, FieldsError> {
    Record::summary("orphan-cancel", &ReconcileSummary::new(r, exchange))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str, client: Option<&str>, status: &str, created_ms: i64) -> Order {
        Order {
            id: id.into(),
            client_id: client.map(str::to_string),
            symbol: "BTCUSDT".into(),
            side: "Buy".into(),
            status: status.into(),
            created_ms: Some(created_ms),
            ..Default::default()
        }
    }

    const HOUR: i64 = 3_600_000;

    /// Stale after 15 minutes, quarantined after a day, at `now_ms`.
    fn thresholds(now_ms: i64) -> Thresholds {
        Thresholds {
            stale_after: Duration::from_secs(15 * 60),
            quarantine_after: Duration::from_secs(24 * 3600),
            now_ms,
        }
    }

    #[test]
    fn every_kind_of_difference() {
        let now = 100 * HOUR;
        let t = thresholds(now);
        let local = vec![
            order("A", Some("BOT_a"), "New", now - 60_000), // matched, fresh
            order("", Some("BOT_b"), "pending_new", now - HOUR), // matched by client id, stale
            order("C", None, "open", now - HOUR),           // ghost
            order("D", None, "open", now - 30 * HOUR),      // quarantine
            order("E", None, "Cancelled", now - HOUR),      // final locally, open on exchange
        ];
        let exchange = vec![
            order("A", Some("BOT_a"), "New", now - 60_000),
            order("B", Some("BOT_b"), "New", now - HOUR),
            order("E", None, "New", now - HOUR),
            order("X", Some("manual"), "New", now - HOUR), // orphan
        ];
        let r = reconcile(&local, &exchange, t);
        assert_eq!((r.matched, r.exchange_open, r.local_open), (2, 4, 4));
        let kinds: Vec<(&str, &str)> = r
            .findings
            .iter()
            .map(|f| (f.kind.as_str(), f.order.id.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("stale", "B"),
                ("ghost", "C"),
                ("quarantine", "D"),
                ("orphan", "E"),
                ("orphan", "X")
            ]
        );
        assert!(!r.ok());
        let rec = finding_record(&r.findings[2], "bybit", now);
        assert_eq!(rec.get_str("mark_as"), Some("unknown"));
        assert_eq!(rec.get_f64("age_s"), Some(30.0 * 3600.0));
    }

    #[test]
    fn the_summary_record_keeps_its_fields_and_reads_back_as_reconcile_summary() {
        let now = 100 * HOUR;
        let t = thresholds(now);
        let local = vec![order("A", Some("BOT_a"), "New", now - 60_000)];
        let exchange = vec![
            order("A", Some("BOT_a"), "New", now - 60_000),
            order("X", None, "New", now - 60_000),
        ];
        let r = reconcile(&local, &exchange, t);
        let rec = summary_record(&r, "bybit").expect("summary record");
        assert!(rec.to_line().ends_with(concat!(
            r#","command":"reconcile","exchange":"bybit","exchange_open":2,"local_open":1,"#,
            r#""matched":1,"orphans":1,"ghosts":0,"quarantined":0,"stale":0,"ok":false}"#
        )));
        let back: ReconcileSummary = rec.body().expect("reads back");
        assert_eq!(back, ReconcileSummary::new(&r, "bybit"));
        assert_eq!((back.orphans, back.matched), (1, 1));
    }

    #[test]
    fn findings_are_graded_and_say_which_order_in_one_line() {
        let rec = finding_record(
            &Finding {
                kind: FindingKind::Orphan,
                order: order("E", Some("BOT_1"), "New", 0),
                local_status: None,
                reason: "open on the exchange, unknown locally".into(),
            },
            "bybit",
            1000,
        );
        let f = record::Finding::from_record(&rec).expect("a finding");
        assert_eq!((f.kind.as_str(), f.severity), ("orphan", Severity::High));
        assert_eq!(
            f.message,
            "orphan: order E (BTCUSDT, client id BOT_1) open on the exchange, unknown locally"
        );
        assert_eq!(FindingKind::Stale.severity(), Severity::Low);
        assert!(FindingKind::Ghost.severity() < FindingKind::Orphan.severity());
    }

    #[test]
    fn identical_views_are_ok() {
        let o = vec![order("A", None, "New", 0)];
        let r = reconcile(
            &o,
            &o,
            Thresholds {
                stale_after: Duration::from_secs(1 << 40),
                quarantine_after: Duration::from_secs(1 << 40),
                now_ms: 1,
            },
        );
        assert!(r.ok() && r.findings.is_empty() && r.matched == 1);
    }
}
