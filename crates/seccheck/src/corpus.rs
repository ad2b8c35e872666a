//! A labelled corpus of soak artifacts for measuring `seccheck secrets` (and its peers): a
//! service log that starts with a `copytruncate` hole, its rotated `.log.1.gz`, a monitor's
//! JSONL, a JSON config dump and a `.env`, with secrets of every kind planted among ordinary
//! lines and look-alike decoys (UUIDs, digests, commit hashes, order ids, signatures, base64 of
//! harmless JSON), and the line-level truth of where each secret is.
//!
//! Used by the tests (recall, precision, nothing left after `--redact`) and by
//! `cargo xtask bench seccheck` (through the `corpus` example), never by the tool itself.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One planted secret.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Planted {
    /// The file (relative to the corpus directory).
    pub file: String,
    /// First line (1-based).
    pub line: u64,
    /// Last line.
    pub end_line: u64,
    /// What it is (for the report; not compared with a tool's kind names).
    pub what: String,
    /// Substrings of the secret as written, none of which may survive `--redact`.
    pub needles: Vec<String>,
}

/// One decoy: a line that looks like a secret and is not.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Decoy {
    /// The file.
    pub file: String,
    /// Its line.
    pub line: u64,
    /// What it is.
    pub what: String,
}

/// A generated corpus: its files' contents, the truth, and the watched variables' values.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Corpus {
    /// `(relative name, bytes as written: gzip for `.gz`)`.
    #[serde(skip)]
    pub files: Vec<(String, Vec<u8>)>,
    /// Every planted secret.
    pub planted: Vec<Planted>,
    /// Every decoy.
    pub decoys: Vec<Decoy>,
    /// The exchange variables and their values, to set in the scanner's environment.
    pub env: Vec<(String, String)>,
}

struct Gen {
    rng: StdRng,
    clock: u64,
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl Gen {
    fn pick(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[self.rng.random_range(0..alphabet.len())] as char)
            .collect()
    }
    fn alnum(&mut self, n: usize) -> String {
        self.pick(ALNUM, n)
    }
    fn url_safe(&mut self, n: usize) -> String {
        self.pick(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
            n,
        )
    }
    fn upper_alnum(&mut self, n: usize) -> String {
        self.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", n)
    }
    fn base32(&mut self, n: usize) -> String {
        self.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", n)
    }
    fn hex(&mut self, n: usize) -> String {
        self.pick(b"0123456789abcdef", n)
    }
    fn b64(&mut self, bytes: usize) -> String {
        let raw: Vec<u8> = (0..bytes).map(|_| self.rng.random()).collect();
        STANDARD.encode(raw)
    }
    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..]
        )
    }
    fn digits(&mut self, n: usize) -> String {
        self.pick(b"0123456789", n)
    }
    fn ts(&mut self) -> String {
        self.clock += self.rng.random_range(1..900);
        let s = self.clock / 1000;
        format!(
            "2026-02-14 {:02}:{:02}:{:02},{:03}",
            (10 + s / 3600) % 24,
            (s / 60) % 60,
            s % 60,
            self.clock % 1000
        )
    }
    fn log(&mut self, module: &str, level: &str, msg: &str) -> String {
        let ts = self.ts();
        format!("{ts} - {module} - {level} - {msg}")
    }
    fn noise(&mut self) -> String {
        let i = self.rng.random_range(0..10u32);
        let px = 60000 + self.rng.random_range(0..900u32);
        let seq = self.digits(7);
        let (m, l, msg) = match i {
            0 => ("bot", "INFO", "[HB] alive".to_string()),
            1 => (
                "ws",
                "WARNING",
                "Reconnect attempt 2/10 for ws-public-1, backoff delay 2.0s".into(),
            ),
            2 => (
                "rest",
                "INFO",
                format!(
                    "GET https://api.bybit.com/v5/market/tickers?category=linear&symbol=BTCUSDT 200 {}ms",
                    20 + px % 80
                ),
            ),
            3 => (
                "strategy",
                "INFO",
                format!("book update BTCUSDT bid={px}.5 ask={}.0 seq={seq}", px + 1),
            ),
            4 => (
                "rest",
                "WARNING",
                "HTTP 429 Too Many Requests from /v5/order/create, retry in 1.0s".into(),
            ),
            5 => (
                "risk",
                "INFO",
                format!(
                    "position BTCUSDT size=0.{} upnl=-{}.{}",
                    px % 97,
                    px % 13,
                    px % 99
                ),
            ),
            6 => ("bot", "DEBUG", "token bucket refilled: 10 tokens".into()),
            7 => (
                "ws",
                "INFO",
                "subscribed to orderbook.50.BTCUSDT, publicTrade.BTCUSDT".into(),
            ),
            8 => (
                "metrics",
                "INFO",
                format!("latency_ms{{stage=\"rest\"}} {}", px % 70),
            ),
            _ => (
                "bot",
                "INFO",
                format!("keyboard shortcut handler registered ({})", px % 7),
            ),
        };
        self.log(m, l, &msg)
    }
}

