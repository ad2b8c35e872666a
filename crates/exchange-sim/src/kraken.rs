//! The simulated Kraken spot endpoints: `/0/public/Time`, and the private `OpenOrders`,
//! `AddOrder`, `CancelOrder`, `CancelOrderBatch`, `CancelAll`, `CancelAllOrdersAfter`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha512};

use crate::book::{SimOrder, Venue};
use crate::{Req, Resp, Sim};

fn ok(result: Value) -> Resp {
    Resp::json(&json!({"error": [], "result": result}))
}

fn err(e: &str) -> Resp {
    Resp::json(&json!({"error": [e]}))
}

/// The request's parameters, from a form or a JSON body.
fn params(req: &Req) -> Result<Map<String, Value>, Resp> {
    let json_body = req
        .header("Content-Type")
        .is_some_and(|c| c.contains("json"));
    if json_body {
        match serde_json::from_str::<Value>(&req.body) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(err("EGeneral:Invalid arguments")),
        }
    } else {
        Ok(form_urlencoded::parse(req.body.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect())
    }
}

/// Checks `API-Key` (any key of the account), `API-Sign` =
/// base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + body))), and the nonce: larger
/// than the highest this key has used (less the nonce window, when one is set), as Kraken does.
fn authenticate(sim: &mut Sim, req: &Req, p: &Map<String, Value>) -> Result<(), Resp> {
    let given_key = req.header("API-Key").unwrap_or("");
    let Some(keys) = sim
        .kraken_keys
        .iter()
        .find(|k| !given_key.is_empty() && k.key == given_key)
        .cloned()
    else {
        return Err(err("EAPI:Invalid key"));
    };
    let nonce = match p.get("nonce") {
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    }
    .ok_or_else(|| err("EAPI:Invalid nonce"))?;
    let secret = BASE64
        .decode(keys.secret.trim())
        .map_err(|_| err("EAPI:Invalid key"))?;
    let mut inner = Sha256::new();
    inner.update(nonce.to_string().as_bytes());
    inner.update(req.body.as_bytes());
    let mut mac =
        <Hmac<Sha512> as Mac>::new_from_slice(&secret).map_err(|_| err("EAPI:Invalid key"))?;
    mac.update(req.path.as_bytes());
    mac.update(&inner.finalize());
    let given = req
        .header("API-Sign")
        .and_then(|s| BASE64.decode(s).ok())
        .ok_or_else(|| err("EAPI:Invalid signature"))?;
    mac.verify_slice(&given)
        .map_err(|_| err("EAPI:Invalid signature"))?;
    let highest = sim.kraken_nonces.get(&keys.key).copied().unwrap_or(0);
    let accepted = nonce > highest
        || (sim.kraken_nonce_window > 0 && highest - nonce < sim.kraken_nonce_window);
    if !accepted {
        return Err(err("EAPI:Invalid nonce"));
    }
    sim.kraken_nonces.insert(keys.key, highest.max(nonce));
    Ok(())
}

fn order_json(o: &SimOrder) -> Value {
    json!({
        "refid": null,
        "userref": o.userref.unwrap_or(0),
        "cl_ord_id": o.client_id,
        "status": if o.is_open() { "open" } else { "canceled" },
        "opentm": o.created_ms as f64 / 1000.0,
        "starttm": 0,
        "expiretm": 0,
        "descr": {"pair": o.symbol, "type": o.side, "ordertype": "limit", "price": o.price},
        "vol": o.qty,
        "vol_exec": "0.00000000",
    })
}

fn text<'a>(p: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    p.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Cancels by txid, cl_ord_id or userref; the number cancelled.
fn cancel_ref(sim: &mut Sim, reference: &str, by: &str) -> usize {
    if let Ok(userref) = reference.parse::<i64>() {
        return sim
            .book
            .cancel_where(Venue::Kraken, |o| o.userref == Some(userref), by)
            .len();
    }
    usize::from(
        sim.book
            .cancel(Venue::Kraken, Some(reference), Some(reference), by)
            .is_some(),
    )
}

