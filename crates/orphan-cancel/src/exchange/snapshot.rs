//! `--exchange file:PATH`: a JSON snapshot of the exchange's open orders, for offline
//! reconciliation. Accepted shapes: a Bybit `/v5/order/realtime` answer (`result.list`), a Kraken
//! `OpenOrders` answer (`result.open`), or a plain array of orders with any of the local-state
//! field names.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{CancelOutcome, DeadMan, Exchange, ExchangeError, Scope};
use crate::local_state::{FieldMap, StateError, StateFormat, load};
use crate::order::Order;

/// A read-only exchange backed by a file.
pub struct Snapshot {
    path: PathBuf,
}

impl Snapshot {
    /// The snapshot at `path`.
    pub fn new(path: &Path) -> Self {
        Snapshot {
            path: path.to_path_buf(),
        }
    }

    fn read_only(&self) -> ExchangeError {
        ExchangeError::Unsupported(format!(
            "--exchange file:{} is a read-only snapshot; cancelling needs --exchange bybit, bybit-testnet or kraken",
            self.path.display()
        ))
    }
}

/// Reads a snapshot file into orders (errors name the file and line).
pub fn read(path: &Path) -> Result<Vec<Order>, StateError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| StateError::Io {
        path: name.clone(),
        source,
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| StateError::Syntax {
        path: name,
        line: e.line(),
        message: e.to_string(),
    })?;
    let map = FieldMap::default();
    if let Some(list) = value.pointer("/result/list").and_then(Value::as_array) {
        let category = value.pointer("/result/category").and_then(Value::as_str);
        return Ok(list
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|o| map.order_from_object(o, None))
            .map(|mut o| {
                o.category = o.category.or(category.map(str::to_string));
                o
            })
            .collect());
    }
    if let Some(open) = value.pointer("/result/open").and_then(Value::as_object) {
        return Ok(open
            .iter()
            .filter_map(|(txid, o)| {
                let mut flat = o.as_object()?.clone();
                for (key, from) in [
                    ("pair", "/descr/pair"),
                    ("type", "/descr/type"),
                    ("price", "/descr/price"),
                ] {
                    if let Some(v) = o.pointer(from) {
                        flat.insert(key.into(), v.clone());
                    }
                }
                map.order_from_object(&flat, Some(txid))
            })
            .collect());
    }
    load(path, StateFormat::Json, "", &map)
}

impl Exchange for Snapshot {
    fn name(&self) -> &'static str {
        "file"
    }

    fn list_open(&mut self, scope: &Scope) -> Result<Vec<Order>, ExchangeError> {
        let orders = read(&self.path).map_err(|e| ExchangeError::Unsupported(e.to_string()))?;
        Ok(orders
            .into_iter()
            .filter(|o| !o.is_terminal())
            .filter(|o| scope.symbol.as_ref().is_none_or(|s| &o.symbol == s))
            .collect())
    }

    fn cancel(
        &mut self,
        _: &Scope,
        _: &[Order],
        _: &mut dyn FnMut(CancelOutcome),
    ) -> Result<(), ExchangeError> {
        Err(self.read_only())
    }

    fn cancel_all(&mut self, _: &Scope) -> Result<Option<usize>, ExchangeError> {
        Err(self.read_only())
    }

    fn dead_man(&mut self, _: u64) -> Result<DeadMan, ExchangeError> {
        Err(self.read_only())
    }

    fn requests(&self) -> u64 {
        0
    }
}
