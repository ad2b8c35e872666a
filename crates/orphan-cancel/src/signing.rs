//! Request signatures exactly as Bybit v5 and Kraken spot compute them.
//!
//! - Bybit v5: `X-BAPI-SIGN = hex(HMAC-SHA256(secret, timestamp + api_key + recv_window + payload))`
//!   where the payload is the query string of a GET or the JSON body of a POST.
//! - Kraken: `API-Sign = base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + body)))`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// The secret could not be used as a key (Kraken secrets are base64).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the API secret is not valid base64 (Kraken secrets are base64-encoded)")]
pub struct BadSecret;

/// Lower-case hex HMAC-SHA256 of `message` under `secret`: Bybit's primitive.
pub fn hmac_sha256_hex(secret: &[u8], message: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// The Bybit v5 string to sign: `timestamp + api_key + recv_window + payload`.
pub fn bybit_prehash(
    timestamp_ms: i64,
    api_key: &str,
    recv_window_ms: u64,
    payload: &str,
) -> String {
    format!("{timestamp_ms}{api_key}{recv_window_ms}{payload}")
}

/// The Bybit v5 `X-BAPI-SIGN` header value.
pub fn bybit_sign(
    secret: &str,
    timestamp_ms: i64,
    api_key: &str,
    recv_window_ms: u64,
    payload: &str,
) -> String {
    let message = bybit_prehash(timestamp_ms, api_key, recv_window_ms, payload);
    hmac_sha256_hex(secret.as_bytes(), message.as_bytes())
}

/// The Kraken `API-Sign` header value for `uri_path` (`/0/private/...`), the nonce and the exact
/// request body that is sent (form-encoded or JSON, containing the same nonce).
pub fn kraken_sign(
    secret_b64: &str,
    uri_path: &str,
    nonce: u64,
    body: &str,
) -> Result<String, BadSecret> {
    let key = BASE64.decode(secret_b64.trim()).map_err(|_| BadSecret)?;
    let mut inner = Sha256::new();
    inner.update(nonce.to_string().as_bytes());
    inner.update(body.as_bytes());
    let digest = inner.finalize();
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(&key).map_err(|_| BadSecret)?;
    mac.update(uri_path.as_bytes());
    mac.update(&digest);
    Ok(BASE64.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kraken's published example (docs.kraken.com, "Spot REST Authentication", Examples).
    #[test]
    fn kraken_matches_the_published_example() {
        let secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
        let body =
            "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25";
        let sign = kraken_sign(secret, "/0/private/AddOrder", 1616492376594, body).expect("sign");
        assert_eq!(
            sign,
            "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
        );
    }

    #[test]
    fn kraken_rejects_a_secret_that_is_not_base64() {
        assert_eq!(
            kraken_sign("not base64!", "/0/private/OpenOrders", 1, "nonce=1"),
            Err(BadSecret)
        );
    }

    /// Bybit's published HMAC example (its API docs' "Signature Algorithm" section). Bybit
    /// publishes no v5 vector; v5 signs a different string with this same primitive.
    #[test]
    fn bybit_hmac_matches_the_published_example() {
        let secret = "t7T0YlFnYXk0Fx3JswQsDrViLg1Gh3DUU5Mr";
        let message =
            "api_key=B2Rou0PLPpGqcU0Vu2&leverage=100&symbol=BTCUSD&timestamp=1542434791000";
        assert_eq!(
            hmac_sha256_hex(secret.as_bytes(), message.as_bytes()),
            "670e3e4aa32b243f2dedf1dafcec2fd17a440e71b05681550416507de591d908"
        );
    }

    #[test]
    fn bybit_v5_signs_timestamp_key_window_and_payload_in_that_order() {
        let pre = bybit_prehash(
            1658384314791,
            "XXXXXXXXXX",
            5000,
            "category=option&symbol=BTC-29JUL22-25000-C",
        );
        assert_eq!(
            pre,
            "1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C"
        );
        let sign = bybit_sign(
            "secret",
            1658384314791,
            "XXXXXXXXXX",
            5000,
            "category=option&symbol=BTC-29JUL22-25000-C",
        );
        assert_eq!(sign, hmac_sha256_hex(b"secret", pre.as_bytes()));
        assert_eq!(sign.len(), 64);
    }
}
