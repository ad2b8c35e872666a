//! `--notify URL`: the verdict posted as JSON to a webhook.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::verdict::{Status, Verdict};

/// Posts the verdict: `summary.json`'s document plus `failing` (each failed row's metric and
/// reason) and a `text` field that Slack and Telegram-bridge webhooks show.
pub fn notify(url: &str, v: &Verdict) -> Result<()> {
    let mut body = v.to_json();
    body["failing"] = v
        .rows
        .iter()
        .filter(|r| r.status == Status::Fail)
        .map(|r| serde_json::json!({"metric": r.metric, "value": r.value, "detail": r.detail}))
        .collect();
    body["text"] = Value::String(format!("```\n{}```", v.to_text()));
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build(),
    );
    let resp = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .context("sending")?;
    if !resp.status().is_success() {
        bail!("HTTP {}", resp.status());
    }
    Ok(())
}
