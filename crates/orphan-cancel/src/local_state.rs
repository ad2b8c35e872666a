//! The bot's own view of its orders: a JSON file (the seed's `active_orders.json`), JSONL, or a
//! SQLite database queried read-only, with field names mapped by flag.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::order::{Order, parse_time_ms, scalar_text};

/// The file formats local state can come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StateFormat {
    /// A JSON array of orders, `{"orders": [...]}`, or an object keyed by order id.
    Json,
    /// One JSON order per line.
    Jsonl,
    /// A SQLite database, read with `--query`.
    Sqlite,
}

impl StateFormat {
    /// Guesses the format from the file name (`.jsonl`/`.ndjson`, `.db`/`.sqlite*`, else JSON).
    pub fn from_path(path: &Path) -> StateFormat {
        let name = path.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
            StateFormat::Jsonl
        } else if name.ends_with(".db") || name.contains(".sqlite") {
            StateFormat::Sqlite
        } else {
            StateFormat::Json
        }
    }
}

/// The fields of an order that can be mapped to a source's own column names.
pub const MAPPABLE: [&str; 9] = [
    "id",
    "client_id",
    "symbol",
    "side",
    "qty",
    "price",
    "status",
    "created",
    "category",
];

/// Which source field (tried in order) holds each order field.
#[derive(Debug, Clone)]
pub struct FieldMap(BTreeMap<&'static str, Vec<String>>);

impl Default for FieldMap {
    fn default() -> Self {
        let mut m = BTreeMap::new();
        let mut put = |k: &'static str, names: &[&str]| {
            m.insert(k, names.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        };
        put(
            "id",
            &["orderId", "order_id", "exchange_order_id", "txid", "id"],
        );
        put(
            "client_id",
            &[
                "orderLinkId",
                "order_link_id",
                "client_order_id",
                "clientOrderId",
                "cl_ord_id",
                "clOrdId",
                "client_id",
                "userref",
            ],
        );
        put("symbol", &["symbol", "pair", "instrument"]);
        put("side", &["side", "type"]);
        put(
            "qty",
            &["qty", "quantity", "volume", "vol", "amount", "size"],
        );
        put("price", &["price", "limit_price"]);
        put(
            "status",
            &["status", "orderStatus", "order_status", "state"],
        );
        put(
            "created",
            &[
                "createdTime",
                "created_time",
                "created_at",
                "createdAt",
                "opentm",
                "timestamp",
                "time",
                "ts",
            ],
        );
        put("category", &["category"]);
        FieldMap(m)
    }
}

impl FieldMap {
    /// Applies `--field FIELD=NAME` settings (NAME replaces the defaults for FIELD).
    pub fn with_overrides(mut self, overrides: &[String]) -> Result<Self, StateError> {
        for o in overrides {
            let (field, name) = o
                .split_once('=')
                .ok_or_else(|| StateError::BadMapping(o.clone()))?;
            let key = MAPPABLE
                .iter()
                .find(|k| **k == field.trim())
                .ok_or_else(|| StateError::BadMapping(o.clone()))?;
            self.0.insert(key, vec![name.trim().to_string()]);
        }
        Ok(self)
    }

    fn lookup<'a>(&self, field: &str, obj: &'a Map<String, Value>) -> Option<&'a Value> {
        self.lookup_named(field, obj).map(|(_, v)| v)
    }

    fn lookup_named<'s, 'a>(
        &'s self,
        field: &str,
        obj: &'a Map<String, Value>,
    ) -> Option<(&'s str, &'a Value)> {
        self.0.get(field)?.iter().find_map(|name| {
            obj.get(name)
                .filter(|v| !v.is_null())
                .map(|v| (name.as_str(), v))
        })
    }

    /// Checks the type of every field an order would be built from, so nothing is silently
    /// coerced: ids, symbol, side, status and category are strings (a Kraken `userref` client
    /// id may be an integer), quantities, prices and times strings or numbers.
    pub fn check_types(&self, obj: &Map<String, Value>) -> Result<(), WrongType> {
        for field in MAPPABLE {
            let Some((name, value)) = self.lookup_named(field, obj) else {
                continue;
            };
            let expected = match field {
                "qty" | "price" => "a string or a number",
                "created" => "a time (a number or a string)",
                "client_id" if name == "userref" => "an integer or a string",
                _ => "a string",
            };
            let fits = match value {
                Value::String(_) => true,
                Value::Number(n) => match field {
                    "qty" | "price" | "created" => true,
                    "client_id" => name == "userref" && n.is_i64(),
                    _ => false,
                },
                _ => false,
            };
            if !fits {
                return Err(WrongType {
                    name: name.to_string(),
                    expected,
                    found: kind_of(value),
                });
            }
        }
        Ok(())
    }

    /// Builds an order from one source object; `fallback_id` is a map key to use as the id.
    /// `None` when the object has neither an id nor a client id.
    pub fn order_from_object(
        &self,
        obj: &Map<String, Value>,
        fallback_id: Option<&str>,
    ) -> Option<Order> {
        let text = |f: &str| scalar_text(self.lookup(f, obj)).filter(|s| !s.is_empty());
        let id = text("id").or_else(|| fallback_id.map(str::to_string));
        let client_id = text("client_id").filter(|c| c != "0");
        if id.is_none() && client_id.is_none() {
            return None;
        }
        Some(Order {
            id: id.unwrap_or_default(),
            client_id,
            symbol: text("symbol").unwrap_or_default(),
            side: text("side").unwrap_or_default(),
            qty: text("qty"),
            price: text("price"),
            status: text("status").unwrap_or_else(|| "open".into()),
            category: text("category"),
            created_ms: self.lookup("created", obj).and_then(parse_time_ms),
        })
    }
}