/// A file being written: its lines, with the truth and decoys they hold.
struct FileText {
    name: String,
    lines: Vec<String>,
    planted: Vec<Planted>,
    decoys: Vec<Decoy>,
}

impl FileText {
    fn new(name: &str) -> FileText {
        FileText {
            name: name.into(),
            lines: Vec::new(),
            planted: Vec::new(),
            decoys: Vec::new(),
        }
    }
    fn line(&mut self, text: String) {
        self.lines.push(text);
    }
    fn next(&self) -> u64 {
        self.lines.len() as u64 + 1
    }
    /// Plants a secret written over `text` (one or more lines).
    fn plant(&mut self, what: &str, text: &[String], needles: &[&str]) {
        let line = self.next();
        for t in text {
            self.line(t.clone());
        }
        self.planted.push(Planted {
            file: self.name.clone(),
            line,
            end_line: self.next() - 1,
            what: what.into(),
            needles: needles.iter().map(|s| s.to_string()).collect(),
        });
    }
    fn plant1(&mut self, what: &str, text: String, needle: &str) {
        self.plant(what, &[text], &[needle]);
    }
    /// Plants a private key of `label` over its lines.
    fn plant_pem(&mut self, g: &mut Gen, what: &str, label: &str, body_bytes: usize) {
        let (block, needles) = pem(g, label, body_bytes);
        let line = self.next();
        for b in &block {
            self.line(b.clone());
        }
        self.planted.push(Planted {
            file: self.name.clone(),
            line,
            end_line: self.next() - 1,
            what: what.into(),
            needles,
        });
    }
    /// `n` ordinary lines.
    fn noise(&mut self, g: &mut Gen, n: usize) {
        for _ in 0..n {
            self.line(g.noise());
        }
    }
    /// Plants a secret in one log line `msg` of `module` at `level`.
    fn logged(
        &mut self,
        g: &mut Gen,
        what: &str,
        module: &str,
        level: &str,
        msg: &str,
        needle: &str,
    ) {
        let line = g.log(module, level, msg);
        self.plant1(what, line, needle);
    }
    fn decoy(&mut self, what: &str, text: String) {
        self.decoys.push(Decoy {
            file: self.name.clone(),
            line: self.next(),
            what: what.into(),
        });
        self.line(text);
    }
}

fn pem(g: &mut Gen, label: &str, body_bytes: usize) -> (Vec<String>, Vec<String>) {
    let body = g.b64(body_bytes);
    let lines: Vec<String> = body
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let mut block = vec![format!("-----BEGIN {label}-----")];
    block.extend(lines.iter().cloned());
    block.push(format!("-----END {label}-----"));
    // Needles: a middle stretch of every body line but the short last one.
    let needles = lines
        .iter()
        .filter(|l| l.len() >= 32)
        .map(|l| l[8..32].to_string())
        .collect();
    (block, needles)
}

