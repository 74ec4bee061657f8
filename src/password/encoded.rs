//! The stored forms of a password hash: the PHC string format for argon2 and scrypt
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, `$scrypt$ln=17,r=8,p=1$<salt>$<hash>`) and
//! the modular crypt format for bcrypt (`$2b$12$<22 salt chars><31 hash chars>`).
//!
//! Parsing is strict and allocation-free until the string is known to be well formed and short:
//! a stored string is untrusted input (a database row an attacker may have written).

use super::argon2::{Argon2Params, Variant, VERSION_10, VERSION_13};
use super::bcrypt;
use super::scrypt::ScryptParams;

/// Longest encoded string accepted; the longest legal one (1 KiB salt, hash and data) is
/// about 4.2 KiB.
pub const MAX_ENCODED: usize = 8192;
/// Salt lengths accepted for argon2 and scrypt, in bytes.
pub const MIN_SALT: usize = 8;
pub const MAX_SALT: usize = 1024;
/// Hash lengths accepted for argon2 and scrypt, in bytes.
pub const MIN_HASH: usize = 4;
pub const MAX_HASH: usize = 1024;
/// Longest argon2 associated data accepted, in bytes.
pub const MAX_DATA: usize = 1024;

/// An algorithm and its cost parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheme {
    Argon2 {
        params: Argon2Params,
        /// Argon2's associated data X, carried in the string as `data=`.
        associated_data: Vec<u8>,
    },
    Scrypt(ScryptParams),
    Bcrypt {
        /// `a`, `b` or `y`: the same algorithm for passwords bcrypt accepts.
        minor: u8,
        cost: u32,
    },
}

/// A parsed hash string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub scheme: Scheme,
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The PHC format's base64: standard alphabet, no padding.
pub fn encode_b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes canonical PHC base64: no padding, no stray bits in the last character.
pub fn decode_b64(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut bits: u32 = 0;
    let mut count = 0;
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32;
        bits = bits << 6 | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    (bits == 0).then_some(out)
}

/// A decimal number as the PHC format writes it: digits, no sign, no leading zero.
fn decimal(text: &str) -> Result<u32, String> {
    let ok = !text.is_empty()
        && text.len() <= 10
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    ok.then(|| text.parse::<u32>().ok())
        .flatten()
        .ok_or_else(|| format!("'{}' is not a decimal number", shown(text)))
}

/// A piece of the input for an error message: short, and printable.
fn shown(text: &str) -> String {
    let clean: String = text
        .chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > 40 {
        format!("{clean}...")
    } else {
        clean
    }
}

/// `name=value` pairs in the given order; `optional` names may be missing or follow.
fn params<'a>(
    text: &'a str,
    names: &[&str],
    optional: &[&str],
) -> Result<Vec<Option<&'a str>>, String> {
    let mut values = vec![None; names.len() + optional.len()];
    let mut expected = 0;
    for pair in text.split(',') {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("'{}' is not a name=value parameter", shown(pair)))?;
        let at = names
            .iter()
            .chain(optional)
            .position(|&n| n == name)
            .ok_or_else(|| format!("unknown parameter '{}'", shown(name)))?;
        if at < expected || values[at].is_some() {
            return Err(format!("parameter '{name}' is out of order or repeated"));
        }
        values[at] = Some(value);
        expected = at + 1;
    }
    if let Some(missing) = names.iter().zip(&values).find(|(_, v)| v.is_none()) {
        return Err(format!("parameter '{}' is missing", missing.0));
    }
    Ok(values)
}

fn salt_and_hash(salt: &str, hash: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
    let salt = decode_b64(salt).ok_or("the salt is not canonical unpadded base64")?;
    if !(MIN_SALT..=MAX_SALT).contains(&salt.len()) {
        return Err(format!(
            "the salt is {} bytes; {MIN_SALT} to {MAX_SALT} are accepted",
            salt.len()
        ));
    }
    let hash = decode_b64(hash).ok_or("the hash is not canonical unpadded base64")?;
    if !(MIN_HASH..=MAX_HASH).contains(&hash.len()) {
        return Err(format!(
            "the hash is {} bytes; {MIN_HASH} to {MAX_HASH} are accepted",
            hash.len()
        ));
    }
    Ok((salt, hash))
}