/// A field of the wrong JSON type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongType {
    /// The source's name for the field (`orderId`).
    pub name: String,
    /// What it should be.
    pub expected: &'static str,
    /// What it is.
    pub found: &'static str,
}

impl std::fmt::Display for WrongType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: expected {}, found {}",
            self.name, self.expected, self.found
        )
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Why local state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A syntax error.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A field of the wrong type (`"orderId": 123`, `"symbol": ["x"]`).
    #[error("{path}:{line}: {wrong}")]
    WrongType {
        /// The file.
        path: String,
        /// 1-based line of the field's value.
        line: usize,
        /// Which field, and what it should be.
        wrong: WrongType,
    },
    /// A state file (or one of its lines) too large to be a bot's orders.
    #[error("{path}: {what} larger than {limit} bytes: not a bot's order state")]
    TooLarge {
        /// The file (and line).
        path: String,
        /// `file` or `line`.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// An entry without any id.
    #[error(
        "{path}:{place}: order has no id (looked for {candidates}; map one with --field id=NAME)"
    )]
    NoId {
        /// The file.
        path: String,
        /// `line N` or `entry N`.
        place: String,
        /// The names tried.
        candidates: String,
    },
    /// The SQLite database or query failed.
    #[error("{path}: {message}")]
    Sqlite {
        /// The file.
        path: String,
        /// The driver's message.
        message: String,
    },
    /// A `--field` setting that is not `FIELD=NAME` with a known FIELD.
    #[error(
        "--field {0}: expected FIELD=NAME with FIELD one of id, client_id, symbol, side, qty, price, status, created, category"
    )]
    BadMapping(String),
}