/// Answers one request to a `/0/` path.
pub fn handle(sim: &mut Sim, req: &Req) -> Resp {
    let now = sim.now_ms();
    if req.path.starts_with("/0/public/") {
        // Since January 2024 Kraken's public endpoints answer GET only (4xx for a POST).
        if req.method != "GET" {
            return Resp::status(
                405,
                &json!({"error": ["EGeneral:Unknown method"]}).to_string(),
            );
        }
        if req.path == "/0/public/Time" {
            return ok(json!({"unixtime": now.div_euclid(1000), "rfc1123": rfc1123(now)}));
        }
        return err("EGeneral:Unknown method");
    }
    let Some(method) = req.path.strip_prefix("/0/private/") else {
        return Resp::status(
            404,
            &json!({"error": ["EGeneral:Unknown method"]}).to_string(),
        );
    };
    let p = match params(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = authenticate(sim, req, &p) {
        sim.stats.auth_refused += 1;
        return r;
    }
    if !sim.kraken_limit.check(now).allowed {
        sim.stats.rate_limited += 1;
        return err("EAPI:Rate limit exceeded");
    }
    if method != "OpenOrders" && sim.is_read_only(req.header("API-Key")) {
        sim.stats.auth_refused += 1;
        return err("EGeneral:Permission denied");
    }
    match method {
        "OpenOrders" => {
            // Optional filters, as Kraken documents them: userref and cl_ord_id.
            let userref = text(&p, "userref").map(|u| u.parse::<i64>().ok());
            if userref == Some(None) {
                return err("EGeneral:Invalid arguments:userref");
            }
            let userref = userref.flatten();
            let client = text(&p, "cl_ord_id");
            let open: Map<String, Value> = sim
                .book
                .open(Venue::Kraken, |o| {
                    userref.is_none_or(|u| o.userref == Some(u))
                        && client.is_none_or(|c| o.client_id.as_deref() == Some(c))
                })
                .into_iter()
                .map(|o| (o.id.clone(), order_json(o)))
                .collect();
            ok(json!({"open": open}))
        }
        "QueryOrders" => {
            // txid: up to 50 comma-separated ids; every order, open or not.
            let Some(txids) = text(&p, "txid") else {
                return err("EGeneral:Invalid arguments:txid");
            };
            let ids: Vec<&str> = txids.split(',').map(str::trim).collect();
            if ids.len() > 50 {
                return err("EGeneral:Invalid arguments:txid");
            }
            let mut found = Map::new();
            for id in ids {
                match sim
                    .book
                    .all()
                    .iter()
                    .find(|o| o.exchange == Venue::Kraken && o.id == id)
                {
                    Some(o) => {
                        found.insert(o.id.clone(), order_json(o));
                    }
                    None => return err("EOrder:Invalid order"),
                }
            }
            ok(Value::Object(found))
        }
        "AddOrder" => {
            let (Some(pair), Some(side), Some(ordertype), Some(volume)) = (
                text(&p, "pair"),
                text(&p, "type"),
                text(&p, "ordertype"),
                text(&p, "volume"),
            ) else {
                return err("EGeneral:Invalid arguments");
            };
            if !matches!(side, "buy" | "sell") {
                return err("EGeneral:Invalid arguments:type");
            }
            let userref = match text(&p, "userref").map(str::parse::<i64>) {
                Some(Err(_)) => return err("EGeneral:Invalid arguments:userref"),
                Some(Ok(u)) => Some(u),
                None => None,
            };
            let price = text(&p, "price").unwrap_or("0");
            let descr = if ordertype == "market" {
                format!("{side} {volume} {pair} @ market")
            } else {
                format!("{side} {volume} {pair} @ {ordertype} {price}")
            };
            // validate=true: checked, not placed (no txid), as Kraken answers.
            if text(&p, "validate").is_some_and(|v| v == "true" || v == "1") {
                return ok(json!({"descr": {"order": descr}}));
            }
            let order = SimOrder {
                exchange: Venue::Kraken,
                category: None,
                id: String::new(),
                client_id: text(&p, "cl_ord_id").map(str::to_string),
                userref,
                symbol: pair.to_string(),
                side: side.to_string(),
                qty: volume.to_string(),
                price: price.to_string(),
                status: "open".into(),
                created_ms: now,
                cancelled_by: None,
            };
            let id = sim.book.insert(order, now);
            ok(json!({"descr": {"order": descr}, "txid": [id]}))
        }
        "CancelOrder" => {
            let Some(txid) = p.get("txid").and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| v.as_i64().map(|n| n.to_string()))
            }) else {
                return err("EGeneral:Invalid arguments");
            };
            match cancel_ref(sim, &txid, &req.path) {
                0 => err("EOrder:Unknown order"),
                n => ok(json!({"count": n})),
            }
        }
        "CancelOrderBatch" => {
            let Some(orders) = p.get("orders").and_then(Value::as_array) else {
                return err("EGeneral:Invalid arguments:orders");
            };
            if orders.is_empty() || orders.len() > 50 {
                return err("EGeneral:Invalid arguments:orders (1..50)");
            }
            let mut count = 0;
            for o in orders {
                let reference = o
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| o.as_i64().map(|n| n.to_string()));
                if let Some(r) = reference {
                    count += cancel_ref(sim, &r, &req.path);
                }
            }
            ok(json!({"count": count}))
        }
        "CancelAll" => {
            let n = sim
                .book
                .cancel_where(Venue::Kraken, |_| true, &req.path)
                .len();
            ok(json!({"count": n}))
        }
        "CancelAllOrdersAfter" => {
            let Some(timeout) = text(&p, "timeout")
                .and_then(|t| t.parse::<i64>().ok())
                .filter(|t| *t >= 0)
            else {
                return err("EGeneral:Invalid arguments:timeout");
            };
            let iso = |ms: i64| chrono_like(ms);
            if timeout == 0 {
                sim.kraken_deadline_ms = None;
                ok(json!({"currentTime": iso(now), "triggerTime": "0"}))
            } else {
                let deadline = now + timeout * 1000;
                sim.kraken_deadline_ms = Some(deadline);
                ok(json!({"currentTime": iso(now), "triggerTime": iso(deadline)}))
            }
        }
        _ => err("EGeneral:Unknown method"),
    }
}

