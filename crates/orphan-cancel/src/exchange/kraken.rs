//! Kraken spot REST: `OpenOrders`, `CancelOrderBatch` (JSON body, up to 50 ids), `CancelAll`,
//! `CancelAllOrdersAfter`, signed with `API-Key`/`API-Sign` and strictly increasing nonces.
//!
//! Nonces come from [`NonceClock`]: the wall clock in `--kraken-nonce-unit` (milliseconds by
//! default), so a bot sharing the key is never locked out. `EAPI:Invalid nonce` is retried once
//! with a fresh nonce; a second refusal ends the run with the reason (another client signed a
//! larger nonce on this key). `EGeneral:Too many requests`, `EAPI:Rate limit exceeded` and
//! `EService:*` are retried with backoff; `EOrder:Unknown order` means already gone.

use std::time::Duration;

use serde_json::{Value, json};

use super::http::{Attempt, Backoff, Http, with_retries};
use super::nonce::{NonceClock, NonceUnit};
use super::{CancelOutcome, CancelResult, DeadMan, Exchange, ExchangeError, Scope};
use crate::credentials::Credentials;
use crate::order::{Order, parse_time_ms, scalar_text};
use crate::signing::kraken_sign;

/// Kraken's REST base URL (Kraken spot has no public testnet).
pub const MAINNET: &str = "https://api.kraken.com";

/// Ids per `CancelOrderBatch` request.
pub const BATCH: usize = 50;

/// A signed Kraken spot client.
pub struct Kraken {
    http: Http,
    creds: Credentials,
    nonces: NonceClock,
    backoff: Backoff,
}

enum Body<'a> {
    Form(&'a [(&'a str, String)]),
    Json(&'a Value),
}

impl Kraken {
    /// A client for `http`'s base URL, signing with nonces in `unit`.
    pub fn new(http: Http, creds: Credentials, backoff: Backoff, unit: NonceUnit) -> Self {
        Kraken {
            http,
            creds,
            nonces: NonceClock::new(unit),
            backoff,
        }
    }

    /// A signed private call; returns `result` or the list of error strings the exchange sent
    /// for errors that retrying cannot fix and that the caller may interpret.
    fn private(
        &mut self,
        method: &str,
        body: Body<'_>,
    ) -> Result<Result<Value, Vec<String>>, ExchangeError> {
        let path = format!("/0/private/{method}");
        let backoff = self.backoff;
        let mut nonce_refusals = 0u32;
        with_retries(backoff, |_| {
            let nonce = self.nonces.next_nonce();
            let (content_type, text) = match &body {
                Body::Form(params) => {
                    let mut s = form_urlencoded::Serializer::new(String::new());
                    s.append_pair("nonce", &nonce.to_string());
                    for (k, v) in params.iter() {
                        s.append_pair(k, v);
                    }
                    ("application/x-www-form-urlencoded", s.finish())
                }
                Body::Json(v) => {
                    let mut v = (*v).clone();
                    v["nonce"] = json!(nonce);
                    ("application/json", v.to_string())
                }
            };
            let sign = match kraken_sign(self.creds.secret.expose(), &path, nonce, &text) {
                Ok(s) => s,
                Err(e) => return Attempt::Fail(ExchangeError::Auth(e.to_string())),
            };
            let headers = [
                ("API-Key", self.creds.key.expose().to_string()),
                ("API-Sign", sign),
            ];
            let reply = match self.http.send(&path, &headers, Some((content_type, &text))) {
                Ok(r) => r,
                Err(e) => {
                    return Attempt::Retry {
                        why: self.creds.redact(&e.0),
                        after: None,
                    };
                }
            };
            if reply.status == 429 || reply.status >= 500 {
                return Attempt::Retry {
                    why: format!("HTTP {}", reply.status),
                    after: None,
                };
            }
            let v: Value = match serde_json::from_str(&reply.body) {
                Ok(v) => v,
                Err(_) => {
                    return Attempt::Retry {
                        why: format!("HTTP {}: not JSON", reply.status),
                        after: None,
                    };
                }
            };
            let errors: Vec<String> = v
                .get("error")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if errors.is_empty() {
                return Attempt::Done(Ok(v.get("result").cloned().unwrap_or(Value::Null)));
            }
            let joined = errors.join(", ");
            if let Some(refusal) = refusal(&errors) {
                return Attempt::Fail(refusal);
            }
            if errors.iter().any(|e| e.starts_with(INVALID_NONCE)) {
                nonce_refusals += 1;
                if nonce_refusals >= 2 {
                    return Attempt::Fail(ExchangeError::Nonce(nonce_refused_twice(
                        self.nonces.unit(),
                    )));
                }
                // Another client of this key may have signed in the same tick: once more,
                // with a fresh nonce.
                return Attempt::Retry {
                    why: joined,
                    after: Some(Duration::from_millis(20)),
                };
            }
            if errors.iter().any(|e| {
                e.starts_with("EGeneral:Too many requests")
                    || e.starts_with("EAPI:Rate limit exceeded")
                    || e.starts_with("EService:")
                    || e.starts_with("EGeneral:Temporary lockout")
            }) {
                Attempt::Retry {
                    why: joined,
                    after: None,
                }
            } else {
                Attempt::Done(Err(errors))
            }
        })
    }

    fn must(r: Result<Value, Vec<String>>) -> Result<Value, ExchangeError> {
        r.map_err(|e| ExchangeError::Rejected(e.join(", ")))
    }
}

const INVALID_NONCE: &str = "EAPI:Invalid nonce";