/// A second round of planted secrets in the service log: more URL schemes, dict reprs,
/// webhooks, tokens and encodings of the watched values.
fn more_plants(f: &mut FileText, g: &mut Gen, env: &[(String, String)]) {
    let value = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (bybit_key, bybit_secret) = (value("BYBIT_API_KEY"), value("BYBIT_API_SECRET"));
    let (kraken_key, kraken_secret) = (value("KRAKEN_API_KEY"), value("KRAKEN_API_SECRET"));
    let pw = g.alnum(14);
    f.logged(
        g,
        "password in a mysql URL",
        "db",
        "INFO",
        &format!("migrations via mysql://root:{pw}@127.0.0.1:3306/bot"),
        &pw,
    );
    f.noise(g, 6);
    let pw = g.alnum(16);
    f.logged(
        g,
        "password in an https URL",
        "grafana",
        "DEBUG",
        &format!("POST https://admin:{pw}@grafana.internal/api/annotations 200"),
        &pw,
    );
    f.noise(g, 6);
    let t = g.log("bot", "DEBUG", &format!("client config: {{'api_key': '{bybit_key}', 'api_secret': '{bybit_secret}', 'recv_window': 5000}}"));
    f.plant(
        "bybit key and secret in a dict repr",
        &[t],
        &[&bybit_key, &bybit_secret],
    );
    f.noise(g, 6);
    f.logged(
        g,
        "kraken secret, literal",
        "kraken",
        "DEBUG",
        &format!("private key material loaded: {kraken_secret}"),
        &kraken_secret,
    );
    f.noise(g, 6);
    let aws = format!("{}+{}/{}", g.alnum(20), g.alnum(10), g.alnum(8));
    f.plant1(
        "AWS secret access key (ini)",
        format!("aws_secret_access_key = {aws}"),
        &aws,
    );
    f.noise(g, 6);
    let hook = format!(
        "https://hooks.slack.com/services/T{}/B{}/{}",
        g.upper_alnum(10),
        g.upper_alnum(11),
        g.alnum(24)
    );
    f.logged(
        g,
        "Slack webhook in a log",
        "alerts",
        "INFO",
        &format!("posting alert to {hook}"),
        &hook[45..],
    );
    f.noise(g, 6);
    let dw = format!(
        "https://discordapp.com/api/webhooks/{}/{}",
        g.digits(19),
        g.url_safe(68)
    );
    f.logged(
        g,
        "Discord webhook in a log",
        "alerts",
        "WARNING",
        &format!("discord webhook {dw} returned 429"),
        &dw[64..],
    );
    f.noise(g, 6);
    let bearer = g.alnum(40);
    f.logged(
        g,
        "opaque bearer token",
        "rest",
        "DEBUG",
        &format!("headers={{'Authorization': 'Bearer {bearer}'}}"),
        &bearer,
    );
    f.noise(g, 6);
    let tg = format!("{}:AA{}", g.digits(10), g.url_safe(33));
    f.logged(
        g,
        "Telegram bot token in a log",
        "alerts",
        "INFO",
        &format!("telegram notifier ready token={tg}"),
        &tg,
    );
    f.noise(g, 6);
    let npm = format!("npm_{}", g.alnum(36));
    f.plant1(
        "npm token in an .npmrc dump",
        format!("//registry.npmjs.org/:_authToken={npm}"),
        &npm,
    );
    f.noise(g, 6);
    let pat = format!("github_pat_{}_{}", g.alnum(22), g.alnum(59));
    f.logged(
        g,
        "GitHub fine-grained token",
        "deploy",
        "DEBUG",
        &format!("GH_TOKEN={pat}"),
        &pat[12..50],
    );
    f.noise(g, 6);
    let b64 = STANDARD.encode(&kraken_key);
    f.logged(
        g,
        "kraken key base64'd",
        "cfg",
        "DEBUG",
        &format!("key (b64): {b64}"),
        &b64[..40],
    );
    f.noise(g, 6);
    f.logged(
        g,
        "bybit key in a query string",
        "rest",
        "DEBUG",
        &format!("GET /v5/order/realtime?api_key={bybit_key}&timestamp=1771063200123"),
        &bybit_key,
    );
    f.noise(g, 6);
    let hx = hex::encode_upper(&kraken_secret);
    f.logged(
        g,
        "kraken secret, hex (upper case)",
        "auth",
        "DEBUG",
        &format!("secret=0x{hx}"),
        &hx[..40],
    );
    f.noise(g, 6);
    f.plant_pem(g, "OpenSSH private key", "OPENSSH PRIVATE KEY", 400);
}

/// The `i`-th decoy of the service log: something shaped like a secret that is not one.
fn decoy_line(g: &mut Gen, i: usize) -> (&'static str, String) {
    match i % 12 {
        0 => (
            "order link id (UUID)",
            format!("amend orderLinkId={} qty=0.01", g.uuid()),
        ),
        1 => ("sha256 digest", format!("artifact sha256={}", g.hex(64))),
        2 => (
            "commit hash",
            format!("strategy version {} loaded", g.hex(40)),
        ),
        3 => (
            "numeric order id",
            format!("fill orderId={} execId={}", g.digits(19), g.uuid()),
        ),
        4 => {
            let t = STANDARD.encode(format!("{{\"page\": {}, \"size\": 100}}", g.digits(3)));
            (
                "base64 JSON page_token",
                format!("{{\"page_token\": \"{t}\"}}"),
            )
        }
        5 => (
            "HMAC signature",
            format!("sign={} ts=1771063200", g.hex(64)),
        ),
        6 => (
            "api key fingerprint",
            format!("api key fingerprint {}", g.hex(16)),
        ),
        7 => (
            "secret name",
            "fetched secret bybit-prod-api-credentials from vault".to_string(),
        ),
        8 => ("md5 etag", format!("ETag: \"{}\"", g.hex(32))),
        9 => (
            "token expiry",
            format!(
                "access token expires_in=3600 token_type=Bearer scope={}",
                g.digits(4)
            ),
        ),
        10 => {
            let t = STANDARD.encode(format!(
                "{{\"symbol\":\"BTCUSDT\",\"from\":{}}}",
                g.digits(10)
            ));
            ("base64 JSON cursor", format!("cursor={t}"))
        }
        _ => (
            "idempotency key (UUID)",
            format!("\"idempotency_key\": \"{}\"", g.uuid()),
        ),
    }
}

