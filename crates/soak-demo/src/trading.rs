//! The demo bot's trading: limit orders placed on a Bybit v5 endpoint (the bundled exchange
//! simulator), tracked in the seed's `active_orders.json`, cancelled at shutdown. With the
//! `orphans` fault the bot stops recording the orders it places (state lost), so they are left
//! behind on the exchange, as after the seed's crash-before-cleanup.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

/// One order the bot tracks.
#[derive(Debug, Clone)]
struct Tracked {
    order_id: String,
    symbol: String,
    side: String,
    qty: String,
    created_ms: i64,
}

/// Places, tracks and cancels orders.
pub struct Trader {
    agent: ureq::Agent,
    base: String,
    key: String,
    secret: String,
    state_file: Option<PathBuf>,
    tracked: BTreeMap<String, Tracked>,
    placed: u64,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Trader {
    /// A trader for `base` (`http://127.0.0.1:PORT`) with the key pair from
    /// `BYBIT_API_KEY`/`BYBIT_API_SECRET`.
    pub fn new(base: &str, state_file: Option<PathBuf>) -> anyhow::Result<Self> {
        let var = |n: &str| {
            std::env::var(n)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    soak_core::exit::usage(format!("--exchange-url needs {n} in the environment"))
                })
        };
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build();
        Ok(Trader {
            agent: ureq::Agent::new_with_config(config),
            base: base.trim_end_matches('/').to_string(),
            key: var("BYBIT_API_KEY")?,
            secret: var("BYBIT_API_SECRET")?,
            state_file,
            tracked: BTreeMap::new(),
            placed: 0,
        })
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        let text = body.to_string();
        let ts = now_ms();
        let sign = orphan_cancel::signing::bybit_sign(&self.secret, ts, &self.key, 5000, &text);
        let mut resp = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .header("X-BAPI-API-KEY", &self.key)
            .header("X-BAPI-TIMESTAMP", &ts.to_string())
            .header("X-BAPI-RECV-WINDOW", "5000")
            .header("X-BAPI-SIGN", &sign)
            .send(&text)
            .map_err(|e| e.to_string())?;
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        match v.get("retCode").and_then(Value::as_i64) {
            Some(0) => Ok(v),
            _ => Err(format!(
                "{path}: {}",
                v.get("retMsg").and_then(Value::as_str).unwrap_or("?")
            )),
        }
    }

    /// Places one limit order; `record` false forgets it (the `orphans` fault). Returns the
    /// log line.
    pub fn place(&mut self, record: bool, price: u64) -> Result<String, String> {
        self.placed += 1;
        let link = format!("BOT_{}_{}", std::process::id(), self.placed);
        let side = if self.placed % 2 == 0 { "Sell" } else { "Buy" };
        let body = json!({
            "category": "linear", "symbol": "BTCUSDT", "side": side, "orderType": "Limit",
            "qty": "0.001", "price": price.to_string(), "orderLinkId": link,
        });
        let v = self.post("/v5/order/create", &body)?;
        let id = v
            .pointer("/result/orderId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if record {
            self.tracked.insert(
                link.clone(),
                Tracked {
                    order_id: id.clone(),
                    symbol: "BTCUSDT".into(),
                    side: side.into(),
                    qty: "0.001".into(),
                    created_ms: now_ms(),
                },
            );
            self.save().map_err(|e| e.to_string())?;
        }
        Ok(format!(
            "[ORDER] placed {side} 0.001 BTCUSDT @ {price} order_id={id} link_id={link}"
        ))
    }

    /// Cancels the oldest tracked order when more than `keep` are open.
    pub fn trim(&mut self, keep: usize) -> Result<Option<String>, String> {
        if self.tracked.len() <= keep {
            return Ok(None);
        }
        let Some((link, t)) = self
            .tracked
            .iter()
            .min_by_key(|(_, t)| t.created_ms)
            .map(|(l, t)| (l.clone(), t.clone()))
        else {
            return Ok(None);
        };
        self.post(
            "/v5/order/cancel",
            &json!({"category": "linear", "symbol": t.symbol, "orderId": t.order_id}),
        )?;
        self.tracked.remove(&link);
        self.save().map_err(|e| e.to_string())?;
        Ok(Some(format!(
            "[ORDER] cancelled order_id={} link_id={link}",
            t.order_id
        )))
    }

    /// Cancels every tracked order (the graceful shutdown); returns how many.
    pub fn cancel_all_tracked(&mut self) -> usize {
        let links: Vec<String> = self.tracked.keys().cloned().collect();
        let mut n = 0;
        for link in links {
            if let Some(t) = self.tracked.get(&link).cloned()
                && self
                    .post(
                        "/v5/order/cancel",
                        &json!({"category": "linear", "symbol": t.symbol, "orderId": t.order_id}),
                    )
                    .is_ok()
            {
                self.tracked.remove(&link);
                n += 1;
            }
        }
        let _ = self.save();
        n
    }

    /// Writes the state file atomically (tmp + rename), keyed by order id like the seed's.
    fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let map: serde_json::Map<String, Value> = self
            .tracked
            .iter()
            .map(|(link, t)| {
                (
                    t.order_id.clone(),
                    json!({"orderLinkId": link, "symbol": t.symbol, "side": t.side, "qty": t.qty, "status": "New", "createdTime": t.created_ms}),
                )
            })
            .collect();
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&map)?)?;
        std::fs::rename(&tmp, path)
    }
}
