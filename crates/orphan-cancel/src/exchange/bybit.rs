//! Bybit v5 REST: `GET /v5/order/realtime`, `POST /v5/order/cancel-batch`,
//! `POST /v5/order/cancel-all`, signed with the `X-BAPI-*` headers.
//!
//! Rate limits are read from `X-Bapi-Limit-Status` / `X-Bapi-Limit-Reset-Timestamp`: when a
//! window is used up the client waits for its reset instead of drawing a `10006`. A `10002`
//! (timestamp outside the receive window) re-reads the server time from `/v5/market/time` and
//! retries. "Order does not exist" (`110001`, `170213`) means the order is already gone.

use std::time::Duration;

use serde_json::{Value, json};

use super::http::{Attempt, Backoff, Http, Reply, with_retries};
use super::{CancelOutcome, CancelResult, DeadMan, Exchange, ExchangeError, Scope};
use crate::credentials::Credentials;
use crate::order::{Order, now_ms, scalar_text};
use crate::signing::bybit_sign;

/// Bybit's mainnet REST base URL.
pub const MAINNET: &str = "https://api.bybit.com";
/// Bybit's testnet REST base URL.
pub const TESTNET: &str = "https://api-testnet.bybit.com";

/// Orders per cancel-batch request (Bybit: 20 for linear/inverse/option, 10 for spot).
pub fn batch_size(category: &str) -> usize {
    if category == "spot" { 10 } else { 20 }
}

/// Return codes that mean "that order no longer exists".
const GONE: [i64; 3] = [110001, 170213, 170142];
/// Return codes worth retrying: rate limit, server error, service restarting.
const TRANSIENT: [i64; 4] = [10006, 10016, 10019, 10429];
/// The refusals of a key, signature or permission that retrying cannot fix, each with its own
/// one-line reason naming Bybit's code.
fn refusal(code: i64, msg: &str) -> Option<ExchangeError> {
    let what = format!("retCode {code}: {msg}");
    Some(match code {
        10003 | 33004 => ExchangeError::Auth(format!(
            "bybit refused the key ({what}): BYBIT_API_KEY is unknown, expired, or for the other network (testnet/mainnet)"
        )),
        10004 => ExchangeError::Auth(format!(
            "bybit refused the signature ({what}): BYBIT_API_SECRET is not the secret of BYBIT_API_KEY"
        )),
        10005 => ExchangeError::Permission(format!(
            "bybit refused the request ({what}): the API key lacks the permission (Orders read and write)"
        )),
        10010 => ExchangeError::Permission(format!(
            "bybit refused the request ({what}): this address is not on the API key's IP list"
        )),
        10007 | 10009 => ExchangeError::Auth(format!("bybit refused the credentials ({what})")),
        _ => return None,
    })
}

/// A signed Bybit v5 client.
pub struct Bybit {
    http: Http,
    creds: Credentials,
    recv_window_ms: u64,
    clock_offset_ms: i64,
    backoff: Backoff,
}

impl Bybit {
    /// A client for `base_url`.
    pub fn new(http: Http, creds: Credentials, backoff: Backoff) -> Self {
        Bybit {
            http,
            creds,
            recv_window_ms: 5000,
            clock_offset_ms: 0,
            backoff,
        }
    }

    fn sync_clock(&mut self) -> Result<(), String> {
        let sent = now_ms();
        let reply = self
            .http
            .send("/v5/market/time", &[], None)
            .map_err(|e| e.0)?;
        let done = now_ms();
        let v: Value = serde_json::from_str(&reply.body).map_err(|e| e.to_string())?;
        let server_ms = v
            .pointer("/result/timeNano")
            .and_then(|v| scalar_text(Some(v)))
            .and_then(|s| s.parse::<i128>().ok())
            .map(|ns| (ns / 1_000_000) as i64)
            .or_else(|| v.get("time").and_then(Value::as_i64))
            .ok_or("no time in /v5/market/time")?;
        self.clock_offset_ms = server_ms - (sent + done) / 2;
        Ok(())
    }

    fn pace(&mut self, reply: &Reply) {
        if let (Some(0), Some(reset)) = (reply.limit_remaining, reply.limit_reset_ms) {
            let wait = reset - (now_ms() + self.clock_offset_ms);
            self.http
                .hold(Duration::from_millis(wait.clamp(0, 2_000) as u64 + 5));
        }
    }