/// Builds the corpus from `seed` (the same seed gives the same corpus).
pub fn generate(seed: u64) -> Corpus {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
        clock: 0,
    };
    let bybit_key = g.alnum(18);
    let bybit_secret = g.alnum(36);
    let kraken_key = format!("{}/{}+{}", g.alnum(20), g.alnum(20), g.alnum(14));
    let mut kraken_secret = g.b64(64);
    while !kraken_secret.contains('/') {
        kraken_secret = g.b64(64);
    }
    let env = vec![
        ("BYBIT_API_KEY".to_string(), bybit_key.clone()),
        ("BYBIT_API_SECRET".to_string(), bybit_secret.clone()),
        ("KRAKEN_API_KEY".to_string(), kraken_key.clone()),
        ("KRAKEN_API_SECRET".to_string(), kraken_secret.clone()),
    ];
    let mut files = Vec::new();
    let mut planted = Vec::new();
    let mut decoys = Vec::new();
    let mut finish = |f: FileText, prefix: &[u8], gz: bool| {
        let mut bytes = prefix.to_vec();
        for l in &f.lines {
            bytes.extend_from_slice(l.as_bytes());
            bytes.push(b'\n');
        }
        if gz {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&bytes).expect("in-memory gzip");
            bytes = enc.finish().expect("in-memory gzip");
        }
        files.push((f.name.clone(), bytes));
        planted.extend(f.planted);
        decoys.extend(f.decoys);
    };

    // --- service.log: after a copytruncate hole ---------------------------------------
    let mut f = FileText::new("service.log");
    f.noise(&mut g, 30);
    f.logged(
        &mut g,
        "bybit key, literal",
        "bot",
        "INFO",
        &format!("Initializing Bybit client api_key={bybit_key} testnet=False"),
        &bybit_key,
    );
    f.noise(&mut g, 25);
    let order = g.uuid();
    let msg = format!("order placed orderLinkId={order} orderId={}", g.digits(19));
    f.decoy("order link id (UUID)", g.log("rest", "INFO", &msg));
    let sig = g.hex(64);
    f.decoy(
        "HMAC signature",
        g.log(
            "rest",
            "DEBUG",
            &format!("X-BAPI-SIGN: {sig} X-BAPI-TIMESTAMP: 1771063200123"),
        ),
    );
    f.noise(&mut g, 20);
    let t = g.log(
        "rest",
        "DEBUG",
        &format!(
            "POST /0/private/AddOrder body nonce=1771063200123&ordertype=limit&secret={}",
            kraken_secret
                .replace('/', "%2F")
                .replace('+', "%2B")
                .replace('=', "%3D")
        ),
    );
    let enc = kraken_secret
        .replace('/', "%2F")
        .replace('+', "%2B")
        .replace('=', "%3D");
    f.plant1("kraken secret, URL-encoded", t, &enc[..40]);
    f.noise(&mut g, 15);
    f.logged(
        &mut g,
        "kraken key in prose",
        "bot",
        "INFO",
        &format!("Using Kraken key {kraken_key} for account main"),
        &kraken_key,
    );
    f.noise(&mut g, 18);
    let hexed = hex::encode(&bybit_secret);
    f.logged(
        &mut g,
        "bybit secret, hex",
        "auth",
        "DEBUG",
        &format!("hmac key bytes: {hexed}"),
        &hexed[..40],
    );
    let commit = g.hex(40);
    f.decoy(
        "commit hash",
        g.log("bot", "INFO", &format!("build commit={commit} dirty=false")),
    );
    f.noise(&mut g, 22);
    // split across a traceback's lines
    let (a, b) = bybit_secret.split_at(21);
    let tb = vec![
        g.log("bot", "ERROR", "Unhandled exception in connect()"),
        "Traceback (most recent call last):".to_string(),
        "  File \"/app/bot/exchange.py\", line 88, in connect".to_string(),
        "    self.client = HTTP(".to_string(),
        format!("        api_key=\"{bybit_key}\","),
        format!("        api_secret=\"{a}\""),
        format!("                   \"{b}\","),
        "pybit.exceptions.InvalidRequestError: (ErrCode: 10003) API key is invalid.".to_string(),
    ];
    let line = f.next();
    for t in &tb {
        f.line(t.clone());
    }
    f.planted.push(Planted {
        file: f.name.clone(),
        line: line + 4,
        end_line: line + 4,
        what: "bybit key in a traceback".into(),
        needles: vec![bybit_key.clone()],
    });
    f.planted.push(Planted {
        file: f.name.clone(),
        line: line + 5,
        end_line: line + 6,
        what: "bybit secret split across a traceback's lines".into(),
        needles: vec![a.to_string(), b.to_string()],
    });
    f.noise(&mut g, 20);
    let aws_id = format!("AKIA{}", g.base32(16));
    f.logged(
        &mut g,
        "AWS access key id",
        "boto",
        "DEBUG",
        &format!("Found credentials in environment variables: access key {aws_id}"),
        &aws_id,
    );
    let slack_tok = format!("xoxb-{}-{}-{}", g.digits(12), g.digits(13), g.alnum(24));
    f.logged(
        &mut g,
        "Slack bot token",
        "alerts",
        "DEBUG",
        &format!("slack client init token={slack_tok}"),
        &slack_tok,
    );
    f.noise(&mut g, 14);
    let tg = format!("{}:AA{}", g.digits(10), g.url_safe(33));
    f.logged(
        &mut g,
        "Telegram bot token in its URL",
        "alerts",
        "WARNING",
        &format!("POST https://api.telegram.org/bot{tg}/sendMessage failed: 502 Bad Gateway"),
        &tg,
    );
    let page = STANDARD.encode(format!(
        "{{\"page\": {}, \"cursor\": \"{}\"}}",
        g.digits(2),
        g.digits(6)
    ));
    f.decoy(
        "base64 JSON page_token",
        g.log("rest", "DEBUG", &format!("next page_token={page}")),
    );
    f.noise(&mut g, 16);
    let pw = g.alnum(20);
    f.logged(
        &mut g,
        "password in a postgresql URL",
        "db",
        "INFO",
        &format!("connecting to postgresql://bot:{pw}@db.internal:5432/trades"),
        &pw,
    );
    f.decoy(
        "masked URL",
        g.log(
            "db",
            "INFO",
            "pool ready postgres://bot:***@db.internal:5432/trades size=10",
        ),
    );
    let pw2 = g.alnum(24);
    f.logged(
        &mut g,
        "password in a redis URL",
        "cache",
        "INFO",
        &format!("redis connect redis://:{pw2}@cache.internal:6379/0"),
        &pw2,
    );
    f.noise(&mut g, 21);
    let jwt = format!(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}.{}",
        STANDARD
            .encode(format!(
                "{{\"sub\":\"{}\",\"exp\":1771063200}}",
                g.digits(8)
            ))
            .trim_end_matches('='),
        g.alnum(43)
    );
    f.logged(
        &mut g,
        "JWT bearer token",
        "rest",
        "DEBUG",
        &format!("Authorization: Bearer {jwt}"),
        &jwt[40..],
    );
    let (block, needles) = pem(&mut g, "RSA PRIVATE KEY", 600);
    let line = f.next();
    f.line(g.log("bot", "ERROR", "could not load signing key, content was:"));
    for b in &block {
        f.line(b.clone());
    }
    f.planted.push(Planted {
        file: f.name.clone(),
        line: line + 1,
        end_line: line + block.len() as u64,
        what: "RSA private key (PEM)".into(),
        needles,
    });
    f.noise(&mut g, 19);
    let digest = g.hex(64);
    f.decoy(
        "sha256 digest",
        g.log("deploy", "INFO", &format!("image sha256:{digest} pulled")),
    );
    let secret_json = STANDARD.encode(format!(
        "{{\"apiKey\": \"{kraken_key}\", \"secret\": \"{kraken_secret}\"}}"
    ));
    f.logged(
        &mut g,
        "kraken secret inside base64 JSON",
        "cfg",
        "DEBUG",
        &format!("loaded credentials blob {secret_json}"),
        &secret_json[40..80],
    );
    f.noise(&mut g, 17);
    let gh = format!("ghp_{}", g.alnum(36));
    f.logged(
        &mut g,
        "GitHub token in a clone URL",
        "deploy",
        "DEBUG",
        &format!("git clone https://x-access-token:{gh}@github.com/org/bot.git"),
        &gh,
    );
    let amqp_pw = g.alnum(18);
    f.logged(
        &mut g,
        "password in an amqp URL",
        "queue",
        "INFO",
        &format!("amqp://trader:{amqp_pw}@mq.internal:5672/%2F connected"),
        &amqp_pw,
    );
    let idem = g.uuid();
    f.decoy(
        "idempotency key (UUID)",
        g.log("rest", "DEBUG", &format!("idempotency_key={idem}")),
    );
    let msg = format!(
        "cancel orderId={} clientOrderId=bot-{}-{}",
        g.digits(19),
        g.digits(13),
        g.digits(4)
    );
    f.decoy("order id", g.log("rest", "INFO", &msg));
    f.noise(&mut g, 30);
    let pypi = format!("pypi-AgEIcHlwaS5vcmc{}", g.url_safe(120));
    f.logged(
        &mut g,
        "PyPI token",
        "release",
        "DEBUG",
        &format!("twine upload --username __token__ --password {pypi}"),
        &pypi[20..60],
    );
    let msg = format!("X-Request-Id: {} retCode=0", g.hex(32));
    f.decoy("request id", g.log("rest", "DEBUG", &msg));
    more_plants(&mut f, &mut g, &env);
    for i in 0..32 {
        f.noise(&mut g, 3);
        let (what, msg) = decoy_line(&mut g, i);
        let line = g.log("rest", "DEBUG", &msg);
        f.decoy(what, line);
    }
    f.noise(&mut g, 20);
    finish(f, &[0u8; 16 * 1024], false);

    // --- service.log.1.gz: the rotated part ---------------------------------------------
    let mut f = FileText::new("service.log.1.gz");
    f.noise(&mut g, 60);
    f.logged(
        &mut g,
        "kraken key in .gz",
        "bot",
        "DEBUG",
        &format!("kraken auth headers API-Key: {kraken_key}"),
        &kraken_key,
    );
    f.noise(&mut g, 30);
    f.plant_pem(&mut g, "PKCS#8 private key in .gz", "PRIVATE KEY", 1200);
    f.noise(&mut g, 25);
    let discord = format!(
        "https://discord.com/api/webhooks/{}/{}",
        g.digits(18),
        g.url_safe(68)
    );
    f.logged(
        &mut g,
        "Discord webhook in .gz",
        "alerts",
        "INFO",
        &format!("notifying {discord}"),
        &discord[60..],
    );
    let b64 = STANDARD.encode(&bybit_secret);
    f.logged(
        &mut g,
        "bybit secret base64 in .gz",
        "cfg",
        "DEBUG",
        &format!("secret (b64)={b64}"),
        b64.trim_end_matches('='),
    );
    let session = g.hex(32);
    f.decoy(
        "session id",
        g.log("ws", "INFO", &format!("session={session} authenticated")),
    );
    let cursor = STANDARD.encode(format!("{{\"offset\": {}, \"limit\": 50}}", g.digits(4)));
    f.decoy(
        "base64 JSON cursor",
        g.log(
            "rest",
            "DEBUG",
            &format!("\"nextPageCursor\": \"{cursor}\""),
        ),
    );
    let stripe = format!("sk_live_{}", g.alnum(24));
    f.logged(
        &mut g,
        "Stripe live key in .gz",
        "billing",
        "DEBUG",
        &format!("stripe.api_key set to {stripe}"),
        &stripe,
    );
    f.noise(&mut g, 40);
    finish(f, &[], true);

    // --- monitor.jsonl ----------------------------------------------------------------
    let mut f = FileText::new("monitor.jsonl");
    let sample = |g: &mut Gen| {
        format!(
            "{{\"type\":\"sample\",\"tool\":\"resmon\",\"timestamp_utc\":\"2026-02-14T10:{:02}:{:02}Z\",\"rss_mb\":{}.{},\"cpu_percent\":{}.{},\"fds\":{}}}",
            g.rng.random_range(0..60),
            g.rng.random_range(0..60),
            180 + g.rng.random_range(0..40),
            g.rng.random_range(0..10),
            g.rng.random_range(0..90),
            g.rng.random_range(0..10),
            40 + g.rng.random_range(0..20)
        )
    };
    for _ in 0..40 {
        let s = sample(&mut g);
        f.line(s);
    }
    let esc = kraken_secret.replace('/', "\\/");
    f.plant1("kraken secret JSON-escaped", format!("{{\"type\":\"event\",\"tool\":\"bot\",\"event\":\"config\",\"message\":\"kraken secret loaded: {esc}\"}}"), &esc[..40]);
    for _ in 0..20 {
        let s = sample(&mut g);
        f.line(s);
    }
    f.plant1(
        "kraken key under a bare \"key\"",
        format!(
            "{{\"type\":\"event\",\"tool\":\"bot\",\"exchange\":\"kraken\",\"key\":\"{}\"}}",
            kraken_key.replace('/', "\\/")
        ),
        &kraken_key[..20],
    );
    let (block, needles) = pem(&mut g, "EC PRIVATE KEY", 120);
    f.plant(
        "EC private key escaped in a JSON string",
        &[format!("{{\"type\":\"event\",\"tool\":\"bot\",\"event\":\"error\",\"message\":\"bad key {}\\n\"}}", block.join("\\n"))],
        &needles.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let u = g.uuid();
    f.decoy(
        "UUID under \"key\"",
        format!("{{\"type\":\"event\",\"tool\":\"bot\",\"event\":\"cache\",\"key\":\"{u}\"}}"),
    );
    let sha = g.hex(64);
    f.decoy(
        "digest under a token name",
        format!("{{\"type\":\"event\",\"tool\":\"bot\",\"token_sha256\":\"{sha}\"}}"),
    );
    let sp = STANDARD.encode(format!(
        "{{\"symbol\": \"BTCUSDT\", \"page\": {}}}",
        g.digits(2)
    ));
    f.decoy(
        "base64 JSON page_token under a token name",
        format!("{{\"type\":\"event\",\"tool\":\"bot\",\"page_token\":\"{sp}\"}}"),
    );
    let bb = bybit_key.clone();
    f.plant1(
        "bybit key in JSONL",
        format!("{{\"type\":\"event\",\"tool\":\"bot\",\"event\":\"start\",\"api_key\":\"{bb}\"}}"),
        &bb,
    );
    for _ in 0..30 {
        let s = sample(&mut g);
        f.line(s);
    }
    let (k1, k2) = kraken_secret.split_at(44);
    f.plant1(
        "kraken secret in concatenated chunks",
        format!(
            "{{\"type\":\"event\",\"tool\":\"bot\",\"message\":\"signing with '{k1}' '{k2}'\"}}"
        ),
        &k1[..30],
    );
    finish(f, &[], false);

    // --- config_dump.json -------------------------------------------------------------
    let mut f = FileText::new("config_dump.json");
    f.line("{".into());
    f.line("  \"service\": \"trading-bot\",".into());
    f.decoy(
        "commit hash",
        format!("  \"git_commit\": \"{}\",", g.hex(40)),
    );
    f.line("  \"exchange\": {".into());
    f.line("    \"name\": \"bybit\",".into());
    f.plant1(
        "bybit secret under api_secret",
        format!("    \"api_secret\": \"{bybit_secret}\","),
        &bybit_secret,
    );
    f.line("    \"testnet\": false".into());
    f.line("  },".into());
    let aws_id2 = format!("AKIA{}", g.base32(16));
    let aws_sec = format!("{}/{}+{}", g.alnum(18), g.alnum(12), g.alnum(8));
    f.line("  \"aws\": {".into());
    f.plant1(
        "AWS access key id",
        format!("    \"aws_access_key_id\": \"{aws_id2}\","),
        &aws_id2,
    );
    f.plant1(
        "AWS secret access key (JSON)",
        format!("    \"aws_secret_access_key\": \"{aws_sec}\","),
        &aws_sec,
    );
    f.line("    \"region\": \"eu-west-1\"".into());
    f.line("  },".into());
    let hook = format!(
        "https://hooks.slack.com/services/T{}/B{}/{}",
        g.upper_alnum(10),
        g.upper_alnum(10),
        g.alnum(24)
    );
    f.plant1(
        "Slack webhook",
        format!("  \"slack_webhook\": \"{hook}\","),
        &hook[40..],
    );
    let mongo_pw = g.alnum(16);
    f.plant1(
        "password in a mongodb+srv URL",
        format!(
            "  \"mongo_uri\": \"mongodb+srv://bot:{mongo_pw}@cluster0.abcd.mongodb.net/trades\","
        ),
        &mongo_pw,
    );
    f.decoy(
        "masked DSN",
        "  \"dsn_example\": \"postgresql://user:${DB_PASSWORD}@localhost/db\",".into(),
    );
    f.decoy(
        "UUID instance id",
        format!("  \"instance_id\": \"{}\",", g.uuid()),
    );
    let (block, needles) = pem(&mut g, "PRIVATE KEY", 900);
    f.line("  \"gcp\": {".into());
    f.line("    \"type\": \"service_account\",".into());
    f.line("    \"project_id\": \"soak-bot-123\",".into());
    f.decoy(
        "GCP private_key_id (a key id, public)",
        format!("    \"private_key_id\": \"{}\",", g.hex(40)),
    );
    f.plant(
        "GCP service-account private key",
        &[format!(
            "    \"private_key\": \"{}\\n\",",
            block.join("\\n")
        )],
        &needles.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    f.line("    \"client_email\": \"bot@soak-bot-123.iam.gserviceaccount.com\"".into());
    f.line("  },".into());
    f.decoy(
        "cache key digest",
        format!("  \"cache_key\": \"sha256:{}\",", g.hex(64)),
    );
    f.decoy(
        "build number",
        format!("  \"build\": \"{}\",", g.digits(12)),
    );
    let kraken_esc = kraken_secret.replace('/', "\\/");
    f.plant1(
        "kraken secret JSON-escaped in config",
        format!(
            "  \"kraken\": {{\"key\": \"{}\", \"private\": \"{kraken_esc}\"}},",
            kraken_key.replace('/', "\\/")
        ),
        &kraken_esc[..40],
    );
    f.line("  \"log_level\": \"DEBUG\"".into());
    f.line("}".into());
    finish(f, &[], false);

    // --- .env -------------------------------------------------------------------------
    let mut f = FileText::new(".env");
    f.line("# exported by the soak runner".into());
    f.plant1(
        "bybit key in .env",
        format!("BYBIT_API_KEY={bybit_key}"),
        &bybit_key,
    );
    f.plant1(
        "bybit secret in .env",
        format!("BYBIT_API_SECRET={bybit_secret}"),
        &bybit_secret,
    );
    f.plant1(
        "kraken secret in .env",
        format!("KRAKEN_API_SECRET={kraken_secret}"),
        &kraken_secret,
    );
    let aws_sec2 = format!("{}/{}", g.alnum(24), g.alnum(15));
    f.plant1(
        "AWS secret access key (.env)",
        format!("AWS_SECRET_ACCESS_KEY={aws_sec2}"),
        &aws_sec2,
    );
    let npm = format!("npm_{}", g.alnum(36));
    f.plant1("npm token", format!("NPM_TOKEN={npm}"), &npm);
    let tg2 = format!("{}:AA{}", g.digits(9), g.url_safe(33));
    f.plant1(
        "Telegram bot token",
        format!("TELEGRAM_BOT_TOKEN={tg2}"),
        &tg2,
    );
    let azure_key = g.b64(64);
    f.plant1("Azure storage connection string", format!("AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=soakbot;AccountKey={azure_key};EndpointSuffix=core.windows.net"), &azure_key[..60]);
    let xapp = format!(
        "xoxp-{}-{}-{}-{}",
        g.digits(12),
        g.digits(12),
        g.digits(13),
        g.hex(32)
    );
    f.plant1(
        "Slack user token",
        format!("SLACK_USER_TOKEN={xapp}"),
        &xapp,
    );
    f.decoy("log level", "LOG_LEVEL=DEBUG".into());
    f.decoy("UUID run id", format!("SOAK_RUN_ID={}", g.uuid()));
    f.decoy("image digest", format!("IMAGE_DIGEST=sha256:{}", g.hex(64)));
    f.decoy("commit", format!("GIT_SHA={}", g.hex(40)));
    f.decoy("empty password placeholder", "DB_PASSWORD=changeme".into());
    let basic = STANDARD.encode(format!("bot:{}", g.alnum(20)));
    f.plant1(
        "basic auth header",
        format!("PROXY_AUTH_HEADER=\"Proxy-Authorization: Basic {basic}\""),
        &basic[..20],
    );
    finish(f, &[], false);

    Corpus {
        files,
        planted,
        decoys,
        env,
    }
}

impl Corpus {
    /// Writes the files under `dir` (which must exist).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        for (name, bytes) in &self.files {
            std::fs::write(dir.join(name), bytes)?;
        }
        Ok(())
    }
}