/// `Sun, 21 Mar 21 14:23:14 +0000`, as Kraken's `/0/public/Time` writes `rfc1123`.
fn rfc1123(ms: i64) -> String {
    soak_core::record::Timestamp::from_unix(ms as f64 / 1000.0)
        .map(|t| {
            t.datetime()
                .format("%a, %d %b %y %H:%M:%S +0000")
                .to_string()
        })
        .unwrap_or_default()
}

/// RFC 3339 UTC, second precision, as Kraken writes times.
fn chrono_like(ms: i64) -> String {
    soak_core::record::Timestamp::from_unix(ms as f64 / 1000.0)
        .map(|t| t.datetime().format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Book;
    use crate::conditions::Limiter;
    use crate::{KeyPair, Stats};
    use std::time::Duration;

    fn sim() -> Sim {
        Sim {
            book: Book::default(),
            bybit_limit: Limiter::new(0, Duration::from_secs(1)),
            kraken_limit: Limiter::new(0, Duration::from_secs(1)),
            bybit_keys: None,
            kraken_keys: vec![KeyPair {
                key: "K".into(),
                // Kraken's documented example secret.
                secret: "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==".into(),
            }],
            kraken_nonces: Default::default(),
            kraken_nonce_window: 0,
            read_only_keys: Vec::new(),
            kraken_deadline_ms: None,
            skew_ms: 0,
            stats: Stats::default(),
        }
    }

    fn req(body: &str, sign: &str) -> Req {
        Req {
            method: "POST".into(),
            path: "/0/private/AddOrder".into(),
            query: String::new(),
            headers: vec![
                ("API-Key".into(), "K".into()),
                ("API-Sign".into(), sign.into()),
            ],
            body: body.into(),
        }
    }

    const BODY: &str =
        "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25";
    const SIGN: &str =
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==";

    #[test]
    fn accepts_krakens_published_example_once_and_refuses_the_replay() {
        let mut s = sim();
        let first = handle(&mut s, &req(BODY, SIGN));
        assert!(first.body.contains("\"txid\""), "{}", first.body);
        assert_eq!(s.book.all().len(), 1);
        let replay = handle(&mut s, &req(BODY, SIGN));
        assert!(
            replay.body.contains("EAPI:Invalid nonce"),
            "{}",
            replay.body
        );
        let tampered = handle(
            &mut s,
            &req(
                &BODY
                    .replace("1.25", "9.25")
                    .replace("1616492376594", "1616492376595"),
                SIGN,
            ),
        );
        assert!(
            tampered.body.contains("EAPI:Invalid signature"),
            "{}",
            tampered.body
        );
        assert_eq!(s.book.all().len(), 1);
    }

    /// Signs `body` (which holds `nonce=N`) as a client would, for key `K` or `K2`.
    fn signed(key: &str, nonce: u64) -> Req {
        let body = format!("nonce={nonce}&ordertype=limit&pair=XBTUSD&price=1&type=buy&volume=1");
        let secret = BASE64
            .decode(sim().kraken_keys[0].secret.as_str())
            .expect("b64");
        let mut inner = Sha256::new();
        inner.update(format!("{nonce}{body}").as_bytes());
        let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(&secret).expect("key");
        mac.update(b"/0/private/AddOrder");
        mac.update(&inner.finalize());
        let mut r = req(&body, &BASE64.encode(mac.finalize().into_bytes()));
        r.headers[0].1 = key.to_string();
        r
    }

    #[test]
    fn each_key_has_its_own_nonce_counter_and_the_window_admits_late_arrivals() {
        let mut s = sim();
        let second = s.kraken_keys[0].clone();
        s.kraken_keys.push(KeyPair {
            key: "K2".into(),
            ..second
        });
        assert!(handle(&mut s, &signed("K", 2_000)).body.contains("txid"));
        // Another key of the account starts from its own counter.
        assert!(handle(&mut s, &signed("K2", 1_000)).body.contains("txid"));
        let late = handle(&mut s, &signed("K", 1_999));
        assert!(late.body.contains("EAPI:Invalid nonce"), "{}", late.body);
        // Kraken's nonce window: up to N below the highest is accepted too, further is not.
        s.kraken_nonce_window = 10;
        assert!(handle(&mut s, &signed("K", 1_991)).body.contains("txid"));
        let too_late = handle(&mut s, &signed("K", 1_990));
        assert!(
            too_late.body.contains("EAPI:Invalid nonce"),
            "{}",
            too_late.body
        );
        assert!(handle(&mut s, &signed("K", 2_001)).body.contains("txid"));
        assert_eq!(s.book.all().len(), 4);
    }

    #[test]
    fn a_read_only_key_may_list_but_not_place() {
        let mut s = sim();
        s.read_only_keys = vec!["K".into()];
        let refused = handle(&mut s, &signed("K", 5));
        assert!(
            refused.body.contains("EGeneral:Permission denied"),
            "{}",
            refused.body
        );
        assert!(s.book.all().is_empty());
    }
}
