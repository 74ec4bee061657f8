//! Field text to values, as JavaScript reads the same text: `Number()` for floats, integral
//! `Number()` values for int32 and uint32, `BigInt()` for int64, ISO 8601 as `Date.parse`
//! reads it for dates.

/// JavaScript's whitespace (what `Number()` and `BigInt()` trim): ASCII tab, LF, VT, FF, CR and
/// space, NBSP, BOM, line and paragraph separators and the Unicode space separators.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{b}'
            | '\u{c}'
            | '\r'
            | ' '
            | '\u{a0}'
            | '\u{feff}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

fn trim_js(text: &[u8]) -> Option<&str> {
    // Fast path: plain ASCII without surrounding spaces.
    let s = std::str::from_utf8(text).ok()?;
    Some(s.trim_matches(is_js_space))
}

/// `0x...`, `0o...` or `0b...` (JavaScript's non-decimal literals, no sign): radix and digits.
fn radix_literal(s: &str) -> Option<(u32, &str)> {
    let b = s.as_bytes();
    if b.len() <= 2 || b[0] != b'0' {
        return None;
    }
    let radix = match b[1] {
        b'x' | b'X' => 16,
        b'o' | b'O' => 8,
        b'b' | b'B' => 2,
        _ => return None,
    };
    Some((radix, &s[2..]))
}

fn radix_value(digits: &str, radix: u32) -> Option<f64> {
    if digits.is_empty() || digits.len() > 128 {
        return None;
    }
    // Exact up to 2^128; beyond, the leading 128 bits and a sticky bit round correctly
    // only for radix 2, 8, 16 where digits map to bits: fold as u128 while it fits.
    let mut v: u128 = 0;
    for ch in digits.chars() {
        let d = ch.to_digit(radix)? as u128;
        v = v.checked_mul(radix as u128)?.checked_add(d)?;
    }
    Some(v as f64) // u128 -> f64 rounds to nearest, as JS does
}

/// `Number(text)`, or None where `Number()` gives NaN for text other than `NaN` itself (the
/// caller reports such text as not a number). Differences from `Number()`: the empty string is
/// never read here (it is a missing value before it gets here), and hexadecimal, octal and
/// binary literals longer than 128 bits are refused instead of rounded.
pub fn js_number(text: &[u8]) -> Option<f64> {
    let s = trim_js(text)?;
    if s.is_empty() {
        return Some(0.0);
    }
    let b = s.as_bytes();
    if let Some((radix, digits)) = radix_literal(s) {
        return radix_value(digits, radix);
    }
    match s {
        "NaN" => return Some(f64::NAN),
        "Infinity" | "+Infinity" => return Some(f64::INFINITY),
        "-Infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    // A StrDecimalLiteral: sign, digits with at most one point, an optional exponent. Rust's
    // parser also takes "inf" and "nan", which JavaScript does not: only these bytes get there.
    let mut seen_digit = false;
    let mut seen_point = false;
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' => seen_digit = true,
            b'.' if !seen_point => seen_point = true,
            b'e' | b'E' if seen_digit => {
                let mut j = i + 1;
                if matches!(b.get(j), Some(b'+' | b'-')) {
                    j += 1;
                }
                if j == b.len() || !b[j..].iter().all(u8::is_ascii_digit) {
                    return None;
                }
                break;
            }
            _ => return None,
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    s.parse::<f64>().ok()
}

/// A float column's value: [`js_number`], with `decimal` as the decimal mark (a `.` in the
/// text is then refused, as it would be a thousands separator). Plain decimal text (the
/// common case) skips the general path's trimming and checks.
pub fn number(text: &[u8], decimal: u8) -> Option<f64> {
    if decimal == b'.' {
        return plain_decimal(text).or_else(|| js_number(text));
    }
    if text.contains(&b'.') {
        return None;
    }
    let swap = |c: &u8| if *c == decimal { b'.' } else { *c };
    if text.len() <= 64 {
        let mut local = [0u8; 64];
        for (d, c) in local.iter_mut().zip(text) {
            *d = swap(c);
        }
        let t = &local[..text.len()];
        plain_decimal(t).or_else(|| js_number(t))
    } else {
        js_number(&text.iter().map(swap).collect::<Vec<u8>>())
    }
}

/// Exact powers of ten as f64 (10^22 is the largest with an exact double).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `[+-]digits[.digits][e[+-]digits]` with a digit before the exponent, parsed directly;
/// None for anything else (which [`js_number`] then reads or refuses).
///
/// Most CSV numbers have few digits and a small exponent: their digits as an integer below
/// 2^53 times or over an exact power of ten is one correctly rounded operation (Clinger's
/// fast path), about 5x quicker than the general parser, which takes the rest.
#[inline]
fn plain_decimal(b: &[u8]) -> Option<f64> {
    let negative = b.first() == Some(&b'-');
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let mut digits = 0usize;
    let mut mantissa = 0u64;
    while i < b.len() && b[i].is_ascii_digit() {
        mantissa = mantissa.wrapping_mul(10).wrapping_add((b[i] - b'0') as u64);
        i += 1;
        digits += 1;
    }
    let mut fraction = 0usize;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            mantissa = mantissa.wrapping_mul(10).wrapping_add((b[i] - b'0') as u64);
            i += 1;
            fraction += 1;
        }
        digits += fraction;
    }
    if digits == 0 {
        return None;
    }
    let mut exponent = 0i64;
    if i < b.len() && (b[i] | 0x20) == b'e' {
        i += 1;
        let minus = i < b.len() && b[i] == b'-';
        if i < b.len() && matches!(b[i], b'+' | b'-') {
            i += 1;
        }
        let first = i;
        while i < b.len() && b[i].is_ascii_digit() {
            // Saturates far beyond any exponent a double has.
            exponent = (exponent * 10 + (b[i] - b'0') as i64).min(1 << 40);
            i += 1;
        }
        if i == first {
            return None;
        }
        if minus {
            exponent = -exponent;
        }
    }
    if i != b.len() {
        return None;
    }
    let scale = exponent - fraction as i64;
    // 19 digits cannot overflow the u64; below 2^53 the integer is exact as a double.
    if digits <= 19 && mantissa <= 1 << 53 && (-22..=22).contains(&scale) {
        let m = mantissa as f64;
        let v = if scale >= 0 {
            m * POW10[scale as usize]
        } else {
            m / POW10[(-scale) as usize]
        };
        return Some(if negative { -v } else { v });
    }
    // SAFETY: every byte was checked to be ASCII above.
    unsafe { std::str::from_utf8_unchecked(b) }.parse().ok()
}

