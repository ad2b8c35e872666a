//! `--notify URL`: the verdict posted as JSON to a webhook.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::verdict::{Status, SummaryJson, Verdict};

/// The webhook's body: `summary.json`'s document, the failed rows, and the text table.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(flatten)]
    summary: SummaryJson<'a>,
    /// Each failed row's metric, value and reason.
    failing: Vec<Failing<'a>>,
    /// The text table in a code block, which Slack and Telegram-bridge webhooks show.
    text: String,
}

/// A failed row, as the webhook names it.
#[derive(Serialize)]
struct Failing<'a> {
    metric: &'a str,
    value: &'a str,
    detail: &'a str,
}

/// Posts the verdict: `summary.json`'s document plus `failing` (each failed row's metric and
/// reason) and a `text` field that Slack and Telegram-bridge webhooks show.
pub fn notify(url: &str, v: &Verdict) -> Result<()> {
    let body = Body {
        summary: v.to_json(),
        failing: v
            .rows
            .iter()
            .filter(|r| r.status == Status::Fail)
            .map(|r| Failing {
                metric: r.metric,
                value: &r.value,
                detail: &r.detail,
            })
            .collect(),
        text: format!("```\n{}```", v.to_text()),
    };
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build(),
    );
    let resp = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(serde_json::to_string(&body)?)
        .context("sending")?;
    if !resp.status().is_success() {
        bail!("HTTP {}", resp.status());
    }
    Ok(())
}
