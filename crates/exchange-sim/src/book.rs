//! The simulated order book: every order the simulator knows, open or not, per exchange.

use serde::{Deserialize, Serialize};

/// Which exchange an order lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Venue {
    /// Bybit v5.
    Bybit,
    /// Kraken spot.
    Kraken,
}

/// One order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimOrder {
    /// The exchange.
    pub exchange: Venue,
    /// Bybit category (`linear`, `spot`, ...); Kraken orders have none.
    #[serde(default)]
    pub category: Option<String>,
    /// Order id (generated when absent in a seed file).
    #[serde(default)]
    pub id: String,
    /// Client id (Bybit `orderLinkId`, Kraken `cl_ord_id`).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Kraken `userref`.
    #[serde(default)]
    pub userref: Option<i64>,
    /// Instrument.
    pub symbol: String,
    /// `Buy`/`Sell` (Bybit) or `buy`/`sell` (Kraken).
    #[serde(default = "default_side")]
    pub side: String,
    /// Quantity.
    #[serde(default = "default_qty")]
    pub qty: String,
    /// Limit price.
    #[serde(default = "default_price")]
    pub price: String,
    /// `open`, `cancelled` or `filled`.
    #[serde(default = "default_status")]
    pub status: String,
    /// Creation time, Unix ms (now when absent).
    #[serde(default)]
    pub created_ms: i64,
    /// The request path that cancelled it, for tests that check who touched what.
    #[serde(default)]
    pub cancelled_by: Option<String>,
}

fn default_side() -> String {
    "Buy".into()
}
fn default_qty() -> String {
    "0.01".into()
}
fn default_price() -> String {
    "30000".into()
}
fn default_status() -> String {
    "open".into()
}

impl SimOrder {
    /// True while the order can still trade.
    pub fn is_open(&self) -> bool {
        self.status == "open"
    }
}

/// All orders.
#[derive(Debug, Default)]
pub struct Book {
    orders: Vec<SimOrder>,
    next: u64,
}

impl Book {
    /// A book holding `orders` (ids generated where missing).
    pub fn new(orders: Vec<SimOrder>, now_ms: i64) -> Self {
        let mut book = Book::default();
        for o in orders {
            book.insert(o, now_ms);
        }
        book
    }

    /// A fresh order id in the exchange's own shape.
    pub fn new_id(&mut self, venue: Venue) -> String {
        self.next += 1;
        let n = self.next;
        match venue {
            // Bybit ids are UUIDs.
            Venue::Bybit => format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                n * 2654435761 % 0xffff_ffff,
                n % 0xffff,
                n % 0xfff,
                (n * 7) % 0xfff,
                n
            ),
            // Kraken txids look like OABCDE-FGHIJ-KLMNOP.
            Venue::Kraken => {
                let letters = |mut x: u64, len: usize| -> String {
                    (0..len)
                        .map(|_| {
                            let c = (b'A' + (x % 26) as u8) as char;
                            x /= 26;
                            c
                        })
                        .collect()
                };
                format!(
                    "O{}-{}-{}",
                    letters(n, 5),
                    letters(n * 31 + 7, 5),
                    letters(n * 97 + 3, 6)
                )
            }
        }
    }

    /// Adds an order; returns its id.
    pub fn insert(&mut self, mut o: SimOrder, now_ms: i64) -> String {
        if o.id.is_empty() {
            o.id = self.new_id(o.exchange);
        }
        if o.created_ms == 0 {
            o.created_ms = now_ms;
        }
        let id = o.id.clone();
        self.orders.push(o);
        id
    }

    /// Every order, in insertion order.
    pub fn all(&self) -> &[SimOrder] {
        &self.orders
    }

    /// Open orders of `venue` that pass `keep`, newest first (as exchanges list them).
    pub fn open(&self, venue: Venue, keep: impl Fn(&SimOrder) -> bool) -> Vec<&SimOrder> {
        let mut v: Vec<&SimOrder> = self
            .orders
            .iter()
            .filter(|o| o.exchange == venue && o.is_open() && keep(o))
            .collect();
        v.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(b.id.cmp(&a.id)));
        v
    }

    /// Finds an order of `venue` by id or client id.
    pub fn find(&self, venue: Venue, id: Option<&str>, client_id: Option<&str>) -> Option<usize> {
        self.orders.iter().position(|o| {
            o.exchange == venue
                && (id.is_some_and(|i| !i.is_empty() && o.id == i)
                    || client_id
                        .is_some_and(|c| !c.is_empty() && o.client_id.as_deref() == Some(c)))
        })
    }

    /// Cancels an open order; `None` when it does not exist or is no longer open.
    pub fn cancel(
        &mut self,
        venue: Venue,
        id: Option<&str>,
        client_id: Option<&str>,
        by: &str,
    ) -> Option<SimOrder> {
        let i = self.find(venue, id, client_id)?;
        let o = &mut self.orders[i];
        if !o.is_open() {
            return None;
        }
        o.status = "cancelled".into();
        o.cancelled_by = Some(by.to_string());
        Some(o.clone())
    }

    /// Cancels every open order of `venue` that passes `keep`; returns them.
    pub fn cancel_where(
        &mut self,
        venue: Venue,
        keep: impl Fn(&SimOrder) -> bool,
        by: &str,
    ) -> Vec<SimOrder> {
        let mut out = Vec::new();
        for o in self.orders.iter_mut() {
            if o.exchange == venue && o.is_open() && keep(o) {
                o.status = "cancelled".into();
                o.cancelled_by = Some(by.to_string());
                out.push(o.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(venue: Venue, client: &str) -> SimOrder {
        serde_json::from_value(serde_json::json!({
            "exchange": venue, "symbol": "BTCUSDT", "client_id": client
        }))
        .expect("order")
    }

    #[test]
    fn ids_are_unique_and_cancel_is_once_only() {
        let mut b = Book::new(
            vec![order(Venue::Bybit, "BOT_1"), order(Venue::Kraken, "k1")],
            5,
        );
        let ids: Vec<&str> = b.all().iter().map(|o| o.id.as_str()).collect();
        assert_ne!(ids[0], ids[1]);
        assert!(ids[1].starts_with('O') && ids[1].len() == 19, "{}", ids[1]);
        assert!(
            b.cancel(Venue::Kraken, None, Some("BOT_1"), "x").is_none(),
            "wrong venue"
        );
        assert!(b.cancel(Venue::Bybit, None, Some("BOT_1"), "x").is_some());
        assert!(
            b.cancel(Venue::Bybit, None, Some("BOT_1"), "x").is_none(),
            "already cancelled"
        );
        assert_eq!(b.open(Venue::Bybit, |_| true).len(), 0);
        assert_eq!(b.open(Venue::Kraken, |_| true).len(), 1);
    }
}
