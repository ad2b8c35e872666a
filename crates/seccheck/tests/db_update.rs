//! `seccheck db update`, `db status` and `deps` from the cache, against a local git remote
//! (a bare repository made here, with git, from the real RustSec advisories in
//! `fixtures/seccheck/advisory-db`) and a loopback HTTP server (tiny_http) serving a zip that
//! Python's `zipfile` makes here from the real PyPA advisories in `fixtures/seccheck/pypa-db`
//! (converted to the JSON osv.dev exports). Never the internet.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;
use serde_json::Value;

const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";
const DAY: u64 = 86_400;

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/seccheck")
        .join(p)
}

fn have(program: &str) -> bool {
    let ok = StdCommand::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIP: `{program}` is not installed (apt-get install {program})");
    }
    ok
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A git command with a fixed identity and both dates at `when` (Unix seconds).
fn git(dir: &Path, when: u64, args: &[&str]) {
    let date = format!("@{when} +0000");
    let out = StdCommand::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).expect("copy");
        }
    }
}

/// A RustSec remote: a working repository whose commits are pushed to a bare one (the URL).
struct Remote {
    work: PathBuf,
    bare: PathBuf,
}

impl Remote {
    /// The real advisories except `crates/<held_back>`, committed at `when`.
    fn new(root: &Path, held_back: &str, when: u64) -> Remote {
        let work = root.join("advisory-db-work");
        let bare = root.join("advisory-db.git");
        copy_dir(&fixture("advisory-db"), &work);
        std::fs::remove_dir_all(work.join("crates").join(held_back)).expect("hold back");
        git(&work, when, &["init", "--quiet", "--initial-branch=main"]);
        git(&work, when, &["add", "-A"]);
        git(&work, when, &["commit", "--quiet", "-m", "advisories"]);
        git(
            root,
            when,
            &[
                "clone",
                "--quiet",
                "--bare",
                "advisory-db-work",
                "advisory-db.git",
            ],
        );
        git(
            &work,
            when,
            &["remote", "add", "origin", "../advisory-db.git"],
        );
        Remote { work, bare }
    }

    /// Commits the tree as it now is at `when` and pushes it.
    fn publish(&self, when: u64, msg: &str) {
        git(&self.work, when, &["add", "-A"]);
        git(
            &self.work,
            when,
            &["commit", "--quiet", "--allow-empty", "-m", msg],
        );
        git(
            &self.work,
            when,
            &["push", "--quiet", "--force", "origin", "main"],
        );
    }

    /// Restores `crates/<name>` from the fixture and publishes it.
    fn add_crate(&self, name: &str, when: u64) {
        copy_dir(
            &fixture("advisory-db").join("crates").join(name),
            &self.work.join("crates").join(name),
        );
        self.publish(when, &format!("{name} advisory"));
    }