/// Reads every order in the local state file.
pub fn load(
    path: &Path,
    format: StateFormat,
    query: &str,
    map: &FieldMap,
) -> Result<Vec<Order>, StateError> {
    let name = path.display().to_string();
    let io = |source| StateError::Io {
        path: name.clone(),
        source,
    };
    let no_id = |place: String| StateError::NoId {
        path: name.clone(),
        place,
        candidates: map.0.get("id").map(|v| v.join("/")).unwrap_or_default()
            + " and "
            + &map
                .0
                .get("client_id")
                .map(|v| v.join("/"))
                .unwrap_or_default(),
    };
    match format {
        StateFormat::Json => {
            let text = read_bounded(path, MAX_STATE_BYTES).map_err(|e| match e {
                Bounded::Io(source) => io(source),
                Bounded::TooLong => StateError::TooLarge {
                    path: name.clone(),
                    what: "file",
                    limit: MAX_STATE_BYTES,
                },
            })?;
            let syntax = |e: serde_json::Error| StateError::Syntax {
                path: name.clone(),
                line: e.line(),
                message: e.to_string(),
            };
            let entries =
                json_entries(&text)
                    .map_err(syntax)?
                    .ok_or_else(|| StateError::Syntax {
                        path: name.clone(),
                        line: 1,
                        message: "expected an array of orders or an object keyed by order id"
                            .into(),
                    })?;
            let mut orders = Vec::new();
            for (i, (key, raw)) in entries.into_iter().enumerate() {
                let place = key
                    .as_ref()
                    .map_or(format!("entry {}", i + 1), |k| format!("entry {k:?}"));
                let Ok(fields) = serde_json::from_str::<BTreeMap<String, &RawValue>>(raw.get())
                else {
                    return Err(StateError::Syntax {
                        path: name.clone(),
                        line: line_of(&text, raw),
                        message: format!("{place} is not a JSON object"),
                    });
                };
                let obj: Map<String, Value> = fields
                    .iter()
                    .map(|(k, v)| serde_json::from_str(v.get()).map(|v: Value| (k.clone(), v)))
                    .collect::<Result<_, _>>()
                    .map_err(syntax)?;
                map.check_types(&obj)
                    .map_err(|wrong| StateError::WrongType {
                        path: name.clone(),
                        line: fields
                            .get(&wrong.name)
                            .map_or(line_of(&text, raw), |v| line_of(&text, v)),
                        wrong,
                    })?;
                orders.push(
                    map.order_from_object(&obj, key.as_deref())
                        .ok_or_else(|| no_id(place))?,
                );
            }
            Ok(orders)
        }
        StateFormat::Jsonl => {
            let mut file = BufReader::new(fs::File::open(path).map_err(io)?);
            let mut orders = Vec::new();
            let mut buf = Vec::new();
            for i in 0.. {
                buf.clear();
                let n = (&mut file)
                    .take(MAX_LINE_BYTES + 1)
                    .read_until(b'\n', &mut buf)
                    .map_err(io)?;
                if n == 0 {
                    break;
                }
                if buf.len() as u64 > MAX_LINE_BYTES {
                    return Err(StateError::TooLarge {
                        path: format!("{name}:{}", i + 1),
                        what: "line",
                        limit: MAX_LINE_BYTES,
                    });
                }
                let line = std::str::from_utf8(&buf).map_err(|_| StateError::Syntax {
                    path: name.clone(),
                    line: i + 1,
                    message: "not UTF-8 text".into(),
                })?;
                if line.trim().is_empty() {
                    continue;
                }
                let syntax = |message: String| StateError::Syntax {
                    path: name.clone(),
                    line: i + 1,
                    message,
                };
                let value: Value = serde_json::from_str(line).map_err(|e| syntax(e.to_string()))?;
                let obj = value
                    .as_object()
                    .ok_or_else(|| syntax("expected a JSON object".into()))?;
                map.check_types(obj)
                    .map_err(|wrong| StateError::WrongType {
                        path: name.clone(),
                        line: i + 1,
                        wrong,
                    })?;
                orders.push(
                    map.order_from_object(obj, None)
                        .ok_or_else(|| no_id(format!("{}", i + 1)))?,
                );
            }
            Ok(orders)
        }
        StateFormat::Sqlite => load_sqlite(path, query, map).map_err(|e| match e {
            SqliteOrId::Sql(message) => StateError::Sqlite {
                path: name.clone(),
                message,
            },
            SqliteOrId::NoId(row) => no_id(format!("row {row}")),
        }),
    }
}

/// The orders of a JSON state file, each with its map key when the file is an object keyed by
/// order id, as raw text (so a field's line can be named); `None` for another shape.
type Entries<'a> = Vec<(Option<String>, &'a RawValue)>;

fn array_entries(raw: &RawValue) -> Result<Entries<'_>, serde_json::Error> {
    let items: Vec<&RawValue> = serde_json::from_str(raw.get())?;
    Ok(items.into_iter().map(|v| (None, v)).collect())
}

fn json_entries(text: &str) -> Result<Option<Entries<'_>>, serde_json::Error> {
    let top: &RawValue = serde_json::from_str(text)?;
    let trimmed = top.get().trim_start();
    if trimmed.starts_with('[') {
        return array_entries(top).map(Some);
    }
    if !trimmed.starts_with('{') {
        return Ok(None);
    }
    let object: BTreeMap<String, &RawValue> = serde_json::from_str(top.get())?;
    if let Some(orders) = object.get("orders") {
        let inner = orders.get().trim_start();
        if inner.starts_with('[') {
            return array_entries(orders).map(Some);
        }
        if inner.starts_with('{') {
            // Parsed from a slice of `text`: the entries still point into it.
            return json_entries(orders.get());
        }
    }
    Ok(Some(
        object.into_iter().map(|(k, v)| (Some(k), v)).collect(),
    ))
}

