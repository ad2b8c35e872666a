//! The source URLs of `seccheck db update`: which schemes are accepted for each database,
//! and how a URL is shown (never with its userinfo or query, which may carry a token).

/// The RustSec advisory-db's git remote.
pub const RUSTSEC_URL: &str = "https://github.com/rustsec/advisory-db.git";
/// The OSV export of every PyPI advisory.
pub const OSV_PYPI_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip";

/// A URL seccheck refuses, with the flag it came from.
#[derive(Debug, thiserror::Error)]
#[error("{flag} {shown}: {why}")]
pub struct BadUrl {
    /// The flag (`--rustsec-url`, `--osv-pypi-url`).
    pub flag: &'static str,
    /// The URL as shown (redacted).
    pub shown: String,
    /// What is wrong.
    pub why: String,
}

/// A git remote: `https`, `http`, `ssh`, `git` and `file` URLs, or an absolute local path.
/// Anything else (an `ext::` transport helper, `scp`-like `host:path`, a relative path, an
/// option-looking `-…`) is refused: the URL reaches git, which would run helpers for some.
pub fn check_git(flag: &'static str, url: &str) -> Result<(), BadUrl> {
    if url.starts_with('/') && !url.contains('\n') {
        return Ok(());
    }
    check_scheme(flag, url, &["https", "http", "ssh", "git", "file"])
}

/// An HTTP download: `https` or `http`.
pub fn check_http(flag: &'static str, url: &str) -> Result<(), BadUrl> {
    check_scheme(flag, url, &["https", "http"])
}

fn check_scheme(flag: &'static str, url: &str, allowed: &[&str]) -> Result<(), BadUrl> {
    let bad = |why: String| BadUrl {
        flag,
        shown: redact(url),
        why,
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(bad(format!(
            "not a URL (expected {}://…)",
            allowed.join("://…, ")
        )));
    };
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || !allowed.contains(&scheme.to_ascii_lowercase().as_str()) {
        return Err(bad(format!(
            "unsupported URL scheme `{scheme}` (accepted: {})",
            allowed.join(", ")
        )));
    }
    if url.chars().any(char::is_control) {
        return Err(bad("the URL holds a control character".to_string()));
    }
    if scheme != "file" && authority(rest).is_empty() {
        return Err(bad("no host in the URL".to_string()));
    }
    Ok(())
}

/// The authority part (`user:pass@host:port`) of what follows `scheme://`.
fn authority(rest: &str) -> &str {
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// `url` without its userinfo (`user:token@`) and with its query and fragment cut to `?…`:
/// what every message, record and cache note shows.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let auth = authority(rest);
    let host = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    let tail = &rest[auth.len()..];
    let tail = match tail.find(['?', '#']) {
        Some(i) => format!("{}?…", &tail[..i]),
        None => tail.to_string(),
    };
    format!("{scheme}://{host}{tail}")
}

/// `text` (a subprocess's message) with every occurrence of `url` and of its userinfo
/// replaced by the redacted form, so a token never leaks through git's own wording.
pub fn scrub(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &redact(url));
    if let Some((_, rest)) = url.split_once("://")
        && let Some((userinfo, _)) = authority(rest).rsplit_once('@')
    {
        if !userinfo.is_empty() {
            out = out.replace(userinfo, "***");
        }
        if let Some((_, password)) = userinfo.split_once(':')
            && !password.is_empty()
        {
            out = out.replace(password, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_and_query() {
        assert_eq!(
            redact("https://bot:s3cr3t@example.com:8443/PyPI/all.zip?sig=abc#x"),
            "https://example.com:8443/PyPI/all.zip?…"
        );
        assert_eq!(redact(OSV_PYPI_URL), OSV_PYPI_URL);
        assert_eq!(redact("/srv/advisory-db.git"), "/srv/advisory-db.git");
        assert_eq!(redact("file:///srv/db.git"), "file:///srv/db.git");
    }

    #[test]
    fn scrubs_a_token_out_of_a_message() {
        let url = "https://bot:s3cr3t@example.com/db.git";
        let msg = format!("fatal: unable to access '{url}': 403; also s3cr3t alone");
        let clean = scrub(&msg, url);
        assert!(!clean.contains("s3cr3t"), "{clean}");
        assert!(clean.contains("https://example.com/db.git"), "{clean}");
    }

    #[test]
    fn git_schemes() {
        for ok in [
            RUSTSEC_URL,
            "file:///tmp/db.git",
            "/tmp/db.git",
            "ssh://git@host/db.git",
        ] {
            assert!(check_git("--rustsec-url", ok).is_ok(), "{ok}");
        }
        for bad in [
            "ext::sh -c touch% /tmp/pwned",
            "ftp://host/db.git",
            "host:db.git",
            "-uhelp",
            "relative/db.git",
            "https:///nohost",
        ] {
            let e = check_git("--rustsec-url", bad).expect_err(bad);
            assert!(e.to_string().starts_with("--rustsec-url "), "{e}");
        }
    }

    #[test]
    fn http_schemes() {
        assert!(check_http("--osv-pypi-url", OSV_PYPI_URL).is_ok());
        assert!(check_http("--osv-pypi-url", "http://127.0.0.1:9/all.zip").is_ok());
        let e = check_http("--osv-pypi-url", "file:///tmp/all.zip").expect_err("file");
        assert!(
            e.to_string().contains("unsupported URL scheme `file`"),
            "{e}"
        );
        let e = check_http("--osv-pypi-url", "gopher://u:pw@h/x").expect_err("gopher");
        assert!(!e.to_string().contains("pw"), "{e}");
    }
}
