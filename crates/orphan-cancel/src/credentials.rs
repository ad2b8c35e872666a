//! API credentials: from environment variables or a 0600 file, never from argv, never printed.

use std::fmt;
use std::fs;
use std::path::Path;

/// A secret string whose `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// An API key pair.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The public key (still kept out of output: it identifies the account).
    pub key: Secret,
    /// The private key.
    pub secret: Secret,
}

impl Credentials {
    /// Replaces every occurrence of the key or the secret in `text` with `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in [&self.secret, &self.key] {
            let v = s.expose();
            if v.len() >= 4 {
                out = out.replace(v, "***");
            }
        }
        out
    }
}

/// Why credentials could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// A variable is unset or empty.
    #[error("{0} is not set (credentials come from the environment or --credentials-file)")]
    MissingVar(String),
    /// The credentials file could not be read.
    #[error("{path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The credentials file is readable by group or others.
    #[error("{path}: permissions are {mode:o}; a credentials file must be 0600 (chmod 600 {path})")]
    TooOpen {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// A variable holds bytes that are not UTF-8.
    #[error("{0} is not valid UTF-8 (an API key or secret is printable ASCII)")]
    NotUnicode(String),
    /// A key or secret that cannot be sent as one header or signed: it contains whitespace or
    /// a control character, or (Kraken) is not base64. The value itself is never shown.
    #[error("{name} {why}; nothing was sent")]
    Malformed {
        /// Where it came from: the variable, or `FILE: field`.
        name: String,
        /// What is wrong with it.
        why: String,
    },
    /// The credentials file lacks a field.
    #[error(
        "{path}: no '{field}' line (expected lines 'key=...' and 'secret=...', or JSON {{\"key\":..,\"secret\":..}})"
    )]
    MissingField {
        /// The file.
        path: String,
        /// The field.
        field: &'static str,
    },
}

/// Checks that `value` (already trimmed) can be sent as one header value and signed: no
/// whitespace or control character inside. `name` says where it came from.
pub fn check_token(name: &str, value: &str) -> Result<(), CredentialError> {
    let bad = value
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control());
    match bad {
        None => Ok(()),
        Some((at, c)) => Err(CredentialError::Malformed {
            name: name.to_string(),
            why: format!(
                "contains {} at byte {at} (a key or secret is one token: was a line break pasted with it?)",
                match c {
                    '\n' | '\r' => "a line break",
                    c if c.is_whitespace() => "whitespace",
                    _ => "a control character",
                }
            ),
        }),
    }
}

/// Checks that a Kraken secret is base64, as Kraken issues them.
pub fn check_base64(name: &str, value: &str) -> Result<(), CredentialError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map(|_| ())
        .map_err(|_| CredentialError::Malformed {
            name: name.to_string(),
            why: "is not valid base64 (Kraken secrets are base64-encoded)".into(),
        })
}

/// Loads credentials from `KEY_VAR`/`SECRET_VAR` in the environment.
pub fn from_env(key_var: &str, secret_var: &str) -> Result<Credentials, CredentialError> {
    let get = |name: &str| -> Result<String, CredentialError> {
        let raw =
            std::env::var_os(name).ok_or_else(|| CredentialError::MissingVar(name.to_string()))?;
        let text = raw
            .into_string()
            .map_err(|_| CredentialError::NotUnicode(name.to_string()))?;
        let value = text.trim();
        if value.is_empty() {
            return Err(CredentialError::MissingVar(name.to_string()));
        }
        check_token(name, value)?;
        Ok(value.to_string())
    };
    Ok(Credentials {
        key: Secret::new(get(key_var)?),
        secret: Secret::new(get(secret_var)?),
    })
}

/// Loads credentials from a file with mode 0600 (or stricter): either `key=...` / `secret=...`
/// lines (`#` comments allowed) or a JSON object with `key` and `secret`. Windows has no mode
/// bits (access is an ACL there) and the mode check is Unix-only.
pub fn from_file(path: &Path) -> Result<Credentials, CredentialError> {
    let name = path.display().to_string();
    let meta = fs::metadata(path).map_err(|source| CredentialError::Unreadable {
        path: name.clone(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(CredentialError::TooOpen { path: name, mode });
        }
    }
    #[cfg(not(unix))]
    let _ = &meta;
    let text = fs::read_to_string(path).map_err(|source| CredentialError::Unreadable {
        path: name.clone(),
        source,
    })?;
    let (mut key, mut secret) = (None, None);
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&text) {
        key = map.get("key").and_then(|v| v.as_str()).map(str::to_string);
        secret = map
            .get("secret")
            .and_then(|v| v.as_str())
            .map(str::to_string);
    } else {
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "key" | "api_key" => key = Some(v.trim().to_string()),
                    "secret" | "api_secret" => secret = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
    }
    let key = key
        .filter(|k| !k.is_empty())
        .ok_or(CredentialError::MissingField {
            path: name.clone(),
            field: "key",
        })?;
    let secret = secret
        .filter(|s| !s.is_empty())
        .ok_or(CredentialError::MissingField {
            path: name.clone(),
            field: "secret",
        })?;
    check_token(&format!("{name}: key"), &key)?;
    check_token(&format!("{name}: secret"), &secret)?;
    Ok(Credentials {
        key: Secret::new(key),
        secret: Secret::new(secret),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        let c = Credentials {
            key: Secret::new("PUBLICKEY"),
            secret: s,
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(
            c.redact("sig for PUBLICKEY with hunter2-very-secret"),
            "sig for *** with ***"
        );
    }

    #[test]
    fn file_must_be_0600_and_have_both_fields() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("creds");
        let mut f = fs::File::create(&path).expect("create");
        writeln!(f, "# bybit testnet\nkey = abc123\nsecret = s3cr3t-value").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
            let err = from_file(&path).expect_err("0644 refused");
            assert!(err.to_string().contains("must be 0600"), "{err}");
            assert!(!err.to_string().contains("s3cr3t"));
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        let c = from_file(&path).expect("0600 accepted");
        assert_eq!(
            (c.key.expose(), c.secret.expose()),
            ("abc123", "s3cr3t-value")
        );
        fs::write(&path, "{\"key\": \"k\"}").expect("write");
        let err = from_file(&path).expect_err("no secret");
        assert!(err.to_string().contains("'secret'"), "{err}");
    }
}
