//! Fleet scale: resmon's `/metrics` scraped by a real Prometheus (Debian package `prometheus`,
//! started on loopback by this test) with resanalyze's alerting rules loaded. The same leak
//! fires Prometheus' alert and resanalyze's verdict on resmon's JSONL. Skips, saying why, where
//! prometheus is not installed.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use soak_tests::tool;

/// A process started in its own group; the whole group is killed when dropped (resmon's
/// child included, even when the test fails half-way).
struct Killed(Child);

impl Killed {
    fn spawn(cmd: &mut Command) -> Killed {
        use std::os::unix::process::CommandExt;
        Killed(cmd.process_group(0).spawn().expect("spawn"))
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    std::io::Write::write_all(
        &mut s,
        format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes(),
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

#[test]
fn prometheus_with_resanalyzes_rules_fires_on_the_leak_resanalyze_finds() {
    let Some(prometheus) = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
    else {
        eprintln!(
            "SKIP: prometheus is not installed (Debian package prometheus; .ci/run installs it)"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let metrics_port = free_port();
    let resources = dir.path().join("resources.jsonl");
    // The demo service leaking 60 MB/min from its second second, recorded and served by resmon.
    let _service = Killed::spawn(
        Command::new(tool("resmon"))
            .args([
                "--interval",
                "1s",
                "--duration",
                "90s",
                "--listen",
                &format!("127.0.0.1:{metrics_port}"),
                "--output",
            ])
            .arg(&resources)
            .arg("--")
            .arg(tool("soak-demo"))
            .args([
                "--faults",
                "leak",
                "--fault-after",
                "2s",
                "--leak-rate",
                "60MB/min",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let rules = dir.path().join("rules.yml");
    let out = Command::new(tool("resanalyze"))
        .args([
            "--emit-prom-rules",
            "--prom-range",
            "20s",
            "--prom-for",
            "5s",
        ])
        .output()
        .expect("resanalyze");
    std::fs::write(&rules, &out.stdout).expect("rules");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: soak\n    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n",
            rules.display()
        ),
    )
    .expect("config");
    let prom_port = free_port();
    let _prom = Killed::spawn(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let deadline = Instant::now() + Duration::from_secs(80);
    let mut firing = false;
    let mut last = String::new();
    while Instant::now() < deadline && !firing {
        std::thread::sleep(Duration::from_secs(1));
        if let Some(body) = http_get(prom_port, "/api/v1/alerts") {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            firing = v["data"]["alerts"].as_array().is_some_and(|a| {
                a.iter().any(|x| {
                    x["labels"]["alertname"] == "SoakTreeMemoryLeak" && x["state"] == "firing"
                })
            });
            last = body;
        }
    }
    assert!(
        firing,
        "Prometheus never fired SoakTreeMemoryLeak; last /api/v1/alerts: {last}"
    );

    let verdict = Command::new(tool("resanalyze"))
        .args([
            "--format",
            "jsonl",
            "--min-samples",
            "10",
            "--min-span",
            "10s",
        ])
        .arg(&resources)
        .output()
        .expect("resanalyze");
    let text = String::from_utf8_lossy(&verdict.stdout);
    let summary: Value = serde_json::from_str(text.lines().last().expect("summary")).expect("json");
    assert_eq!(summary["leak_verdict"], "leak", "{text}");
    assert_eq!(verdict.status.code(), Some(1));
}