/// Parses a stored hash string; `Err` says why it is not one.
pub fn parse(text: &str) -> Result<Encoded, String> {
    if text.len() > MAX_ENCODED {
        return Err(format!(
            "it is {} bytes long; no hash string is longer than {MAX_ENCODED}",
            text.len()
        ));
    }
    let fields: Vec<&str> = text.split('$').collect();
    if fields.len() < 2 || !fields[0].is_empty() {
        return Err("it does not start with '$' and an algorithm".into());
    }
    match fields[1] {
        "argon2d" | "argon2i" | "argon2id" => parse_argon2(&fields),
        "scrypt" => parse_scrypt(&fields),
        "2a" | "2b" | "2y" => parse_bcrypt(text, &fields),
        other => Err(format!(
            "the algorithm '{}' is not one of argon2id, argon2i, argon2d, scrypt, bcrypt ($2a$, $2b$, $2y$)",
            shown(other)
        )),
    }
}

fn parse_argon2(fields: &[&str]) -> Result<Encoded, String> {
    let variant = match fields[1] {
        "argon2d" => Variant::Argon2d,
        "argon2i" => Variant::Argon2i,
        _ => Variant::Argon2id,
    };
    // $id$v=19$params$salt$hash, or (version 1.0) $id$params$salt$hash.
    let (version, rest) = match fields.get(2) {
        Some(v) if v.starts_with("v=") => (decimal(&v[2..])?, &fields[3..]),
        _ => (VERSION_10, &fields[2..]),
    };
    if version != VERSION_10 && version != VERSION_13 {
        return Err(format!("argon2 version {version} is not 16 or 19"));
    }
    let [params_text, salt, hash] = rest else {
        return Err("an argon2 string has parameters, a salt and a hash".into());
    };
    let values = params(params_text, &["m", "t", "p"], &["keyid", "data"])?;
    if values[3].is_some() {
        return Err("argon2 key ids (keyid=) are not supported".into());
    }
    let associated_data = match values[4] {
        Some(data) => {
            let bytes = decode_b64(data).ok_or("the data= parameter is not canonical base64")?;
            if bytes.len() > MAX_DATA {
                return Err(format!("the associated data is over {MAX_DATA} bytes"));
            }
            bytes
        }
        None => Vec::new(),
    };
    let params = Argon2Params {
        variant,
        version,
        memory_kib: decimal(values[0].unwrap())?,
        passes: decimal(values[1].unwrap())?,
        lanes: decimal(values[2].unwrap())?,
    };
    params.check().map_err(|e| e.to_string())?;
    let (salt, hash) = salt_and_hash(salt, hash)?;
    Ok(Encoded {
        scheme: Scheme::Argon2 {
            params,
            associated_data,
        },
        salt,
        hash,
    })
}

fn parse_scrypt(fields: &[&str]) -> Result<Encoded, String> {
    let [_, _, params_text, salt, hash] = fields else {
        return Err("a scrypt string has parameters, a salt and a hash".into());
    };
    let values = params(params_text, &["ln", "r", "p"], &[])?;
    let params = ScryptParams {
        log_n: decimal(values[0].unwrap())?,
        r: decimal(values[1].unwrap())?,
        p: decimal(values[2].unwrap())?,
    };
    params.check().map_err(|e| e.to_string())?;
    let (salt, hash) = salt_and_hash(salt, hash)?;
    Ok(Encoded {
        scheme: Scheme::Scrypt(params),
        salt,
        hash,
    })
}

fn parse_bcrypt(text: &str, fields: &[&str]) -> Result<Encoded, String> {
    let [_, minor, cost, rest] = fields else {
        return Err("a bcrypt string is $2b$<cost>$<53 characters>".into());
    };
    if cost.len() != 2 || !cost.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the bcrypt cost '{}' is not two digits",
            shown(cost)
        ));
    }
    let cost: u32 = cost.parse().unwrap();
    if !(bcrypt::MIN_COST..=bcrypt::MAX_COST).contains(&cost) {
        return Err(format!(
            "the bcrypt cost {cost} is not from {} to {}",
            bcrypt::MIN_COST,
            bcrypt::MAX_COST
        ));
    }
    if rest.len() != 53 || !rest.is_ascii() {
        return Err(format!(
            "a bcrypt string has 60 characters; this one has {}",
            text.chars().count()
        ));
    }
    let salt = bcrypt::decode64(&rest[..22], bcrypt::SALT_BYTES)
        .ok_or("the bcrypt salt has characters outside bcrypt's base64")?;
    let hash = bcrypt::decode64(&rest[22..], bcrypt::HASH_BYTES)
        .ok_or("the bcrypt hash has characters outside bcrypt's base64")?;
    Ok(Encoded {
        scheme: Scheme::Bcrypt {
            minor: minor.as_bytes()[1],
            cost,
        },
        salt,
        hash,
    })
}

