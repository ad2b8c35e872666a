//! `seccheck secrets` on real files: env values (literal and base64), key shapes, gzip, no
//! false positives on the repository's real log fixtures, atomic redaction that changes nothing
//! else, and secrets never printed.

use std::io::Write;
use std::path::Path;

use assert_cmd::Command;
use base64::Engine;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

const SECRET: &str = "Zx9LiveK3f8a1c2e9b7d4f60a1b2c3d4q8V";

fn seccheck() -> Command {
    let mut c = Command::cargo_bin("seccheck").expect("binary");
    c.env("BYBIT_API_SECRET", SECRET)
        .env_remove("GITHUB_ACTIONS");
    c
}

fn records(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// `seccheck secrets --env BYBIT_API_SECRET --redact --format jsonl PATH`.
fn redact(path: &Path) -> std::process::Output {
    seccheck()
        .args([
            "secrets",
            "--env",
            "BYBIT_API_SECRET",
            "--redact",
            "--format",
            "jsonl",
        ])
        .arg(path)
        .output()
        .expect("run")
}

fn read_gz(path: &Path) -> String {
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(path).expect("open")),
        &mut text,
    )
    .expect("gunzip");
    text
}

fn write_gz(path: &Path, text: &str) {
    let mut gz = GzEncoder::new(
        std::fs::File::create(path).expect("create"),
        Compression::default(),
    );
    gz.write_all(text.as_bytes()).expect("write");
    gz.finish().expect("finish");
}

fn artifacts(dir: &Path) {
    std::fs::write(
        dir.join("service.log"),
        format!(
            "2026-02-14 10:00:00,000 - bot - INFO - Starting\n2026-02-14 10:00:01,000 - bot - DEBUG - Loaded credentials api_secret={SECRET}\n2026-02-14 10:00:02,000 - bot - INFO - [HB] alive seq=1\n"
        ),
    )
    .expect("write");
    let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
    std::fs::write(
        dir.join("config.json"),
        format!("{{\"auth\": \"{b64}\", \"symbol\": \"BTCUSDT\"}}\n"),
    )
    .expect("write");
    write_gz(
        &dir.join("old.log.gz"),
        "quiet line\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n",
    );
    std::fs::write(dir.join("clean.csv"), "timestamp,rss_mb\n1,100\n2,101\n").expect("write");
}

#[test]
fn finds_env_values_in_both_forms_and_key_shapes_in_gzip_and_never_prints_them() {
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    let out = seccheck()
        .args([
            "secrets",
            "--env",
            "BYBIT_API_SECRET,NOT_SET_ANYWHERE",
            "--allow-missing-env",
            "--format",
            "jsonl",
        ])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let recs = records(&out.stdout);
    let mut found: Vec<(String, String, u64)> = recs
        .iter()
        .filter(|r| r["type"] == "finding")
        .map(|r| {
            let file = Path::new(r["file"].as_str().expect("file"))
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (
                file,
                r["kind"].as_str().expect("kind").to_string(),
                r["line"].as_u64().expect("line"),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (
                "config.json".into(),
                "env_base64:BYBIT_API_SECRET".into(),
                1
            ),
            ("old.log.gz".into(), "pem_private_key".into(), 2),
            ("service.log".into(), "env:BYBIT_API_SECRET".into(), 2),
        ]
    );
    let everything = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !everything.contains(SECRET) && !everything.contains(&SECRET[4..]),
        "{everything}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--env NOT_SET_ANYWHERE: the variable is not set"),
        "{out:?}"
    );
    assert_eq!(recs.last().expect("summary")["files"], 4);
}

