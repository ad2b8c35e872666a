//! The exchanges orphan-cancel talks to, behind one interface.
//!
//! - [`bybit`]: Bybit v5 REST (open orders, cancel, cancel-batch, cancel-all);
//! - [`kraken`]: Kraken spot REST (OpenOrders, CancelOrderBatch, CancelAll,
//!   CancelAllOrdersAfter);
//! - [`snapshot`]: a JSON file of open orders, for offline reconciliation;
//! - [`http`]: the transport: timeouts, rate-limit pacing, retries with backoff and jitter.

pub mod bybit;
pub mod http;
pub mod kraken;
pub mod nonce;
pub mod snapshot;

use crate::order::Order;

/// Which orders a listing or a cancel-all covers.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Bybit category (`linear`, `inverse`, `spot`, `option`).
    pub category: String,
    /// One instrument.
    pub symbol: Option<String>,
    /// Bybit settle coin (`USDT`), for linear/inverse listings without a symbol.
    pub settle_coin: Option<String>,
}

/// What happened to one order we asked to cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelResult {
    /// The exchange cancelled it now.
    Cancelled,
    /// The exchange says it no longer exists (filled or cancelled before): success.
    AlreadyGone,
    /// The exchange refused or never answered; the message says why.
    Failed,
}

impl CancelResult {
    /// The `result` field's value.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelResult::Cancelled => "cancelled",
            CancelResult::AlreadyGone => "already_gone",
            CancelResult::Failed => "failed",
        }
    }
}

/// The outcome for one order.
#[derive(Debug, Clone)]
pub struct CancelOutcome {
    /// The order.
    pub order: Order,
    /// The result.
    pub result: CancelResult,
    /// The exchange's message, when it failed.
    pub message: Option<String>,
}

/// The dead-man switch as the exchange reports it.
#[derive(Debug, Clone)]
pub struct DeadMan {
    /// When the exchange will cancel everything (its own clock, as it wrote it); `None` when
    /// disarmed.
    pub trigger_time: Option<String>,
}

/// An exchange failure that ends the command (exit 3). Messages never contain credentials.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// No connection, or no answer within the timeout, after every retry.
    #[error("exchange unreachable: {0}")]
    Unreachable(String),
    /// The exchange refused the key or the signature (the message names its code).
    #[error("{0}")]
    Auth(String),
    /// The exchange refused the nonce twice: another client of the key signed a larger one.
    #[error("{0}")]
    Nonce(String),
    /// The key lacks a permission, or may not be used from this address.
    #[error("{0}")]
    Permission(String),
    /// Still failing after every retry (rate limit, 5xx, ...).
    #[error("exchange kept failing after {attempts} attempts: {last}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// A refusal that retrying cannot fix.
    #[error("exchange refused the request: {0}")]
    Rejected(String),
    /// An answer we could not understand.
    #[error("unexpected answer from the exchange: {0}")]
    Protocol(String),
    /// The operation does not exist for this exchange or source.
    #[error("{0}")]
    Unsupported(String),
}

impl ExchangeError {
    /// True for failures that no other order of the run can escape (the exchange is gone, or
    /// refuses this key): the run stops instead of trying the next batch.
    pub fn ends_the_run(&self) -> bool {
        matches!(
            self,
            ExchangeError::Auth(_)
                | ExchangeError::Nonce(_)
                | ExchangeError::Permission(_)
                | ExchangeError::Unreachable(_)
        )
    }
}

/// What every exchange offers.
pub trait Exchange {
    /// `bybit`, `kraken` or `file`.
    fn name(&self) -> &'static str;

    /// Every open order in `scope`, across all pages.
    fn list_open(&mut self, scope: &Scope) -> Result<Vec<Order>, ExchangeError>;

    /// Cancels `orders` (batched where the exchange allows), reporting each outcome.
    fn cancel(
        &mut self,
        scope: &Scope,
        orders: &[Order],
        report: &mut dyn FnMut(CancelOutcome),
    ) -> Result<(), ExchangeError>;

    /// The exchange's cancel-all for `scope`; returns how many it reports cancelled, or `None`
    /// when it cannot scope that way (the caller then lists and cancels).
    fn cancel_all(&mut self, scope: &Scope) -> Result<Option<usize>, ExchangeError>;

    /// Arms (or with 0, disarms) the exchange's cancel-all-after timer.
    fn dead_man(&mut self, timeout_s: u64) -> Result<DeadMan, ExchangeError>;

    /// Requests sent so far (for the summary and the benchmark).
    fn requests(&self) -> u64;
}
