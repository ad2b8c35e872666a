//! The `/health/live` endpoint (seed 002), served on loopback from its own thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread;

/// What `/health/live` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Health {
    /// 200 `{"status":"ok"}`.
    Live = 0,
    /// 503 `{"status":"degraded"}`: an outage.
    Outage = 1,
    /// No answer at all: the service is hung and the request times out.
    Hung = 2,
}

/// Shared health state, set by the service loop and read by the server thread.
#[derive(Debug, Clone, Default)]
pub struct HealthState(Arc<AtomicU8>);

impl HealthState {
    /// Sets what the endpoint answers from now on.
    pub fn set(&self, h: Health) {
        self.0.store(h as u8, Ordering::SeqCst);
    }

    /// What the endpoint answers now.
    pub fn get(&self) -> Health {
        match self.0.load(Ordering::SeqCst) {
            0 => Health::Live,
            1 => Health::Outage,
            _ => Health::Hung,
        }
    }
}

/// Binds `addr` (port 0 picks a free one) and serves health from a background thread.
/// Returns the bound address.
pub fn serve(
    addr: std::net::SocketAddr,
    state: HealthState,
) -> anyhow::Result<std::net::SocketAddr> {
    let server = tiny_http::Server::http(addr)
        .map_err(|e| soak_core::exit::environment(format!("--health-listen {addr}: {e}")))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| soak_core::exit::environment("--health-listen: not an IP address"))?;
    let json = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
        .map_err(|()| anyhow::anyhow!("invalid Content-Type header"))?;
    thread::spawn(move || {
        for request in server.incoming_requests() {
            let (code, body) = match (request.url(), state.get()) {
                (_, Health::Hung) => {
                    // Hold the request open without answering, like a wedged event loop.
                    std::mem::forget(request);
                    continue;
                }
                ("/health/live" | "/health", Health::Live) => (200, r#"{"status":"ok"}"#),
                ("/health/live" | "/health", Health::Outage) => (503, r#"{"status":"degraded"}"#),
                _ => (404, r#"{"error":"not found"}"#),
            };
            let response = tiny_http::Response::from_string(body)
                .with_status_code(code)
                .with_header(json.clone());
            let _ = request.respond(response);
        }
    });
    Ok(bound)
}