#[test]
fn the_repositorys_real_logs_are_clean() {
    let logs = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/logs");
    let out = seccheck()
        .args(["secrets", "--format", "jsonl", logs])
        .output()
        .expect("run");
    let findings: Vec<Value> = records(&out.stdout)
        .into_iter()
        .filter(|r| r["type"] == "finding")
        .collect();
    assert!(findings.is_empty(), "false positives: {findings:#?}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn redact_masks_the_secrets_and_changes_nothing_else() {
    let dir = tempfile::tempdir().expect("tmp");
    artifacts(dir.path());
    let before = std::fs::read_to_string(dir.path().join("service.log")).expect("read");
    let clean_before = std::fs::read(dir.path().join("clean.csv")).expect("read");
    let out = redact(dir.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "found (and masked) is still a failed check"
    );
    let after = std::fs::read_to_string(dir.path().join("service.log")).expect("read");
    assert_eq!(
        after,
        before.replace(SECRET, "[REDACTED:env:BYBIT_API_SECRET]")
    );
    assert_eq!(
        std::fs::read(dir.path().join("clean.csv")).expect("read"),
        clean_before,
        "untouched"
    );
    // .gz stays gzip, now clean
    let text = read_gz(&dir.path().join("old.log.gz"));
    assert!(text.contains("[REDACTED:pem_private_key]") && text.starts_with("quiet line\n"));
    let again = seccheck()
        .args(["secrets", "--env", "BYBIT_API_SECRET", "--format", "jsonl"])
        .arg(dir.path())
        .output()
        .expect("rerun");
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("seccheck-tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_missing_path_is_named_with_exit_2() {
    let out = seccheck()
        .args(["secrets", "/nonexistent/artifacts"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/artifacts"));
}

/// Issue 16 point 1: a symlink planted at the name the tool once used for its temporary file
/// (and at other plausible ones) is never written through; the redacted file stays a regular
/// file with its mode, and the outside file keeps its content and mode.
#[cfg(unix)] // symlinks need a privilege on Windows; modes are Unix
#[test]
fn redact_never_writes_through_a_planted_symlink() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let outside = tempfile::tempdir().expect("outside");
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "root:x:0:0\n").expect("write");
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let log = dir.path().join("app.log");
    std::fs::write(&log, format!("key loaded api_secret={SECRET}\n")).expect("write");
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    for name in [
        ".app.log.seccheck-tmp",
        "app.log.seccheck-tmp",
        ".app.log.tmp",
        "app.log.tmp",
        "app.log.redacted",
    ] {
        std::os::unix::fs::symlink(&victim, dir.path().join(name)).expect("symlink");
    }
    let out = redact(&log);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("read"),
        "root:x:0:0\n"
    );
    assert_eq!(
        std::fs::metadata(&victim)
            .expect("meta")
            .permissions()
            .mode()
            & 0o7777,
        0o644
    );
    let meta = std::fs::symlink_metadata(&log).expect("meta");
    assert!(meta.file_type().is_file());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    assert_eq!(
        std::fs::read_to_string(&log).expect("read"),
        "key loaded api_secret=[REDACTED:env:BYBIT_API_SECRET]\n"
    );
}

const RSA_BODY: [&str; 3] = [
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK",
    "LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo",
];

/// Issue 22: a private key is one finding from its BEGIN to its END line and goes entirely,
/// written over lines, escaped inside a JSON string, and inside a `.gz`; a base64 value loses
/// its padding; a re-scan of the redacted tree finds nothing.
#[test]
fn redact_removes_whole_private_keys_everywhere() {
    let dir = tempfile::tempdir().expect("tmp");
    let block = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
        RSA_BODY.join("\n")
    );
    std::fs::write(
        dir.path().join("bot.log"),
        format!("2026-02-14 10:00:00,000 - bot - ERROR - bad key:\n{block}\n2026-02-14 10:00:01,000 - bot - INFO - next\n"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("sa.json"),
        format!(
            "{{\"type\": \"service_account\", \"private_key\": \"{}\\n\", \"client_email\": \"bot@p.iam.gserviceaccount.com\"}}\n",
            block.replace("RSA ", "").replace('\n', "\\n")
        ),
    )
    .expect("write");
    write_gz(
        &dir.path().join("bot.log.1.gz"),
        &format!("start\n{}\nend\n", block.replace("RSA ", "")),
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{SECRET}ab"));
    assert!(b64.ends_with('='));
    std::fs::write(
        dir.path().join("k.env"),
        format!("KRAKEN_API_SECRET={b64}\n"),
    )
    .expect("write");
    let scan = |args: &[&str]| {
        let out = seccheck()
            .env("KRAKEN_API_SECRET", &b64)
            .args(["secrets", "--env", "KRAKEN_API_SECRET", "--format", "jsonl"])
            .args(args)
            .arg(dir.path())
            .output()
            .expect("run");
        let recs = records(&out.stdout);
        let found: Vec<(String, String, u64, u64)> = recs
            .iter()
            .filter(|r| r["type"] == "finding")
            .map(|r| {
                (
                    Path::new(r["file"].as_str().expect("file"))
                        .file_name()
                        .expect("name")
                        .to_string_lossy()
                        .into_owned(),
                    r["kind"].as_str().expect("kind").to_string(),
                    r["line"].as_u64().expect("line"),
                    r["end_line"].as_u64().expect("end_line"),
                )
            })
            .collect();
        (out.status.code(), found)
    };
    let (code, found) = scan(&["--redact"]);
    assert_eq!(code, Some(1));
    let want: Vec<(String, String, u64, u64)> = vec![
        ("bot.log".into(), "pem_private_key".into(), 2, 6),
        ("bot.log.1.gz".into(), "pem_private_key".into(), 2, 6),
        ("k.env".into(), "env:KRAKEN_API_SECRET".into(), 1, 1),
        ("sa.json".into(), "gcp_service_account_key".into(), 1, 1),
    ];
    assert_eq!(found, want);
    let mut all = String::new();
    for name in ["bot.log", "sa.json", "k.env"] {
        all.push_str(&std::fs::read_to_string(dir.path().join(name)).expect("read"));
    }
    let gz = read_gz(&dir.path().join("bot.log.1.gz"));
    all.push_str(&gz);
    for piece in RSA_BODY {
        assert!(!all.contains(&piece[10..40]), "{all}");
    }
    assert!(
        !all.contains("PRIVATE KEY") && !all.contains("=\n"),
        "{all}"
    );
    assert!(all.contains("KRAKEN_API_SECRET=[REDACTED:env:KRAKEN_API_SECRET]\n"));
    assert_eq!(
        gz, "start\n[REDACTED:pem_private_key]\n\n\n\n\nend\n",
        "line count kept"
    );
    serde_json::from_str::<Value>(
        &std::fs::read_to_string(dir.path().join("sa.json")).expect("read"),
    )
    .expect("still JSON");
    assert_eq!(scan(&[]), (Some(0), vec![]));
}