/// The string for a hash.
pub fn format(encoded: &Encoded) -> String {
    let (salt, hash) = (&encoded.salt, &encoded.hash);
    match &encoded.scheme {
        Scheme::Argon2 {
            params,
            associated_data,
        } => {
            let version = if params.version == VERSION_13 {
                format!("v={}$", params.version)
            } else {
                String::new()
            };
            let data = if associated_data.is_empty() {
                String::new()
            } else {
                format!(",data={}", encode_b64(associated_data))
            };
            format!(
                "${}${version}m={},t={},p={}{data}${}${}",
                params.variant.name(),
                params.memory_kib,
                params.passes,
                params.lanes,
                encode_b64(salt),
                encode_b64(hash)
            )
        }
        Scheme::Scrypt(p) => format!(
            "$scrypt$ln={},r={},p={}${}${}",
            p.log_n,
            p.r,
            p.p,
            encode_b64(salt),
            encode_b64(hash)
        ),
        Scheme::Bcrypt { minor, cost } => format!(
            "$2{}${cost:02}${}{}",
            *minor as char,
            bcrypt::encode64(salt),
            bcrypt::encode64(hash)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_strings_parse_and_format_back() {
        for text in [
            // node-argon2 0.44, @node-rs/argon2, bcrypt, RustCrypto scrypt
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Xz4CuS3cSdYsJOhD5C5dsw6U5o4Vhm2eDPkqVJFLEXY",
            "$argon2i$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
            "$argon2d$m=4096,t=3,p=1$c29tZXNhbHQ$oIiWw3J6sm2qBSHXkUmRmxhZ0ZO5qEiw",
            "$argon2id$v=19$m=4096,t=3,p=1,data=ZGF0YQ$c29tZXNhbHQ$oIiWw3J6sm2qBSHXkUmRmxhZ0ZO5qEiw",
            "$scrypt$ln=17,r=8,p=1$c29tZXNhbHRzb21lc2FsdA$Xz4CuS3cSdYsJOhD5C5dsw6U5o4Vhm2eDPkqVJFLEXY",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$2y$10$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
        ] {
            let parsed = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(format(&parsed), text);
        }
    }

    #[test]
    fn malformed_strings_say_why() {
        for text in [
            "",
            "argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2g",
            "$md5$abc",
            "$argon2id$v=18$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2g",
            "$argon2id$v=19$t=2,m=19456,p=1$c29tZXNhbHQ$aGFzaGhhc2g",
            "$argon2id$v=19$m=19456,t=2$c29tZXNhbHQ$aGFzaGhhc2g",
            "$argon2id$v=19$m=019456,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2g",
            "$argon2id$v=19$m=4294967296,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2g",
            "$argon2id$v=19$m=19456,t=0,p=1$c29tZXNhbHQ$aGFzaGhhc2g",
            "$argon2id$v=19$m=7,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2g",
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ=$aGFzaGhhc2g",
            "$argon2id$v=19$m=19456,t=2,p=1$c2$aGFzaGhhc2g",
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2h",
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ",
            "$argon2id$v=19$m=19456,t=2,p=1,keyid=YQ$c29tZXNhbHQ$aGFzaGhhc2g",
            "$scrypt$ln=0,r=8,p=1$c29tZXNhbHQ$aGFzaGhhc2g",
            "$scrypt$ln=17,r=8$c29tZXNhbHQ$aGFzaGhhc2g",
            "$2b$3$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$2b$32$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMU",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWM!W",
            "$2x$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
        assert!(parse(&"$".repeat(MAX_ENCODED + 1)).is_err());
    }

    #[test]
    fn base64_round_trips_and_rejects_stray_bits() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(91)).collect();
            assert_eq!(decode_b64(&encode_b64(&bytes)).unwrap(), bytes);
        }
        assert_eq!(decode_b64("YR"), None); // 'R' leaves bits set past the byte
        assert_eq!(decode_b64("YQ"), Some(b"a".to_vec()));
        assert_eq!(decode_b64("YQ=="), None);
        assert_eq!(decode_b64("Y"), None);
    }
}