/// Whether `text` looks like an ISO 8601 calendar date (`YYYY-MM-DD`, maybe a time after it)
/// and reads as one: what type inference takes for a date (a bare `2026` stays a number).
pub fn looks_like_date(text: &[u8]) -> bool {
    text.len() >= 10
        && text[4] == b'-'
        && text[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| text[i].is_ascii_digit())
        && iso_date(text).is_some()
}

/// An integer column's value: `Number(text)` when it is an integer in [min, max].
pub fn js_integer(text: &[u8], min: f64, max: f64) -> Option<f64> {
    let v = plain_decimal(text).or_else(|| js_number(text))?;
    (v.fract() == 0.0 && v >= min && v <= max).then_some(v)
}

/// `BigInt(text)` for an int64 column: decimal digits with an optional sign, or an unsigned
/// 0x / 0o / 0b literal, surrounding whitespace trimmed; None outside the int64 range.
pub fn js_bigint(text: &[u8]) -> Option<i64> {
    let s = trim_js(text)?;
    if let Some((radix, digits)) = radix_literal(s) {
        return u64::from_str_radix(digits, radix)
            .ok()
            .filter(|_| digits.bytes().all(|c| c.is_ascii_alphanumeric()))
            .and_then(|v| i64::try_from(v).ok());
    }
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// true/false, 1/0 (and TRUE/True, FALSE/False).
pub fn boolean(text: &[u8]) -> Option<u8> {
    match text {
        b"true" | b"TRUE" | b"True" | b"1" => Some(1),
        b"false" | b"FALSE" | b"False" | b"0" => Some(0),
        _ => None,
    }
}

fn digits(b: &[u8], at: &mut usize, n: usize) -> Option<i64> {
    let part = b.get(*at..*at + n)?;
    if !part.iter().all(u8::is_ascii_digit) {
        return None;
    }
    *at += n;
    Some(part.iter().fold(0i64, |v, &d| v * 10 + (d - b'0') as i64))
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian; Howard Hinnant's
/// algorithm), with `day` allowed past the month's end as V8 allows it (up to 31).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Epoch milliseconds of an ISO 8601 date or date-time as `Date.parse` reads it:
/// `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `±YYYYYY-MM-DD`, then optionally `T` (or a space) and
/// `HH:mm`, `HH:mm:ss` or `HH:mm:ss.sss` (more fraction digits are cut, as V8 does) and `Z`
/// or `±HH:mm`. A date-time without an offset is read as UTC (`Date.parse` reads it as local
/// time: the same when the process runs with TZ=UTC). Days 29-31 past a month's end roll into
/// the next month, as V8's parser does; other out-of-range fields are refused.
pub fn iso_date(text: &[u8]) -> Option<f64> {
    let b = text;
    let mut at = 0;
    let year = match b.first()? {
        b'+' | b'-' => {
            let negative = b[0] == b'-';
            at = 1;
            let y = digits(b, &mut at, 6)?;
            if negative && y == 0 {
                return None; // -000000 is not allowed
            }
            if negative {
                -y
            } else {
                y
            }
        }
        _ => digits(b, &mut at, 4)?,
    };
    let (mut month, mut day) = (1, 1);
    if b.get(at) == Some(&b'-') {
        at += 1;
        month = digits(b, &mut at, 2)?;
        if b.get(at) == Some(&b'-') {
            at += 1;
            day = digits(b, &mut at, 2)?;
        }
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut ms: i64 = 0;
    if at < b.len() {
        if !matches!(b[at], b'T' | b't' | b' ') {
            return None;
        }
        at += 1;
        let hour = digits(b, &mut at, 2)?;
        if b.get(at) != Some(&b':') {
            return None;
        }
        at += 1;
        let minute = digits(b, &mut at, 2)?;
        let (mut second, mut milli) = (0, 0);
        if b.get(at) == Some(&b':') {
            at += 1;
            second = digits(b, &mut at, 2)?;
            if b.get(at) == Some(&b'.') {
                at += 1;
                let start = at;
                while at < b.len() && b[at].is_ascii_digit() {
                    at += 1;
                }
                let frac = &b[start..at];
                if frac.is_empty() {
                    return None;
                }
                for (i, &d) in frac.iter().take(3).enumerate() {
                    milli += (d - b'0') as i64 * [100, 10, 1][i];
                }
            }
        }
        if hour > 24
            || minute > 59
            || second > 59
            || (hour == 24 && (minute, second, milli) != (0, 0, 0))
        {
            return None;
        }
        ms = ((hour * 60 + minute) * 60 + second) * 1000 + milli;
        match b.get(at) {
            None => {}
            Some(b'Z' | b'z') => at += 1,
            Some(&sign @ (b'+' | b'-')) => {
                at += 1;
                let oh = digits(b, &mut at, 2)?;
                if b.get(at) == Some(&b':') {
                    at += 1;
                }
                let om = digits(b, &mut at, 2)?;
                if oh > 23 || om > 59 {
                    return None;
                }
                let offset = (oh * 60 + om) * 60_000;
                ms -= if sign == b'+' { offset } else { -offset };
            }
            _ => return None,
        }
        if at != b.len() {
            return None;
        }
    }
    let total = days_from_civil(year, month, day) as f64 * 86_400_000.0 + ms as f64;
    // Date's range: ±8.64e15 ms.
    (total.abs() <= 8.64e15).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_number_reads_them() {
        let cases: &[(&str, Option<f64>)] = &[
            (" 12 ", Some(12.0)),
            ("0x10", Some(16.0)),
            ("0b11", Some(3.0)),
            ("0o7", Some(7.0)),
            ("-0x10", None),
            ("1e400", Some(f64::INFINITY)),
            ("+5", Some(5.0)),
            ("1_0", None),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("Infinity", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("inf", None),
            ("1e", None),
            ("e5", None),
            ("\u{a0}12\u{a0}", Some(12.0)),
            ("\u{feff}3", Some(3.0)),
            ("\u{85}12", None),
            ("0.1", Some(0.1)),
            (
                "123456789012345678901234567890",
                Some(1.2345678901234568e29),
            ),
            ("2.2250738585072011e-308", Some(2.225073858507201e-308)),
            ("abc", None),
            ("1.2.3", None),
            ("--1", None),
        ];
        for (text, want) in cases {
            let got = js_number(text.as_bytes());
            assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{text:?}");
        }
        assert!(js_number(b"-0").unwrap().is_sign_negative());
        assert!(js_number(b"NaN").unwrap().is_nan());
    }

    #[test]
    fn the_fast_path_and_decimal_commas_agree_with_number() {
        for t in [
            "0",
            "-0",
            "1.5",
            "+5",
            ".5",
            "5.",
            "1e5",
            "1E-5",
            "-2.5e+3",
            "12345678901234567890",
            " 1",
            "0x10",
            "1e",
            "e1",
            ".",
            "-",
            "1.2.3",
            "NaN",
            "Infinity",
        ] {
            let a = number(t.as_bytes(), b'.').map(f64::to_bits);
            let b = js_number(t.as_bytes()).map(f64::to_bits);
            assert_eq!(a, b, "{t:?}");
        }
        assert_eq!(number(b"310,7", b','), Some(310.7));
        assert_eq!(number(b"-0,5e2", b','), Some(-50.0));
        assert_eq!(number(b"310.7", b','), None);
        assert_eq!(number(b"1,2,3", b','), None);
        assert_eq!(number(b"42", b','), Some(42.0));
        assert!(looks_like_date(b"2026-11-27"));
        assert!(looks_like_date(b"2026-11-27T10:00:00Z"));
        assert!(!looks_like_date(b"2026"));
        assert!(!looks_like_date(b"2026-13-27"));
        assert!(!looks_like_date(b"27/11/2026"));
    }

    #[test]
    fn the_fast_path_rounds_as_the_general_parser_does() {
        // Random decimals of 1-20 digits, points anywhere, exponents -30..30: the fast path
        // (or its fallback) gives the bits `str::parse` gives.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200_000 {
            let r = next();
            let digits = 1 + (r % 20) as usize;
            let mut t = String::new();
            if r >> 8 & 1 == 1 {
                t.push('-');
            }
            let point = (r >> 16) as usize % (digits + 1);
            for d in 0..digits {
                if d == point && d > 0 {
                    t.push('.');
                }
                t.push((b'0' + (next() % 10) as u8) as char);
            }
            if r >> 32 & 3 == 0 {
                t.push_str(&format!("e{}", (r >> 40) as i64 % 31));
            }
            let want: f64 = t.parse().unwrap();
            assert_eq!(
                plain_decimal(t.as_bytes()).map(f64::to_bits),
                Some(want.to_bits()),
                "{t}"
            );
        }
        assert_eq!(
            plain_decimal(b"9007199254740993").unwrap(),
            9007199254740992.0
        );
        assert_eq!(plain_decimal(b"1e23").unwrap(), 1e23);
        assert_eq!(
            plain_decimal(b"-0.0").unwrap().to_bits(),
            (-0.0f64).to_bits()
        );
        assert_eq!(
            plain_decimal(b"1e99999999999999999999"),
            Some(f64::INFINITY)
        );
    }

    #[test]
    fn integers_and_bigints() {
        assert_eq!(js_integer(b"1e3", -1e10, 1e10), Some(1000.0));
        assert_eq!(js_integer(b"1.5", -1e10, 1e10), None);
        assert_eq!(js_integer(b"4294967296", 0.0, 4294967295.0), None);
        assert_eq!(js_bigint(b" -9223372036854775808 "), Some(i64::MIN));
        assert_eq!(js_bigint(b"9223372036854775808"), None);
        assert_eq!(js_bigint(b"0x10"), Some(16));
        assert_eq!(js_bigint(b"-0x10"), None);
        assert_eq!(js_bigint(b"1e3"), None);
        assert_eq!(js_bigint(b"+7"), Some(7));
    }

    #[test]
    fn dates_read_as_date_parse_reads_them() {
        let cases: &[(&str, Option<f64>)] = &[
            ("2026-02-30", Some(1772409600000.0)),
            ("2026-11-27", Some(1795737600000.0)),
            ("2026-11-27T10:00:00Z", Some(1795773600000.0)),
            ("2026-11-27T10:00:00", Some(1795773600000.0)),
            ("2026-11-27 10:00:00", Some(1795773600000.0)),
            ("2026-11-27T10:00:00.123456Z", Some(1795773600123.0)),
            ("2026-11-27T10:00:00+02:00", Some(1795766400000.0)),
            ("+002026-11-27", Some(1795737600000.0)),
            ("2026", Some(1767225600000.0)),
            ("2026-11", Some(1793491200000.0)),
            ("2026-13-01", None),
            ("2026-11-27T24:00:00Z", Some(1795824000000.0)),
            ("2026-11-27T10:00Z", Some(1795773600000.0)),
            ("2026-11-27T10Z", None),
            ("20261127", None),
            ("2026-11-27T10:00:00.5Z", Some(1795773600500.0)),
            ("1969-12-31T23:59:59.999Z", Some(-1.0)),
            ("not a date", None),
        ];
        for (text, want) in cases {
            assert_eq!(iso_date(text.as_bytes()), *want, "{text:?}");
        }
    }
}