    fn head(&self) -> String {
        let out = StdCommand::new("git")
            .arg("-C")
            .arg(&self.bare)
            .args(["rev-parse", "HEAD"])
            .output()
            .expect("git");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn url(&self) -> String {
        self.bare.display().to_string()
    }
}

/// A zip (Python's `zipfile`, deflated) of `files` (name, bytes).
fn python_zip(dir: &Path, files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let src = dir.join("zip-src");
    std::fs::create_dir_all(&src).expect("mkdir");
    for (name, bytes) in files {
        std::fs::write(src.join(name), bytes).expect("write");
    }
    let out = dir.join("made.zip");
    let status = StdCommand::new("python3")
        .args([
            "-c",
            "import os, sys, zipfile\n\
             src, out = sys.argv[1], sys.argv[2]\n\
             with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:\n\
             \x20   for n in sorted(os.listdir(src)):\n\
             \x20       z.write(os.path.join(src, n), n)\n",
        ])
        .arg(&src)
        .arg(&out)
        .status()
        .expect("python3");
    assert!(status.success(), "python3 zipfile");
    let bytes = std::fs::read(&out).expect("zip");
    std::fs::remove_dir_all(&src).expect("rm");
    std::fs::remove_file(&out).expect("rm");
    bytes
}

/// A malicious-package record in the shape osv.dev's PyPI export holds many of (an explicit
/// `versions` list, `purl`, `credits`, a nested `database_specific`), for a package name no
/// registry has.
fn malicious_record() -> Vec<u8> {
    let record = serde_json::json!({
        "modified": "2026-11-30T09:27:52Z",
        "published": "2026-11-02T16:53:30Z",
        "schema_version": "1.7.4",
        "id": "MAL-2026-90001",
        "summary": "Malicious code in soakkit-test-exfil (PyPI)",
        "details": "Installing the package exfiltrates basic information about the host.",
        "affected": [{
            "package": {
                "ecosystem": "PyPI",
                "name": "soakkit-test-exfil",
                "purl": "pkg:pypi/soakkit-test-exfil"
            },
            "versions": ["5.20.4"]
        }],
        "references": [{"type": "WEB", "url": "https://example.invalid/soakkit-test-exfil"}],
        "credits": [{"name": "soakkit tests", "type": "ANALYST", "contact": ["https://example.invalid/"]}],
        "database_specific": {
            "malicious-packages-origins": [{
                "source": "soakkit-tests",
                "sha256": "857900c14f46e276624dec01a3bfd3a618ad3217892ae6b5f4f56144ba091364",
                "import_time": "2026-11-01T10:07:08.732035398Z",
                "id": "TEST-2026-00001",
                "modified_time": "2026-10-31T19:13:52Z",
                "versions": ["5.20.4"]
            }]
        }
    });
    serde_json::to_vec_pretty(&record).expect("json")
}

/// The export's records: the real PyPA advisories of the fixture as the JSON osv.dev's
/// export holds, and a malicious-package record.
fn osv_export_records() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("MAL-2026-90001.json".to_string(), malicious_record())];
    for e in walkdir::WalkDir::new(fixture("pypa-db/vulns")).sort_by_file_name() {
        let e = e.expect("walk");
        if e.path().extension().is_some_and(|x| x == "yaml") {
            let text = std::fs::read_to_string(e.path()).expect("read");
            let v: Value = serde_norway::from_str(&text).expect("yaml");
            let id = v["id"].as_str().expect("id").to_string();
            out.push((
                format!("{id}.json"),
                serde_json::to_vec_pretty(&v).expect("json"),
            ));
        }
    }
    assert!(out.len() >= 4, "fixture records");
    out
}