/// The one-line reason for a second `EAPI:Invalid nonce`.
fn nonce_refused_twice(unit: NonceUnit) -> String {
    format!(
        "kraken refused the nonce twice (EAPI:Invalid nonce): the bot or another tool already \
         signed a larger nonce on this API key than this run's {unit} clock gives; use the bot's \
         unit (--kraken-nonce-unit ms|us|ns) or a separate API key for orphan-cancel (Kraken \
         allows several keys per account)",
        unit = unit.as_str()
    )
}

/// A refusal of the credentials that retrying cannot fix, with its own one-line reason.
fn refusal(errors: &[String]) -> Option<ExchangeError> {
    let has = |code: &str| errors.iter().any(|e| e.starts_with(code));
    if has("EAPI:Invalid signature") {
        Some(ExchangeError::Auth(
            "kraken refused the signature (EAPI:Invalid signature): KRAKEN_API_SECRET is not \
             the secret of KRAKEN_API_KEY"
                .into(),
        ))
    } else if has("EAPI:Invalid key") {
        Some(ExchangeError::Auth(
            "kraken refused the key (EAPI:Invalid key): KRAKEN_API_KEY is unknown or revoked"
                .into(),
        ))
    } else if has("EGeneral:Permission denied") {
        Some(ExchangeError::Permission(
            "kraken refused the request (EGeneral:Permission denied): the API key lacks the \
             permission (orders need 'Query open orders & trades' and 'Cancel/close orders')"
                .into(),
        ))
    } else if has("EAPI:Bad request") {
        Some(ExchangeError::Rejected(
            "kraken refused the request (EAPI:Bad request)".into(),
        ))
    } else {
        None
    }
}

fn order_from(txid: &str, o: &Value) -> Order {
    let text = |p: &str| scalar_text(o.pointer(p));
    Order {
        id: txid.to_string(),
        client_id: text("/cl_ord_id")
            .or_else(|| text("/userref"))
            .filter(|c| !c.is_empty() && c != "0"),
        symbol: text("/descr/pair").unwrap_or_default(),
        side: text("/descr/type").unwrap_or_default(),
        qty: text("/vol"),
        price: text("/descr/price"),
        status: text("/status").unwrap_or_default(),
        category: None,
        created_ms: o.get("opentm").and_then(parse_time_ms),
    }
}

impl Exchange for Kraken {
    fn name(&self) -> &'static str {
        "kraken"
    }

    fn list_open(&mut self, scope: &Scope) -> Result<Vec<Order>, ExchangeError> {
        let result = Self::must(self.private("OpenOrders", Body::Form(&[]))?)?;
        let open = result
            .get("open")
            .and_then(Value::as_object)
            .ok_or_else(|| ExchangeError::Protocol("no result.open in OpenOrders".into()))?;
        Ok(open
            .iter()
            .map(|(txid, o)| order_from(txid, o))
            .filter(|o| scope.symbol.as_ref().is_none_or(|s| &o.symbol == s))
            .collect())
    }

    fn cancel(
        &mut self,
        _scope: &Scope,
        orders: &[Order],
        report: &mut dyn FnMut(CancelOutcome),
    ) -> Result<(), ExchangeError> {
        for chunk in orders.chunks(BATCH) {
            let ids: Vec<&str> = chunk.iter().map(|o| o.id.as_str()).collect();
            let body = json!({ "orders": ids });
            let single = [("txid", ids[0].to_string())];
            let call = match ids.as_slice() {
                [_] => self.private("CancelOrder", Body::Form(&single)),
                _ => self.private("CancelOrderBatch", Body::Json(&body)),
            };
            let outcome = match call {
                Ok(r) => r,
                Err(e) if e.ends_the_run() => return Err(e),
                Err(e) => Err(vec![e.to_string()]),
            };
            // Kraken answers with a count only: orders it did not cancel were already gone
            // (filled or cancelled). The final listing verifies each one.
            for o in chunk {
                let (result, message) = match &outcome {
                    Ok(v) => {
                        let count = v.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
                        if count >= chunk.len() {
                            (CancelResult::Cancelled, None)
                        } else {
                            (
                                CancelResult::Cancelled,
                                Some(format!(
                                    "batch cancelled {count} of {}; the rest were already gone",
                                    chunk.len()
                                )),
                            )
                        }
                    }
                    Err(errors) if errors.iter().all(|e| e.starts_with("EOrder:Unknown order")) => {
                        (CancelResult::AlreadyGone, None)
                    }
                    Err(errors) => (CancelResult::Failed, Some(errors.join(", "))),
                };
                report(CancelOutcome {
                    order: o.clone(),
                    result,
                    message,
                });
            }
        }
        Ok(())
    }

    fn cancel_all(&mut self, scope: &Scope) -> Result<Option<usize>, ExchangeError> {
        if scope.symbol.is_some() {
            return Ok(None); // CancelAll has no pair filter: the caller lists and cancels
        }
        let v = Self::must(self.private("CancelAll", Body::Form(&[]))?)?;
        Ok(Some(
            v.get("count").and_then(Value::as_u64).unwrap_or(0) as usize
        ))
    }

    fn dead_man(&mut self, timeout_s: u64) -> Result<DeadMan, ExchangeError> {
        let params = [("timeout", timeout_s.to_string())];
        let v = Self::must(self.private("CancelAllOrdersAfter", Body::Form(&params))?)?;
        let trigger = v
            .get("triggerTime")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(DeadMan {
            trigger_time: trigger.filter(|t| timeout_s > 0 && t != "0"),
        })
    }

    fn requests(&self) -> u64 {
        self.http.requests()
    }
}