    /// A signed request; returns the parsed body of any answer with a `retCode` that is not a
    /// transient or authentication failure.
    fn call(
        &mut self,
        path: &str,
        query: &str,
        body: Option<&Value>,
    ) -> Result<Value, ExchangeError> {
        let body_text = body.map(|b| b.to_string());
        let backoff = self.backoff;
        with_retries(backoff, |_| {
            let ts = now_ms() + self.clock_offset_ms;
            let payload = body_text.as_deref().unwrap_or(query);
            let sign = bybit_sign(
                self.creds.secret.expose(),
                ts,
                self.creds.key.expose(),
                self.recv_window_ms,
                payload,
            );
            let headers = [
                ("X-BAPI-API-KEY", self.creds.key.expose().to_string()),
                ("X-BAPI-TIMESTAMP", ts.to_string()),
                ("X-BAPI-RECV-WINDOW", self.recv_window_ms.to_string()),
                ("X-BAPI-SIGN", sign),
            ];
            let target = if query.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{query}")
            };
            let reply = match self.http.send(
                &target,
                &headers,
                body_text.as_deref().map(|b| ("application/json", b)),
            ) {
                Ok(r) => r,
                Err(e) => {
                    return Attempt::Retry {
                        why: self.creds.redact(&e.0),
                        after: None,
                    };
                }
            };
            self.pace(&reply);
            let after = reply.retry_after_s.map(Duration::from_secs_f64);
            match reply.status {
                401 => {
                    return Attempt::Fail(ExchangeError::Auth(format!(
                        "bybit refused the credentials (HTTP 401): {}",
                        self.creds.redact(&short(&reply.body))
                    )));
                }
                403 | 429 => {
                    return Attempt::Retry {
                        why: format!("HTTP {} (rate limit)", reply.status),
                        after,
                    };
                }
                s if s >= 500 => {
                    return Attempt::Retry {
                        why: format!("HTTP {s}"),
                        after,
                    };
                }
                _ => {}
            }
            let v: Value = match serde_json::from_str(&reply.body) {
                Ok(v) => v,
                Err(_) => {
                    return Attempt::Retry {
                        why: format!("HTTP {}: not JSON: {}", reply.status, short(&reply.body)),
                        after: None,
                    };
                }
            };
            let code = v.get("retCode").and_then(Value::as_i64).unwrap_or(-1);
            let msg = v
                .get("retMsg")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if let Some(refused) = refusal(code, &msg) {
                Attempt::Fail(refused)
            } else if code == 10002 {
                let why = format!("retCode 10002: {msg}");
                match self.sync_clock() {
                    Ok(()) => Attempt::Retry {
                        why,
                        after: Some(Duration::ZERO),
                    },
                    Err(e) => Attempt::Retry {
                        why: format!("{why}; time sync failed: {e}"),
                        after: None,
                    },
                }
            } else if TRANSIENT.contains(&code) {
                let wait = (code == 10006)
                    .then(|| {
                        reply.limit_reset_ms.map(|r| {
                            Duration::from_millis(
                                (r - now_ms() - self.clock_offset_ms).clamp(0, 2000) as u64 + 5,
                            )
                        })
                    })
                    .flatten();
                Attempt::Retry {
                    why: format!("retCode {code}: {msg}"),
                    after: wait.or(after),
                }
            } else {
                Attempt::Done(v)
            }
        })
    }

    fn ok_result(v: Value) -> Result<Value, ExchangeError> {
        match v.get("retCode").and_then(Value::as_i64) {
            Some(0) => Ok(v),
            code => Err(ExchangeError::Rejected(format!(
                "retCode {}: {}",
                code.map_or("?".into(), |c| c.to_string()),
                v.get("retMsg").and_then(Value::as_str).unwrap_or("")
            ))),
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

fn order_from(item: &Value, category: &str) -> Order {
    let text = |k: &str| scalar_text(item.get(k));
    Order {
        id: text("orderId").unwrap_or_default(),
        client_id: text("orderLinkId").filter(|c| !c.is_empty()),
        symbol: text("symbol").unwrap_or_default(),
        side: text("side").unwrap_or_default(),
        qty: text("qty"),
        price: text("price"),
        status: text("orderStatus").unwrap_or_default(),
        category: Some(category.to_string()),
        created_ms: text("createdTime").and_then(|t| t.parse().ok()),
    }
}

fn scope_query(scope: &Scope) -> Vec<(String, String)> {
    let mut q = vec![("category".to_string(), scope.category.clone())];
    if let Some(s) = &scope.symbol {
        q.push(("symbol".into(), s.clone()));
    } else if let Some(c) = &scope.settle_coin {
        q.push(("settleCoin".into(), c.clone()));
    }
    q
}

fn encode(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

impl Exchange for Bybit {
    fn name(&self) -> &'static str {
        "bybit"
    }

    fn list_open(&mut self, scope: &Scope) -> Result<Vec<Order>, ExchangeError> {
        let mut orders = Vec::new();
        let mut cursor = String::new();
        loop {
            let mut q = scope_query(scope);
            q.push(("openOnly".into(), "0".into()));
            q.push(("limit".into(), "50".into()));
            if !cursor.is_empty() {
                q.push(("cursor".into(), cursor.clone()));
            }
            let v = Self::ok_result(self.call("/v5/order/realtime", &encode(&q), None)?)?;
            let list = v
                .pointer("/result/list")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    ExchangeError::Protocol("no result.list in /v5/order/realtime".into())
                })?;
            orders.extend(list.iter().map(|i| order_from(i, &scope.category)));
            let next = v
                .pointer("/result/nextPageCursor")
                .and_then(Value::as_str)
                .unwrap_or("");
            if next.is_empty() || list.is_empty() || next == cursor {
                break;
            }
            cursor = next.to_string();
        }
        Ok(orders)
    }

    fn cancel(
        &mut self,
        scope: &Scope,
        orders: &[Order],
        report: &mut dyn FnMut(CancelOutcome),
    ) -> Result<(), ExchangeError> {
        for chunk in orders.chunks(batch_size(&scope.category)) {
            let request: Vec<Value> = chunk
                .iter()
                .map(|o| {
                    if o.id.is_empty() {
                        json!({"symbol": o.symbol, "orderLinkId": o.client_id})
                    } else {
                        json!({"symbol": o.symbol, "orderId": o.id})
                    }
                })
                .collect();
            // One order: the single-cancel endpoint, whose top-level retCode is the item's.
            let (path, body) = match request.as_slice() {
                [one] => {
                    let mut body = one.clone();
                    body["category"] = json!(scope.category);
                    ("/v5/order/cancel", body)
                }
                _ => (
                    "/v5/order/cancel-batch",
                    json!({"category": scope.category, "request": request}),
                ),
            };
            let v = match self.call(path, "", Some(&body)) {
                Ok(v) => v,
                Err(e) if e.ends_the_run() => return Err(e),
                Err(e) => {
                    for o in chunk {
                        report(CancelOutcome {
                            order: o.clone(),
                            result: CancelResult::Failed,
                            message: Some(e.to_string()),
                        });
                    }
                    continue;
                }
            };
            let top = v.get("retCode").and_then(Value::as_i64).unwrap_or(-1);
            let ext = v.pointer("/retExtInfo/list").and_then(Value::as_array);
            for (i, o) in chunk.iter().enumerate() {
                let (code, msg) = match ext.and_then(|l| l.get(i)) {
                    Some(e) => (
                        e.get("code").and_then(Value::as_i64).unwrap_or(top),
                        e.get("msg")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    ),
                    None => (
                        top,
                        v.get("retMsg")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    ),
                };
                let result = if code == 0 {
                    CancelResult::Cancelled
                } else if GONE.contains(&code) {
                    CancelResult::AlreadyGone
                } else {
                    CancelResult::Failed
                };
                report(CancelOutcome {
                    order: o.clone(),
                    result,
                    message: (result == CancelResult::Failed)
                        .then(|| format!("code {code}: {msg}")),
                });
            }
        }
        Ok(())
    }

    fn cancel_all(&mut self, scope: &Scope) -> Result<Option<usize>, ExchangeError> {
        let mut body = json!({"category": scope.category});
        for (k, v) in scope_query(scope).into_iter().skip(1) {
            body[k] = Value::String(v);
        }
        let v = Self::ok_result(self.call("/v5/order/cancel-all", "", Some(&body))?)?;
        Ok(Some(
            v.pointer("/result/list")
                .and_then(Value::as_array)
                .map_or(0, Vec::len),
        ))
    }

    fn dead_man(&mut self, _timeout_s: u64) -> Result<DeadMan, ExchangeError> {
        Err(ExchangeError::Unsupported(
            "Bybit has no REST cancel-all-after timer: its disconnection protection (DCP; \
             POST /v5/order/disconnected-cancel-all sets timeWindow 3-300s, and Bybit enables it per \
             account on request) fires only when a private WebSocket that subscribed to the `dcp` \
             topic stops its heartbeat. It must therefore live on the bot's own WebSocket, where \
             the bot's death is what drops it; a socket held by this tool would guard only this \
             tool. Keep `orphan-cancel cancel-all --execute` in the soak's always-run step instead".into(),
        ))
    }

    fn requests(&self) -> u64 {
        self.http.requests()
    }
}