/// A loopback HTTP server: `path -> (status, body)`; counts the requests it gets.
struct Server {
    server: Arc<tiny_http::Server>,
    hits: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(routes: BTreeMap<&'static str, (u16, Vec<u8>)>) -> Server {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let hits = Arc::new(AtomicUsize::new(0));
        let (s, h) = (server.clone(), hits.clone());
        let thread = std::thread::spawn(move || {
            for req in s.incoming_requests() {
                h.fetch_add(1, Ordering::SeqCst);
                let (status, body) = routes
                    .get(req.url())
                    .cloned()
                    .unwrap_or((404, b"not found".to_vec()));
                let _ = req.respond(tiny_http::Response::from_data(body).with_status_code(status));
            }
        });
        Server {
            server,
            hits,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        let port = self.server.server_addr().to_ip().expect("ip").port();
        format!("http://127.0.0.1:{port}{path}")
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Everything one test needs: a temp root, a remote, a server, a project with lockfiles.
struct World {
    root: tempfile::TempDir,
    remote: Remote,
    server: Server,
}

impl World {
    /// The remote holds every fixture advisory but `time`'s, committed `age_days` ago; the
    /// server has `/all.zip` (the real PyPA records), `/garbage.zip` (not a zip),
    /// `/not-osv.zip` (a zip of JSON that is no OSV) and `/500`.
    fn new(age_days: u64) -> Option<World> {
        if !have("git") || !have("python3") {
            return None;
        }
        let root = tempfile::tempdir().expect("tmp");
        let remote = Remote::new(root.path(), "time", now() - age_days * DAY);
        let good = python_zip(root.path(), &osv_export_records());
        let not_osv = python_zip(
            root.path(),
            &[
                ("a.json".to_string(), b"{\"id\": 3}".to_vec()),
                ("b.json".to_string(), b"[1, 2]".to_vec()),
            ],
        );
        let mut routes = BTreeMap::new();
        routes.insert("/all.zip", (200, good));
        routes.insert("/garbage.zip", (200, b"PK\x03\x04 this is no zip".to_vec()));
        routes.insert("/not-osv.zip", (200, not_osv));
        routes.insert("/500", (500, b"internal error".to_vec()));
        let server = Server::start(routes);
        let project = root.path().join("project");
        std::fs::create_dir(&project).expect("mkdir");
        std::fs::write(
            project.join("Cargo.lock"),
            format!(
                "version = 3\n\n[[package]]\nname = \"tokio\"\nversion = \"1.18.0\"\nsource = \"{CRATES_IO}\"\n\n[[package]]\nname = \"time\"\nversion = \"0.3.11\"\nsource = \"{CRATES_IO}\"\n"
            ),
        )
        .expect("write");
        std::fs::write(
            project.join("requirements.txt"),
            "PyYAML==5.3.1\nwerkzeug==3.0.0\nsoakkit-test-exfil==5.20.4\n",
        )
        .expect("write");
        Some(World {
            root,
            remote,
            server,
        })
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.path().join(p)
    }

    fn cache(&self) -> PathBuf {
        self.path("cache")
    }

    /// `seccheck` in the project, HOME and XDG_CACHE_HOME inside the temp root.
    fn seccheck(&self) -> Command {
        let mut c = Command::cargo_bin("seccheck").expect("binary");
        c.current_dir(self.path("project"))
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("https_proxy")
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .env("HOME", self.path("home"))
            .env("XDG_CACHE_HOME", self.path("xdg"));
        c
    }

    /// `seccheck ARGS` and nothing else (the default cache: $XDG_CACHE_HOME/soakkit).
    fn bare(&self, args: &[&str]) -> Run {
        Run::from(self.seccheck().args(args).output().expect("run"))
    }

    /// `seccheck ARGS --cache-dir CACHE --rustsec-url REMOTE --osv-pypi-url SERVER/zip`.
    fn run(&self, args: &[&str], zip: &str) -> Run {
        self.run_with(args, &self.remote.url(), &self.server.url(zip))
    }

    fn run_with(&self, args: &[&str], git_url: &str, zip_url: &str) -> Run {
        let out = self
            .seccheck()
            .args(args)
            .arg("--cache-dir")
            .arg(self.cache())
            .args(["--rustsec-url", git_url, "--osv-pypi-url", zip_url])
            .args(["--format", "jsonl"])
            .output()
            .expect("run");
        Run::from(out)
    }
}

struct Run {
    code: i32,
    recs: Vec<Value>,
    stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().expect("exit code"),
            recs: String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| serde_json::from_str(l).expect("json line"))
                .collect(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts that stderr holds `text`.
    fn says(&self, text: &str) {
        assert!(
            self.stderr.contains(text),
            "wanted {text:?} in: {}",
            self.stderr
        );
    }

    fn summary(&self) -> &Value {
        self.recs
            .iter()
            .rfind(|r| r["type"] == "summary")
            .unwrap_or_else(|| panic!("no summary; stderr: {}", self.stderr))
    }

    fn event(&self, event: &str, db: &str) -> &Value {
        self.recs
            .iter()
            .find(|r| r["event"] == event && r["database"] == db)
            .unwrap_or_else(|| panic!("no {event} of {db}: {:?} {}", self.recs, self.stderr))
    }

    fn ids(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .recs
            .iter()
            .filter(|r| r["kind"] == "vulnerable_dependency")
            .map(|r| {
                format!(
                    "{} {}",
                    r["id"].as_str().unwrap_or(""),
                    r["package"].as_str().unwrap_or("")
                )
            })
            .collect();
        v.sort();
        v
    }
}

/// Every file under `dir` with its bytes (the cache's content, to compare before/after).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(dir).expect("prefix").to_path_buf(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

fn leftover_temps(cache: &Path) -> Vec<String> {
    std::fs::read_dir(cache)
        .expect("cache")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect()
}

const WITHOUT_TIME: [&str; 4] = [
    "MAL-2026-90001 soakkit-test-exfil",
    "PYSEC-2021-142 PyYAML",
    "PYSEC-2023-221 werkzeug",
    "RUSTSEC-2023-0001 tokio",
];

#[test]
fn update_fills_the_default_xdg_cache_and_deps_audits_from_it() {
    let Some(w) = World::new(1) else { return };
    let run = w.bare(&[
        "db",
        "update",
        "--rustsec-url",
        &w.remote.url(),
        "--osv-pypi-url",
        &w.server.url("/all.zip"),
        "--format",
        "jsonl",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let cache = w.path("xdg/soakkit");
    let rs = run.event("db_updated", "rustsec");
    assert_eq!(rs["head"], w.remote.head().as_str());
    assert_eq!(rs["fast_forward"], false);
    assert_eq!(rs["advisories"], 8, "the fixture's 9 advisories but time's");
    assert_eq!(rs["path"], cache.join("rustsec").display().to_string());
    let osv = run.event("db_updated", "osv-pypi");
    assert_eq!(osv["advisories"], osv_export_records().len());
    assert!(
        cache
            .join("rustsec/crates/tokio/RUSTSEC-2023-0001.md")
            .is_file()
    );
    assert!(cache.join("osv-pypi/PYSEC-2021-142.json").is_file());
    // The URL went to git through the environment: no git file of the copy records it.
    let git_dir = cache.join("rustsec/.git");
    assert!(!git_dir.join("FETCH_HEAD").exists());
    let config = std::fs::read_to_string(git_dir.join("config")).expect("config");
    assert!(!config.contains(&w.remote.url()), "{config}");
    assert!(leftover_temps(&cache).is_empty());
    assert_eq!(w.server.hits(), 1);

    let status = w.bare(&["db", "status", "--format", "jsonl"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let s = status.event("db_status", "rustsec");
    assert_eq!(s["present"], true);
    assert_eq!(s["age_source"], "git_head");
    assert_eq!(s["head"], w.remote.head().as_str());
    let age = s["age_s"].as_u64().expect("age_s");
    assert!((DAY..2 * DAY).contains(&age), "a day-old commit: {age}");
    let s = status.event("db_status", "osv-pypi");
    assert_eq!(s["age_source"], "download_time");
    assert_eq!(s["url"], w.server.url("/all.zip").as_str());

    let deps = w.bare(&["deps", "--offline", "--format", "jsonl"]);
    assert_eq!(deps.code, 1, "{}", deps.stderr);
    assert_eq!(deps.ids(), WITHOUT_TIME);
    let sum = deps.summary();
    assert_eq!(sum["database_source"], "cache");
    assert_eq!(
        sum["databases"],
        serde_json::json!([
            cache.join("rustsec").display().to_string(),
            cache.join("osv-pypi").display().to_string()
        ])
    );
    assert_eq!(w.server.hits(), 1, "--offline fetched nothing");
}

#[test]
fn a_second_update_fast_forwards_and_brings_the_new_advisory() {
    let Some(w) = World::new(1) else { return };
    let first = w.run(&["db", "update", "--only", "rustsec"], "/all.zip");
    assert_eq!(first.code, 0, "{}", first.stderr);
    let old_head = w.remote.head();
    w.remote.add_crate("time", now());
    let second = w.run(&["db", "update", "--only", "rustsec"], "/all.zip");
    assert_eq!(second.code, 0, "{}", second.stderr);
    let rs = second.event("db_updated", "rustsec");
    assert_eq!(rs["previous_head"], old_head.as_str());
    assert_eq!(rs["head"], w.remote.head().as_str());
    assert_eq!(rs["fast_forward"], true);
    assert_eq!(rs["advisories"], 9);
    assert_eq!(w.server.hits(), 0, "--only rustsec");
    let deps = w.run(&["deps", "--offline", "Cargo.lock"], "/all.zip");
    assert_eq!(deps.code, 1, "{}", deps.stderr);
    assert_eq!(
        deps.ids(),
        ["RUSTSEC-2023-0001 tokio", "RUSTSEC-2026-0009 time"]
    );
    assert!(leftover_temps(&w.cache()).is_empty());
}

#[test]
fn a_failed_update_keeps_the_last_good_copy() {
    let Some(w) = World::new(1) else { return };
    let first = w.run(&["db", "update"], "/all.zip");
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = snapshot(&w.cache());
    let missing = w.path("no-such-remote.git").display().to_string();

    // A remote that is gone: exit 3 naming it.
    let r = w.run_with(
        &["db", "update", "--only", "rustsec"],
        &missing,
        "http://127.0.0.1:9/x",
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    r.says(&missing);
    r.says("the last good copy is kept");
    assert_eq!(
        r.event("db_update_failed", "rustsec")["kept_last_good"],
        true
    );

    // A remote whose new HEAD no longer loads (every advisory's front matter broken).
    for e in walkdir::WalkDir::new(w.remote.work.join("crates")) {
        let e = e.expect("walk");
        if e.file_type().is_file() {
            std::fs::write(e.path(), "```toml\n[advisory\nid = \n```\n").expect("break");
        }
    }
    w.remote.publish(now(), "broken");
    let r = w.run(&["db", "update", "--only", "rustsec"], "/all.zip");
    assert_eq!(r.code, 3, "{}", r.stderr);
    r.says("does not load");

    // Downloads that are not a zip, a zip of no OSV records, an HTTP error.
    for (path, says) in [
        ("/garbage.zip", "not an OSV export zip"),
        ("/not-osv.zip", "does not load"),
        ("/500", "500"),
    ] {
        let r = w.run(&["db", "update", "--only", "osv-pypi"], path);
        assert_eq!(r.code, 3, "{path}: {}", r.stderr);
        assert!(
            r.stderr.contains(&w.server.url(path)),
            "{path}: {}",
            r.stderr
        );
        assert!(r.stderr.contains(says), "{path}: {}", r.stderr);
    }

    assert_eq!(snapshot(&w.cache()), before, "the cache is untouched");
    assert!(leftover_temps(&w.cache()).is_empty());
    let deps = w.run(&["deps", "--offline"], "/all.zip");
    assert_eq!(deps.code, 1, "{}", deps.stderr);
    assert_eq!(deps.ids(), WITHOUT_TIME);
}

#[test]
fn deps_updates_a_missing_cache_online_and_fails_closed_offline() {
    let Some(w) = World::new(1) else { return };
    // --offline, nothing cached: exit 3 with the command, and no request made.
    let r = w.run(&["deps", "--offline", "requirements.txt"], "/all.zip");
    assert_eq!(r.code, 3, "{}", r.stderr);
    let want = format!(
        "run `seccheck db update --cache-dir {} --rustsec-url {} --osv-pypi-url {} --only osv-pypi`",
        w.cache().display(),
        w.remote.url(),
        w.server.url("/all.zip")
    );
    assert!(r.stderr.contains(&want), "{}\nwanted: {want}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    assert_eq!(w.server.hits(), 0);
    assert!(!w.cache().exists(), "--offline created nothing");

    // Online: it fetches only what the lockfile needs, then audits.
    let r = w.run(&["deps", "requirements.txt"], "/all.zip");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(w.server.hits(), 1);
    r.event("db_updated", "osv-pypi");
    assert_eq!(
        r.ids(),
        [
            "MAL-2026-90001 soakkit-test-exfil",
            "PYSEC-2021-142 PyYAML",
            "PYSEC-2023-221 werkzeug"
        ]
    );
    assert!(
        !w.cache().join("rustsec").exists(),
        "not needed, not fetched"
    );

    // Neither a cache nor an update: exit 3 naming the URL and the command.
    let r = w.run_with(
        &["deps", "Cargo.lock"],
        "file:///nonexistent/advisory-db.git",
        "http://127.0.0.1:9/x",
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    r.says("file:///nonexistent/advisory-db.git");
    r.says("run `seccheck db update --cache-dir");
    r.says("--only rustsec`");
}

#[test]
fn a_stale_cache_is_updated_online_and_refused_offline() {
    let Some(w) = World::new(30) else { return };
    let first = w.run(&["db", "update", "--only", "rustsec"], "/all.zip");
    assert_eq!(first.code, 0, "{}", first.stderr);

    let r = w.run(
        &["deps", "--offline", "--max-db-age", "7d", "Cargo.lock"],
        "/all.zip",
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    r.says("older than --max-db-age 7d");
    r.says("--offline");
    r.says("run `seccheck db update");

    // Upstream moved on: online, the stale copy is fast-forwarded first.
    w.remote.add_crate("time", now());
    let r = w.run(&["deps", "--max-db-age", "7d", "Cargo.lock"], "/all.zip");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.event("db_updated", "rustsec")["fast_forward"], true);
    assert_eq!(r.summary()["database_ok"], true);
    assert_eq!(
        r.ids(),
        ["RUSTSEC-2023-0001 tokio", "RUSTSEC-2026-0009 time"]
    );

    // Upstream itself is stale: updated, still too old, exit 3.
    let w = World::new(30).expect("world");
    let r = w.run(&["deps", "--max-db-age", "7d", "Cargo.lock"], "/all.zip");
    assert_eq!(r.code, 3, "{}", r.stderr);
    r.says("updated, but");
}

#[test]
fn bad_input_is_exit_2_naming_it() {
    let Some(w) = World::new(1) else { return };
    let r = w.run_with(
        &["db", "update"],
        "ftp://example.com/db.git",
        &w.server.url("/all.zip"),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    r.says("--rustsec-url ftp://example.com/db.git");
    let r = w.run_with(
        &["db", "update"],
        "ext::sh -c touch% /tmp/x",
        &w.server.url("/all.zip"),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = w.run_with(&["deps"], &w.remote.url(), "file:///tmp/all.zip");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--osv-pypi-url file:///tmp/all.zip: unsupported URL scheme `file`"),
        "{}",
        r.stderr
    );

    let real = w.path("real-cache");
    std::fs::create_dir(&real).expect("mkdir");
    let link = w.path("linked-cache");
    let file = w.path("project/Cargo.lock");
    let mut cases = vec![(&file, "not a directory")];
    // Creating a symlink needs a privilege on Windows.
    if cfg!(unix) {
        #[cfg(unix)]
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        cases.insert(0, (&link, "a symlink"));
    }
    for (cache, says) in cases {
        for cmd in [&["db", "update"][..], &["db", "status"], &["deps"]] {
            let out = w
                .seccheck()
                .args(cmd)
                .arg("--cache-dir")
                .arg(cache)
                .output()
                .expect("run");
            let r = Run::from(out);
            assert_eq!(r.code, 2, "{cmd:?} {}", r.stderr);
            assert!(
                r.stderr.contains(&format!("{}: {says}", cache.display())),
                "{}",
                r.stderr
            );
        }
    }
    assert_eq!(
        std::fs::read_dir(&real).expect("real").count(),
        0,
        "nothing written through the link"
    );
    assert_eq!(w.server.hits(), 0);
}

#[test]
fn a_network_failure_names_the_url_but_never_its_secret() {
    let Some(w) = World::new(1) else { return };
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let zip = format!("http://bot:s3cr3tT0ken@127.0.0.1:{port}/all.zip?sig=Zm9vYmFy");
    let git_url = format!("http://bot:s3cr3tT0ken@127.0.0.1:{port}/advisory-db.git");
    let r = w.run_with(&["db", "update"], &git_url, &zip);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let all = format!("{}{:?}", r.stderr, r.recs);
    assert!(
        !all.contains("s3cr3tT0ken") && !all.contains("Zm9vYmFy"),
        "{all}"
    );
    assert!(
        all.contains(&format!("http://127.0.0.1:{port}/all.zip?…")),
        "{all}"
    );
    assert!(
        all.contains(&format!("http://127.0.0.1:{port}/advisory-db.git")),
        "{all}"
    );
    assert_eq!(r.summary()["failed"], 2);
}

#[cfg(unix)] // symlinks need a privilege on Windows
#[test]
fn a_planted_database_symlink_is_refused_and_dead_temps_are_swept() {
    let Some(w) = World::new(1) else { return };
    std::fs::create_dir(w.cache()).expect("mkdir");
    let elsewhere = w.path("elsewhere");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    std::os::unix::fs::symlink(&elsewhere, w.cache().join("osv-pypi")).expect("symlink");
    let r = w.run(&["db", "update"], "/all.zip");
    assert_eq!(r.code, 2, "{}", r.stderr);
    r.says(&format!(
        "{}: a symlink",
        w.cache().join("osv-pypi").display()
    ));
    assert_eq!(std::fs::read_dir(&elsewhere).expect("dir").count(), 0);
    assert_eq!(w.server.hits(), 0);
    std::fs::remove_file(w.cache().join("osv-pypi")).expect("rm");

    // A temp dir of an update that died (no such PID) is swept; a live one's is left alone.
    let dead = w.cache().join(".tmp-osv-pypi-2147483646-00000000deadbeef");
    let live = w.cache().join(format!(
        ".tmp-osv-pypi-{}-00000000cafef00d",
        std::process::id()
    ));
    for d in [&dead, &live] {
        std::fs::create_dir(d).expect("mkdir");
        std::fs::write(d.join("half.json"), b"{").expect("write");
    }
    let r = w.run(&["db", "update", "--only", "osv-pypi"], "/all.zip");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!dead.exists(), "the dead update's temp dir is removed");
    assert!(live.join("half.json").exists(), "a running update's is not");
}
