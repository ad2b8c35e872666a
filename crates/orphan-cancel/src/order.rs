//! One order, as the bot or the exchange sees it, and what its status means.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An order, normalised across exchanges and local state formats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Order {
    /// The exchange's order id (Bybit `orderId`, Kraken txid); empty when only a client id is
    /// known locally.
    pub id: String,
    /// The bot's own id for the order (Bybit `orderLinkId`, Kraken `cl_ord_id` or `userref`).
    pub client_id: Option<String>,
    /// The instrument (`BTCUSDT`, `XBTUSD`).
    pub symbol: String,
    /// `Buy`/`Sell` (exchange spelling kept).
    pub side: String,
    /// Quantity, as the source wrote it.
    pub qty: Option<String>,
    /// Limit price, as the source wrote it.
    pub price: Option<String>,
    /// Status, as the source wrote it.
    pub status: String,
    /// Bybit category (`linear`, `spot`, ...), when known.
    pub category: Option<String>,
    /// Creation time, Unix milliseconds.
    pub created_ms: Option<i64>,
}

impl Order {
    /// True when the status is final (filled, cancelled, rejected, expired, closed).
    pub fn is_terminal(&self) -> bool {
        is_terminal_status(&self.status)
    }

    /// Age at `now_ms`, in seconds, when the creation time is known.
    pub fn age_s(&self, now_ms: i64) -> Option<f64> {
        self.created_ms.map(|c| (now_ms - c) as f64 / 1000.0)
    }

    /// The order named in a message: `order 123 (BTCUSDT, client id BOT_1)`.
    pub fn named(&self) -> String {
        format!(
            "order {} ({}{})",
            self.id,
            self.symbol,
            self.client_id
                .as_deref()
                .map_or_else(String::new, |c| format!(", client id {c}"))
        )
    }

    /// A short label for messages: the client id, else the order id.
    pub fn label(&self) -> &str {
        self.client_id
            .as_deref()
            .filter(|c| !c.is_empty())
            .unwrap_or(&self.id)
    }
}

/// True for statuses after which an order can no longer trade, in any exchange's or bot's
/// spelling (`Filled`, `CANCELED`, `cancelled`, `PartiallyFilledCanceled`, `closed`, ...).
pub fn is_terminal_status(status: &str) -> bool {
    let s: String = status
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        s.as_str(),
        "filled"
            | "cancelled"
            | "canceled"
            | "partiallyfilledcanceled"
            | "partiallyfilledcancelled"
            | "rejected"
            | "expired"
            | "closed"
            | "deactivated"
            | "done"
    )
}

/// Reads a timestamp in any of the usual shapes into Unix milliseconds: a number or numeric
/// string of seconds (fractional allowed), milliseconds or microseconds (told apart by size),
/// RFC 3339, or SQLite's `YYYY-MM-DD HH:MM:SS[.fff]` (UTC).
pub fn parse_time_ms(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_f64().map(number_to_ms),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(f) = s.parse::<f64>() {
                return Some(number_to_ms(f));
            }
            if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
                return Some(dt.timestamp_millis());
            }
            for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
                if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
                    return Some(dt.and_utc().timestamp_millis());
                }
            }
            None
        }
        _ => None,
    }
}

fn number_to_ms(f: f64) -> i64 {
    if f > 1e14 {
        (f / 1000.0) as i64 // microseconds
    } else if f > 1e11 {
        f as i64 // milliseconds
    } else {
        (f * 1000.0) as i64 // seconds
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A JSON scalar as text (`"0.5"` and `0.5` both give `0.5`); `None` for null/absent/objects.
pub fn scalar_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn terminal_statuses_in_every_spelling() {
        for s in [
            "Filled",
            "CANCELED",
            "cancelled",
            "PartiallyFilledCanceled",
            "closed",
            "Rejected",
        ] {
            assert!(is_terminal_status(s), "{s}");
        }
        for s in [
            "New",
            "PartiallyFilled",
            "open",
            "pending_new",
            "Untriggered",
            "pending",
        ] {
            assert!(!is_terminal_status(s), "{s}");
        }
    }

    #[test]
    fn times_in_seconds_millis_micros_and_text() {
        let ms = 1_700_000_000_000;
        assert_eq!(parse_time_ms(&json!(1_700_000_000)), Some(ms));
        assert_eq!(parse_time_ms(&json!(1_700_000_000.25)), Some(ms + 250));
        assert_eq!(parse_time_ms(&json!("1700000000000")), Some(ms));
        assert_eq!(parse_time_ms(&json!(1_700_000_000_000_000_i64)), Some(ms));
        assert_eq!(parse_time_ms(&json!("2023-11-14T22:13:20Z")), Some(ms));
        assert_eq!(parse_time_ms(&json!("2023-11-14 22:13:20")), Some(ms));
        assert_eq!(parse_time_ms(&json!("yesterday")), None);
    }
}
