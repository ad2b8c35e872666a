//! The simulated Bybit v5 endpoints: `/v5/market/time`, `/v5/order/realtime`,
//! `/v5/order/create`, `/v5/order/cancel`, `/v5/order/cancel-batch`, `/v5/order/cancel-all`.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::book::{SimOrder, Venue};
use crate::{Req, Resp, Sim};

const PAGE_MAX: usize = 50;

/// The private endpoints served, by method and path.
const ENDPOINTS: [(&str, &str); 6] = [
    ("GET", "/v5/order/realtime"),
    ("POST", "/v5/order/create"),
    ("POST", "/v5/order/cancel"),
    ("POST", "/v5/order/cancel-batch"),
    ("POST", "/v5/order/cancel-all"),
    ("GET", "/v5/market/time"),
];

fn reply(code: i64, msg: &str, result: Value, ext: Value, now_ms: i64) -> Resp {
    Resp::json(&json!({
        "retCode": code,
        "retMsg": msg,
        "result": result,
        "retExtInfo": ext,
        "time": now_ms,
    }))
}

fn error(code: i64, msg: &str, now_ms: i64) -> Resp {
    reply(code, msg, json!({}), json!({}), now_ms)
}

/// Checks the `X-BAPI-*` headers as Bybit does: key, timestamp within the receive window
/// (`server_time - recv_window <= timestamp < server_time + 1000`), and the HMAC-SHA256 of
/// `timestamp + key + recv_window + (query | body)`.
fn authenticate(sim: &Sim, req: &Req) -> Result<(), Resp> {
    let now = sim.now_ms();
    let Some(keys) = &sim.bybit_keys else {
        return Err(error(10003, "API key is invalid.", now));
    };
    let (Some(key), Some(ts), Some(sign)) = (
        req.header("X-BAPI-API-KEY"),
        req.header("X-BAPI-TIMESTAMP"),
        req.header("X-BAPI-SIGN"),
    ) else {
        return Err(error(10003, "API key is invalid.", now));
    };
    if key != keys.key {
        return Err(error(10003, "API key is invalid.", now));
    }
    let recv_window: i64 = req
        .header("X-BAPI-RECV-WINDOW")
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let Ok(ts_ms) = ts.parse::<i64>() else {
        return Err(error(
            10002,
            "invalid request, please check your timestamp",
            now,
        ));
    };
    if !(now - recv_window <= ts_ms && ts_ms < now + 1000) {
        return Err(error(
            10002,
            &format!(
                "invalid request, please check your server timestamp or recv_window param. req_timestamp[{ts_ms}],server_timestamp[{now}],recv_window[{recv_window}]"
            ),
            now,
        ));
    }
    let payload = if req.method == "GET" {
        &req.query
    } else {
        &req.body
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(keys.secret.as_bytes())
        .map_err(|_| error(10004, "error sign!", now))?;
    mac.update(format!("{ts}{key}{recv_window}{payload}").as_bytes());
    let Ok(given) = hex::decode(sign) else {
        return Err(error(10004, "error sign! origin_string[...]", now));
    };
    mac.verify_slice(&given)
        .map_err(|_| error(10004, "error sign! origin_string[...]", now))
}

fn order_json(o: &SimOrder) -> Value {
    json!({
        "orderId": o.id,
        "orderLinkId": o.client_id.clone().unwrap_or_default(),
        "symbol": o.symbol,
        "price": o.price,
        "qty": o.qty,
        "side": o.side,
        "orderStatus": if o.is_open() { "New" } else { "Cancelled" },
        "orderType": "Limit",
        "timeInForce": "GTC",
        "leavesQty": o.qty,
        "cumExecQty": "0",
        "createdTime": o.created_ms.to_string(),
        "updatedTime": o.created_ms.to_string(),
    })
}

fn query_map(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn in_scope(
    o: &SimOrder,
    category: &str,
    symbol: Option<&str>,
    settle: Option<&str>,
    base: Option<&str>,
) -> bool {
    o.category.as_deref().unwrap_or("linear") == category
        && symbol.is_none_or(|s| o.symbol == s)
        && settle.is_none_or(|c| o.symbol.ends_with(c))
        && base.is_none_or(|b| o.symbol.starts_with(b))
}

/// Linear and inverse listings and cancel-alls need a symbol, base coin or settle coin.
fn require_scope(
    category: &str,
    symbol: Option<&str>,
    settle: Option<&str>,
    base: Option<&str>,
    now: i64,
) -> Result<(), Resp> {
    if matches!(category, "linear" | "inverse")
        && symbol.is_none()
        && settle.is_none()
        && base.is_none()
    {
        return Err(error(
            10001,
            "symbol, baseCoin or settleCoin is required for linear and inverse",
            now,
        ));
    }
    Ok(())
}

/// Answers one request to a `/v5/` path.
pub fn handle(sim: &mut Sim, req: &Req, partial_batch: bool) -> Resp {
    let now = sim.now_ms();
    if req.path == "/v5/market/time" {
        return reply(
            0,
            "OK",
            json!({"timeSecond": (now / 1000).to_string(), "timeNano": (now as i128 * 1_000_000).to_string()}),
            json!({}),
            now,
        );
    }
    if !ENDPOINTS.contains(&(req.method.as_str(), req.path.as_str())) {
        // Routing comes before authentication, as on the exchange: an unknown path or method
        // is a 404 whatever the headers, with a body saying what is served.
        return Resp::status(
            404,
            &json!({
                "retCode": 10001,
                "retMsg": format!("{} {} is not served by exchange-sim (see its README)", req.method, req.path),
                "result": {},
                "retExtInfo": {},
                "time": now,
            })
            .to_string(),
        );
    }
    if let Err(resp) = authenticate(sim, req) {
        sim.stats.auth_refused += 1;
        return resp;
    }
    let limit = sim.bybit_limit.check(now);
    let headers = vec![
        ("X-Bapi-Limit".to_string(), limit.limit.to_string()),
        (
            "X-Bapi-Limit-Status".to_string(),
            limit.remaining.to_string(),
        ),
        (
            "X-Bapi-Limit-Reset-Timestamp".to_string(),
            limit.reset_ms.to_string(),
        ),
    ];
    let mut resp = if !limit.allowed {
        sim.stats.rate_limited += 1;
        error(10006, "Too many visits!", now)
    } else if req.method == "POST" && sim.is_read_only(req.header("X-BAPI-API-KEY")) {
        sim.stats.auth_refused += 1;
        error(
            10005,
            "Permission denied, please check your API key permissions.",
            now,
        )
    } else {
        route(sim, req, partial_batch, now)
    };
    if limit.limit > 0 {
        resp.headers.extend(headers);
    }
    resp
}

fn route(sim: &mut Sim, req: &Req, partial_batch: bool, now: i64) -> Resp {
    let body: Value = if req.method == "POST" {
        match serde_json::from_str(&req.body) {
            Ok(v) => v,
            Err(_) => return error(10001, "request body is not valid JSON", now),
        }
    } else {
        Value::Null
    };
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/v5/order/realtime") => {
            let q = query_map(&req.query);
            let Some(category) = get(&q, "category") else {
                return error(10001, "category is required", now);
            };
            let (symbol, settle, base) = (
                get(&q, "symbol"),
                get(&q, "settleCoin"),
                get(&q, "baseCoin"),
            );
            if let Err(r) = require_scope(category, symbol, settle, base, now) {
                return r;
            }
            let limit = get(&q, "limit")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(20);
            if limit == 0 || limit > PAGE_MAX {
                return error(10001, "limit must be 1..50", now);
            }
            let start = match get(&q, "cursor") {
                None => 0,
                Some(c) => match c
                    .strip_prefix("page:")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    Some(n) => n,
                    None => return error(10001, "invalid cursor", now),
                },
            };
            let (order_id, link_id) = (get(&q, "orderId"), get(&q, "orderLinkId"));
            let all = sim.book.open(Venue::Bybit, |o| {
                in_scope(o, category, symbol, settle, base)
                    && order_id.is_none_or(|i| o.id == i)
                    && link_id.is_none_or(|l| o.client_id.as_deref() == Some(l))
            });
            let page: Vec<Value> = all
                .iter()
                .skip(start)
                .take(limit)
                .map(|o| order_json(o))
                .collect();
            let next = if start + limit < all.len() {
                format!("page:{}", start + limit)
            } else {
                String::new()
            };
            reply(
                0,
                "OK",
                json!({"category": category, "list": page, "nextPageCursor": next}),
                json!({}),
                now,
            )
        }
        ("POST", "/v5/order/create") => {
            let (Some(category), Some(symbol), Some(side), Some(_order_type), Some(qty)) = (
                text("category"),
                text("symbol"),
                text("side"),
                text("orderType"),
                text("qty"),
            ) else {
                return error(
                    10001,
                    "category, symbol, side, orderType and qty are required",
                    now,
                );
            };
            let link = text("orderLinkId").map(str::to_string);
            if link
                .as_deref()
                .is_some_and(|l| sim.book.find(Venue::Bybit, None, Some(l)).is_some())
            {
                return error(110072, "OrderLinkedID is duplicate", now);
            }
            let order = SimOrder {
                exchange: Venue::Bybit,
                category: Some(category.to_string()),
                id: String::new(),
                client_id: link.clone(),
                userref: None,
                symbol: symbol.to_string(),
                side: side.to_string(),
                qty: qty.to_string(),
                price: text("price").unwrap_or("0").to_string(),
                status: "open".into(),
                created_ms: now,
                cancelled_by: None,
            };
            let id = sim.book.insert(order, now);
            reply(
                0,
                "OK",
                json!({"orderId": id, "orderLinkId": link.unwrap_or_default()}),
                json!({}),
                now,
            )
        }
        ("POST", "/v5/order/cancel") => match sim.book.cancel(
            Venue::Bybit,
            text("orderId"),
            text("orderLinkId"),
            &req.path,
        ) {
            Some(o) => reply(
                0,
                "OK",
                json!({"orderId": o.id, "orderLinkId": o.client_id.unwrap_or_default()}),
                json!({}),
                now,
            ),
            None => error(110001, "order not exists or too late to cancel", now),
        },
        ("POST", "/v5/order/cancel-batch") => {
            let Some(category) = text("category") else {
                return error(10001, "category is required", now);
            };
            let Some(items) = body.get("request").and_then(Value::as_array) else {
                return error(10001, "request is required", now);
            };
            let max = if category == "spot" { 10 } else { 20 };
            if items.is_empty() || items.len() > max {
                return error(10001, &format!("batch size must be 1..{max}"), now);
            }
            let mut list = Vec::new();
            let mut ext = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let id = item.get("orderId").and_then(Value::as_str);
                let link = item.get("orderLinkId").and_then(Value::as_str);
                let symbol = item.get("symbol").and_then(Value::as_str).unwrap_or("");
                let (code, msg, o) = if partial_batch && i % 2 == 1 {
                    (10016, "Internal server error.", None)
                } else {
                    match sim.book.cancel(Venue::Bybit, id, link, &req.path) {
                        Some(o) => (0, "OK", Some(o)),
                        None => (110001, "order not exists or too late to cancel", None),
                    }
                };
                list.push(json!({
                    "category": category,
                    "symbol": symbol,
                    "orderId": o.as_ref().map_or(id.unwrap_or("").to_string(), |o| o.id.clone()),
                    "orderLinkId": o.as_ref().and_then(|o| o.client_id.clone()).unwrap_or_else(|| link.unwrap_or("").to_string()),
                }));
                ext.push(json!({"code": code, "msg": msg}));
            }
            reply(0, "OK", json!({"list": list}), json!({"list": ext}), now)
        }
        ("POST", "/v5/order/cancel-all") => {
            let Some(category) = text("category") else {
                return error(10001, "category is required", now);
            };
            let (symbol, settle, base) = (text("symbol"), text("settleCoin"), text("baseCoin"));
            if let Err(r) = require_scope(category, symbol, settle, base, now) {
                return r;
            }
            let gone = sim.book.cancel_where(
                Venue::Bybit,
                |o| in_scope(o, category, symbol, settle, base),
                &req.path,
            );
            let list: Vec<Value> = gone
                .iter()
                .map(|o| json!({"orderId": o.id, "orderLinkId": o.client_id.clone().unwrap_or_default()}))
                .collect();
            reply(
                0,
                "OK",
                json!({"list": list, "success": "1"}),
                json!({}),
                now,
            )
        }
        _ => error(10001, "unknown endpoint", now),
    }
}
