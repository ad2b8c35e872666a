//! Private keys made by the real tools (OpenSSL's `genpkey`/`genrsa -traditional`, OpenSSH's
//! `ssh-keygen`), and a GCP-style service-account file written by Python's `json` module, in
//! soak artifacts: each is one finding over its whole block and `--redact` leaves no line of
//! its body, also inside `.gz`. Skips, saying why, when a tool is missing.

use std::io::Write;
use std::path::Path;
use std::process::Command as StdCommand;

use assert_cmd::Command;

fn tool_output(program: &str, args: &[&str], dir: &Path) -> Option<()> {
    let ok = StdCommand::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some(())
    } else {
        println!(
            "skipped: {program} is not available (Debian packages openssl, openssh-client, python3)"
        );
        None
    }
}

/// The base64 body lines of a PEM file.
fn body_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .map(str::to_string)
        .collect()
}

#[test]
fn keys_from_openssl_ssh_keygen_and_python_json_are_redacted_whole() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let keys = d.join("keys");
    std::fs::create_dir(&keys).expect("mkdir");
    let made = tool_output(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "pkcs8.pem",
        ],
        &keys,
    )
    .and_then(|_| {
        tool_output(
            "openssl",
            &["genrsa", "-traditional", "-out", "rsa.pem", "2048"],
            &keys,
        )
    })
    .and_then(|_| {
        tool_output(
            "openssl",
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "ec.pem",
            ],
            &keys,
        )
    })
    .and_then(|_| {
        tool_output(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-f", "id_ed25519"],
            &keys,
        )
    });
    if made.is_none() {
        return;
    }
    let read = |n: &str| std::fs::read_to_string(keys.join(n)).expect("key");
    let (pkcs8, rsa, ec, ssh) = (
        read("pkcs8.pem"),
        read("rsa.pem"),
        read("ec.pem"),
        read("id_ed25519"),
    );
    // A GCP-style service-account file, JSON-escaped by Python itself.
    let sa = d.join("artifacts");
    std::fs::create_dir(&sa).expect("mkdir");
    let py = format!(
        "import json,sys; json.dump({{'type': 'service_account', 'project_id': 'soak', 'private_key_id': 'a1b2c3', 'private_key': open('{}').read(), 'client_email': 'bot@soak.iam.gserviceaccount.com'}}, open('{}', 'w'), indent=2)",
        keys.join("pkcs8.pem").display(),
        sa.join("service-account.json").display()
    );
    if tool_output("python3", &["-c", &py], d).is_none() {
        return;
    }
    let log = format!(
        "2026-02-14 10:00:00,000 - bot - INFO - start\n2026-02-14 10:00:01,000 - bot - ERROR - key was:\n{rsa}2026-02-14 10:00:02,000 - bot - INFO - next\n{ssh}2026-02-14 10:00:03,000 - bot - INFO - done\n"
    );
    std::fs::write(sa.join("bot.log"), &log).expect("write");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(sa.join("bot.log.1.gz")).expect("create"),
        flate2::Compression::default(),
    );
    write!(gz, "rotated\n{ec}tail\n").expect("gz");
    gz.finish().expect("finish");

    let out = Command::cargo_bin("seccheck")
        .expect("binary")
        .env_remove("GITHUB_ACTIONS")
        .args(["secrets", "--format", "jsonl", "--redact"])
        .arg(&sa)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut kinds: Vec<(String, u64, u64)> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .filter(|r| r["type"] == "finding")
        .map(|r| {
            (
                r["kind"].as_str().expect("kind").to_string(),
                r["line"].as_u64().expect("line"),
                r["end_line"].as_u64().expect("end"),
            )
        })
        .collect();
    kinds.sort();
    let rsa_lines = rsa.lines().count() as u64;
    let ssh_lines = ssh.lines().count() as u64;
    let ec_lines = ec.lines().count() as u64;
    let mut want = vec![
        ("gcp_service_account_key".to_string(), 5, 5), // line 5 of json.dump(indent=2)
        ("pem_private_key".to_string(), 2, 1 + ec_lines),
        ("pem_private_key".to_string(), 3, 2 + rsa_lines),
        (
            "pem_private_key".to_string(),
            4 + rsa_lines,
            3 + rsa_lines + ssh_lines,
        ),
    ];
    want.sort();
    assert_eq!(kinds, want, "{text}");
    let mut after = std::fs::read_to_string(sa.join("bot.log")).expect("read");
    after.push_str(&std::fs::read_to_string(sa.join("service-account.json")).expect("read"));
    let mut un = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(sa.join("bot.log.1.gz")).expect("open"),
        ),
        &mut un,
    )
    .expect("gunzip");
    after.push_str(&un);
    for key in [&pkcs8, &rsa, &ec, &ssh] {
        for body in body_lines(key) {
            assert!(!after.contains(&body), "left: {body}");
        }
    }
    assert_eq!(after.matches("PRIVATE KEY").count(), 0, "{after}");
    let sa_json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sa.join("service-account.json")).expect("read"),
    )
    .expect("still JSON");
    assert_eq!(
        sa_json["private_key"],
        "[REDACTED:gcp_service_account_key]\n"
    );
    let again = Command::cargo_bin("seccheck")
        .expect("binary")
        .env_remove("GITHUB_ACTIONS")
        .args(["secrets", "--format", "jsonl"])
        .arg(&sa)
        .output()
        .expect("rerun");
    assert_eq!(
        again.status.code(),
        Some(0),
        "a re-scan finds nothing: {again:?}"
    );
}