/// The 1-based line of `text` on which `raw` (a slice of it) starts.
fn line_of(text: &str, raw: &RawValue) -> usize {
    let start = (raw.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    let prefix = text.get(..start.min(text.len())).unwrap_or("");
    prefix.bytes().filter(|b| *b == b'\n').count() + 1
}

/// Largest JSON state file read (a bot's open orders take kilobytes).
pub const MAX_STATE_BYTES: u64 = 64 << 20;
/// Longest JSONL state line read.
pub const MAX_LINE_BYTES: u64 = 1 << 20;

enum Bounded {
    Io(std::io::Error),
    TooLong,
}

/// Reads at most `limit` bytes of UTF-8 text: `/dev/zero` or a runaway file ends with an error,
/// never unbounded memory.
fn read_bounded(path: &Path, limit: u64) -> Result<String, Bounded> {
    let file = fs::File::open(path).map_err(Bounded::Io)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(Bounded::Io)?;
    if bytes.len() as u64 > limit {
        return Err(Bounded::TooLong);
    }
    String::from_utf8(bytes)
        .map_err(|e| Bounded::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

enum SqliteOrId {
    Sql(String),
    NoId(usize),
}

fn load_sqlite(path: &Path, query: &str, map: &FieldMap) -> Result<Vec<Order>, SqliteOrId> {
    use rusqlite::types::ValueRef;
    let sql = |e: rusqlite::Error| SqliteOrId::Sql(e.to_string());
    if !path.exists() {
        return Err(SqliteOrId::Sql("no such file".into()));
    }
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(sql)?;
    let mut stmt = conn.prepare(query).map_err(sql)?;
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let mut rows = stmt.query([]).map_err(sql)?;
    let mut orders = Vec::new();
    while let Some(row) = rows.next().map_err(sql)? {
        let mut obj = Map::new();
        for (i, n) in names.iter().enumerate() {
            let v = match row.get_ref(i).map_err(sql)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(x) => Value::from(x),
                ValueRef::Real(x) => Value::from(x),
                ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(_) => Value::Null,
            };
            obj.insert(n.clone(), v);
        }
        orders.push(
            map.order_from_object(&obj, None)
                .ok_or(SqliteOrId::NoId(orders.len() + 1))?,
        );
    }
    Ok(orders)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn seed_style_dict_keyed_by_order_id() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = write(
            dir.path(),
            "active_orders.json",
            r#"{"1a2b": {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.01", "orderLinkId": "BOT_1", "createdTime": "1700000000000"}}"#,
        );
        let orders = load(&p, StateFormat::from_path(&p), "", &FieldMap::default()).expect("load");
        assert_eq!(orders.len(), 1);
        assert_eq!(orders[0].id, "1a2b");
        assert_eq!(orders[0].client_id.as_deref(), Some("BOT_1"));
        assert_eq!(orders[0].created_ms, Some(1_700_000_000_000));
        assert_eq!(orders[0].status, "open");
    }

    #[test]
    fn jsonl_errors_name_file_and_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = write(
            dir.path(),
            "o.jsonl",
            "{\"orderId\":\"a\"}\n\n{\"orderId\": \n",
        );
        let err = load(&p, StateFormat::Jsonl, "", &FieldMap::default()).expect_err("bad");
        assert!(err.to_string().contains("o.jsonl:3:"), "{err}");
        let p = write(
            dir.path(),
            "n.jsonl",
            "{\"orderId\":\"a\"}\n{\"symbol\":\"X\"}\n",
        );
        let err = load(&p, StateFormat::Jsonl, "", &FieldMap::default()).expect_err("no id");
        assert!(
            err.to_string().contains("n.jsonl:2: order has no id"),
            "{err}"
        );
    }

    #[test]
    fn json_syntax_error_names_the_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = write(
            dir.path(),
            "s.json",
            "[\n {\"orderId\": \"a\"},\n {oops}\n]",
        );
        let err = load(&p, StateFormat::Json, "", &FieldMap::default()).expect_err("bad");
        assert!(
            err.to_string().starts_with(&format!("{}:3:", p.display())),
            "{err}"
        );
    }

    #[test]
    fn sqlite_query_with_mapped_fields() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("trading.db");
        let conn = rusqlite::Connection::open(&p).expect("db");
        conn.execute_batch(
            "CREATE TABLE trades (trade_id TEXT, exchange_id TEXT, pair TEXT, side TEXT, status TEXT, created_at TEXT);
             INSERT INTO trades VALUES ('t1', 'OABC-1', 'XBTUSD', 'buy', 'open', '2023-11-14 22:13:20');
             INSERT INTO trades VALUES ('t2', 'OABC-2', 'XBTUSD', 'sell', 'closed', '2023-11-14 22:13:20');",
        )
        .expect("seed");
        drop(conn);
        let map = FieldMap::default()
            .with_overrides(&["id=exchange_id".into(), "client_id=trade_id".into()])
            .expect("map");
        let orders = load(
            &p,
            StateFormat::Sqlite,
            "SELECT * FROM trades WHERE status != 'closed'",
            &map,
        )
        .expect("load");
        assert_eq!(orders.len(), 1);
        assert_eq!(
            (orders[0].id.as_str(), orders[0].client_id.as_deref()),
            ("OABC-1", Some("t1"))
        );
        assert_eq!(orders[0].created_ms, Some(1_700_000_000_000));
        let err = load(&p, StateFormat::Sqlite, "SELECT * FROM nope", &map).expect_err("bad query");
        assert!(err.to_string().contains("no such table"), "{err}");
        assert!(
            FieldMap::default()
                .with_overrides(&["bogus=x".into()])
                .is_err()
        );
    }
}