/// How a tool's findings measure against the truth, line by line.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Score {
    /// Planted secrets with a finding on one of their lines.
    pub found: usize,
    /// Planted secrets.
    pub planted: usize,
    /// Findings on a line holding a planted secret.
    pub true_findings: usize,
    /// Findings elsewhere (false positives).
    pub false_findings: usize,
    /// What was missed (`file:line what`).
    pub missed: Vec<String>,
    /// Where the false positives were (`file:line`).
    pub false_at: Vec<String>,
}

impl Score {
    /// Recall, 0..=1.
    pub fn recall(&self) -> f64 {
        self.found as f64 / self.planted.max(1) as f64
    }
    /// Precision, 0..=1 (1 when there are no findings).
    pub fn precision(&self) -> f64 {
        let all = self.true_findings + self.false_findings;
        if all == 0 {
            1.0
        } else {
            self.true_findings as f64 / all as f64
        }
    }
}

/// Scores findings given as `(file relative to the corpus, line)` against the truth.
pub fn score(corpus: &Corpus, findings: &[(String, u64)]) -> Score {
    let covers = |p: &Planted, file: &str, line: u64| {
        p.file == file && (p.line..=p.end_line).contains(&line)
    };
    let mut s = Score {
        planted: corpus.planted.len(),
        ..Score::default()
    };
    for p in &corpus.planted {
        if findings.iter().any(|(f, l)| covers(p, f, *l)) {
            s.found += 1;
        } else {
            s.missed.push(format!("{}:{} {}", p.file, p.line, p.what));
        }
    }
    for (f, l) in findings {
        if corpus.planted.iter().any(|p| covers(p, f, *l)) {
            s.true_findings += 1;
        } else {
            s.false_findings += 1;
            s.false_at.push(format!("{f}:{l}"));
        }
    }
    s
}
