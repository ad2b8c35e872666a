//! Reading a capture's digits as a number without `str::parse::<f64>`, where that is exact.

/// Powers of ten that are exact in an `f64` (10^0 ..= 10^22).
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Most digits the fast path reads: their value stays below 2^53, so it is exact in an `f64`.
const MAX_DIGITS: usize = 15;

/// The value of `text` when it is plain decimal digits, optionally followed by `.` and more
/// digits (`12`, `0.25`, `007.50`), 15 digits at most: then the digits as an integer `w`
/// and the fraction's length `k` are exact in an `f64`, and `w / 10^k` is one correctly
/// rounded division, the value `str::parse::<f64>` gives (its own fast path, Clinger's).
/// `None` for any other text (signs, exponents, `inf`, longer numbers, non-numbers): the
/// caller then parses it the general way.
pub fn plain_decimal(text: &[u8]) -> Option<f64> {
    let (whole, fraction) = match memchr::memchr(b'.', text) {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &text[text.len()..]),
    };
    let dotted = whole.len() < text.len();
    if whole.is_empty() || (dotted && fraction.is_empty()) {
        return None;
    }
    if whole.len() + fraction.len() > MAX_DIGITS {
        return None;
    }
    let mut w: u64 = 0;
    for &b in whole.iter().chain(fraction) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        w = w * 10 + u64::from(digit);
    }
    let scale = EXACT_POWERS_OF_TEN.get(fraction.len())?;
    Some(w as f64 / scale)
}

/// A field's text as a number, when it is a finite one (the general parse).
pub fn parse_finite(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Whether `text` reads as a finite number by [`parse_finite`]: `false` without parsing when
/// it starts with an ASCII letter (only `inf`, `infinity` and `nan` start with letters, and
/// those are not finite), else the general parse decides.
pub fn may_be_number(text: &[u8]) -> bool {
    match text.first() {
        Some(b) if b.is_ascii_alphabetic() => false,
        _ => std::str::from_utf8(text)
            .ok()
            .and_then(parse_finite)
            .is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The general parse the fast path must equal, bit for bit.
    fn parsed(text: &str) -> Option<f64> {
        text.parse::<f64>().ok()
    }

    fn same_as_parse(text: &str) {
        if let Some(v) = plain_decimal(text.as_bytes()) {
            let p = parsed(text).expect("the fast path reads only numbers");
            assert_eq!(v.to_bits(), p.to_bits(), "{text}: {v} vs {p}");
        }
    }

    #[test]
    fn plain_decimals_read_as_parse_reads_them() {
        for text in [
            "0",
            "7",
            "12",
            "12.5",
            "0.1",
            "0.3",
            "1.005",
            "2.675",
            "007.50",
            "00000000000000.1",
            "999999999999999",
            "99999999999999.9",
            "123456789.012345",
            "900719925474.099",
            "450359962737.049",
        ] {
            assert!(plain_decimal(text.as_bytes()).is_some(), "{text}");
            same_as_parse(text);
        }
        // Every split of the 15 digits into whole and fraction, over digit patterns whose
        // values round in both directions.
        for digits in [
            "123456789012345",
            "999999999999999",
            "100000000000001",
            "314159265358979",
        ] {
            for dot in 1..digits.len() {
                same_as_parse(&format!("{}.{}", &digits[..dot], &digits[dot..]));
            }
        }
        // A pseudo-random sweep of short fractions as latency lines write them.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let whole = x % 100_000;
            let frac_len = (x >> 20) % 10;
            let frac = (x >> 32) % 10u64.pow(frac_len as u32);
            let text = if frac_len == 0 {
                whole.to_string()
            } else {
                format!("{whole}.{frac:0width$}", width = frac_len as usize)
            };
            assert!(plain_decimal(text.as_bytes()).is_some(), "{text}");
            same_as_parse(&text);
        }
    }

    #[test]
    fn words_are_not_numbers_and_numbers_are() {
        for text in [
            "ws", "rest", "db", "order", "inf", "Infinity", "nan", "e5", "", "-", "1.2.3",
        ] {
            assert!(!may_be_number(text.as_bytes()), "{text}");
        }
        for text in ["0", "12.5", "-3", "+4", ".5", "5.", "1e3", "007"] {
            assert!(may_be_number(text.as_bytes()), "{text}");
        }
        // It says what the general parse says, whatever the first byte.
        for first in 0u8..=255 {
            for tail in [&b""[..], b"1", b"nf", b"an", b"x"] {
                let mut text = vec![first];
                text.extend_from_slice(tail);
                let general = std::str::from_utf8(&text)
                    .ok()
                    .and_then(|t| t.parse::<f64>().ok())
                    .is_some_and(f64::is_finite);
                assert_eq!(may_be_number(&text), general, "{text:?}");
            }
        }
    }

    #[test]
    fn anything_else_is_left_to_the_general_parse() {
        for text in [
            "",
            ".",
            "5.",
            ".5",
            "-1",
            "+1",
            "1e3",
            "1E3",
            "inf",
            "NaN",
            "1.2.3",
            "1,5",
            " 1",
            "1 ",
            "١٢",
            "1234567890123456",
            "0.1234567890123456",
            "0.000000000000001",
            "12a",
            "ws",
            "0x10",
        ] {
            assert_eq!(plain_decimal(text.as_bytes()), None, "{text}");
        }
    }
}
