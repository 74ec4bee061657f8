//! Password hashing: argon2id/argon2i/argon2d, scrypt and bcrypt, to and from their stored
//! string forms, with the parameters of a stored string bounded before any memory is taken.

pub mod argon2;
pub mod bcrypt;
mod blowfish_consts;
pub mod encoded;
pub mod scrypt;

#[cfg(feature = "napi")]
mod binding;

use crate::cancel::Cancel;
use crate::error::{KernelError, KernelResult};
use encoded::{Encoded, Scheme};

/// What `hash_password` makes: the scheme with its costs, the salt (random when `None`) and
/// the hash length (argon2 and scrypt; bcrypt's is fixed).
pub struct HashRequest {
    pub scheme: Scheme,
    pub salt: Option<Vec<u8>>,
    pub hash_length: usize,
    /// argon2's secret key (a "pepper" kept outside the database).
    pub secret: Vec<u8>,
    /// bcrypt only: hash the first 72 bytes of a longer password instead of refusing it.
    pub truncate: bool,
}

/// The most a stored string may ask for before `verify_password` refuses it unread.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Bytes: argon2's memory, or scrypt's 128 * N * r per lane times p.
    pub max_memory: u64,
    /// argon2's passes.
    pub max_time: u32,
    /// argon2's lanes and scrypt's p.
    pub max_parallelism: u32,
    pub max_bcrypt_cost: u32,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_memory: 256 << 20,
            max_time: 10,
            max_parallelism: 16,
            max_bcrypt_cost: 16,
        }
    }
}

/// Bytes of memory a hash with this scheme takes (the figure `Bounds::max_memory` bounds).
pub fn memory_bytes(scheme: &Scheme) -> u128 {
    match scheme {
        Scheme::Argon2 { params, .. } => params.memory_bytes() as u128,
        Scheme::Scrypt(p) => p.lane_bytes() * p.p as u128,
        Scheme::Bcrypt { .. } => 4168,
    }
}

/// `Err` says which parameter of a stored string is past `bounds`.
pub fn check_bounds(scheme: &Scheme, bounds: &Bounds) -> Result<(), String> {
    let memory = memory_bytes(scheme);
    if memory > bounds.max_memory as u128 {
        return Err(format!(
            "it asks for {memory} bytes of memory; maxMemory is {}",
            bounds.max_memory
        ));
    }
    match scheme {
        Scheme::Argon2 { params, .. } => {
            if params.passes > bounds.max_time {
                return Err(format!(
                    "it asks for t={} passes; maxTime is {}",
                    params.passes, bounds.max_time
                ));
            }
            if params.lanes > bounds.max_parallelism {
                return Err(format!(
                    "it asks for p={} lanes; maxParallelism is {}",
                    params.lanes, bounds.max_parallelism
                ));
            }
        }
        Scheme::Scrypt(p) => {
            if p.p > bounds.max_parallelism {
                return Err(format!(
                    "it asks for p={}; maxParallelism is {}",
                    p.p, bounds.max_parallelism
                ));
            }
        }
        Scheme::Bcrypt { cost, .. } => {
            if *cost > bounds.max_bcrypt_cost {
                return Err(format!(
                    "it asks for bcrypt cost {cost}; maxBcryptCost is {}",
                    bounds.max_bcrypt_cost
                ));
            }
        }
    }
    Ok(())
}

/// The bcrypt key for `password`, or `Err(OutOfRange)` for a password over 72 bytes that the
/// caller did not allow to be cut.
fn bcrypt_key(password: &[u8], truncate: bool) -> KernelResult<Vec<u8>> {
    if password.len() > bcrypt::MAX_PASSWORD && !truncate {
        return Err(KernelError::OutOfRange(format!(
            "bcrypt uses only the first {} bytes of a password; this one has {} (hash it with \
             argon2id, or pass truncate: true to cut it as other bcrypt libraries do)",
            bcrypt::MAX_PASSWORD,
            password.len()
        )));
    }
    Ok(bcrypt::key_of(password))
}

/// The hash bytes of `password` under `scheme` and `salt`, `hash_length` long.
fn derive(
    scheme: &Scheme,
    password: &[u8],
    salt: &[u8],
    secret: &[u8],
    hash_length: usize,
    truncate: bool,
    cancel: &Cancel,
) -> KernelResult<Vec<u8>> {
    match scheme {
        Scheme::Argon2 {
            params,
            associated_data,
        } => {
            let mut tag = vec![0u8; hash_length];
            argon2::argon2(
                params,
                &argon2::Argon2Input {
                    password,
                    salt,
                    secret,
                    associated_data,
                },
                &mut tag,
                cancel,
            )?;
            Ok(tag)
        }
        Scheme::Scrypt(params) => {
            let mut out = vec![0u8; hash_length];
            scrypt::scrypt(params, password, salt, &mut out, cancel)?;
            Ok(out)
        }
        Scheme::Bcrypt { cost, .. } => {
            let salt: &[u8; bcrypt::SALT_BYTES] = salt.try_into().map_err(|_| {
                KernelError::OutOfRange(format!(
                    "a bcrypt salt is {} bytes; got {}",
                    bcrypt::SALT_BYTES,
                    salt.len()
                ))
            })?;
            let key = bcrypt_key(password, truncate)?;
            Ok(bcrypt::bcrypt(*cost, salt, &key, cancel)?.to_vec())
        }
    }
}

/// Salt bytes from the operating system's CSPRNG.
fn random_salt(len: usize) -> KernelResult<Vec<u8>> {
    let mut salt = vec![0u8; len];
    getrandom::fill(&mut salt).map_err(|e| {
        let error = match e.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::other(e.to_string()),
        };
        KernelError::io(error, "getrandom", "")
    })?;
    Ok(salt)
}

/// Hashes `password` and returns the stored string form.
pub fn hash_password(
    password: &[u8],
    request: &HashRequest,
    cancel: &Cancel,
) -> KernelResult<String> {
    let bcrypt_scheme = matches!(request.scheme, Scheme::Bcrypt { .. });
    let salt = match &request.salt {
        Some(salt) => salt.clone(),
        None => random_salt(if bcrypt_scheme {
            bcrypt::SALT_BYTES
        } else {
            16
        })?,
    };
    if !bcrypt_scheme {
        if !(encoded::MIN_SALT..=encoded::MAX_SALT).contains(&salt.len()) {
            return Err(KernelError::OutOfRange(format!(
                "the salt must be {} to {} bytes; got {}",
                encoded::MIN_SALT,
                encoded::MAX_SALT,
                salt.len()
            )));
        }
        if !(encoded::MIN_HASH..=encoded::MAX_HASH).contains(&request.hash_length) {
            return Err(KernelError::OutOfRange(format!(
                "hashLength must be {} to {} bytes; got {}",
                encoded::MIN_HASH,
                encoded::MAX_HASH,
                request.hash_length
            )));
        }
    }
    let hash = derive(
        &request.scheme,
        password,
        &salt,
        &request.secret,
        request.hash_length,
        request.truncate,
        cancel,
    )?;
    Ok(encoded::format(&Encoded {
        scheme: request.scheme.clone(),
        salt,
        hash,
    }))
}

/// Whether `password` matches the stored string `text`. A malformed string or one past
/// `bounds` is an error (never `false`), decided before any memory is taken; the final
/// comparison takes the same time wherever the hashes differ.
pub fn verify_password(
    text: &str,
    password: &[u8],
    secret: &[u8],
    truncate: bool,
    bounds: &Bounds,
    cancel: &Cancel,
) -> KernelResult<bool> {
    let stored = encoded::parse(text)
        .map_err(|reason| KernelError::InvalidValue(format!("not a password hash: {reason}")))?;
    check_bounds(&stored.scheme, bounds).map_err(KernelError::OutOfRange)?;
    let computed = derive(
        &stored.scheme,
        password,
        &stored.salt,
        secret,
        stored.hash.len(),
        truncate,
        cancel,
    )?;
    Ok(constant_time_eq(&computed, &stored.hash))
}

/// Equality whose time depends on the lengths only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::argon2::{Argon2Params, Variant, VERSION_13};
    use super::scrypt::ScryptParams;
    use super::*;

    fn request(scheme: Scheme) -> HashRequest {
        HashRequest {
            scheme,
            salt: None,
            hash_length: 32,
            secret: Vec::new(),
            truncate: false,
        }
    }

    fn small_schemes() -> Vec<Scheme> {
        vec![
            Scheme::Argon2 {
                params: Argon2Params {
                    variant: Variant::Argon2id,
                    version: VERSION_13,
                    memory_kib: 64,
                    passes: 2,
                    lanes: 2,
                },
                associated_data: Vec::new(),
            },
            Scheme::Scrypt(ScryptParams {
                log_n: 6,
                r: 8,
                p: 2,
            }),
            Scheme::Bcrypt {
                minor: b'b',
                cost: 4,
            },
        ]
    }

    #[test]
    fn hashes_verify_and_wrong_passwords_do_not() {
        let cancel = Cancel::new();
        for scheme in small_schemes() {
            for password in [&b""[..], b"hunter2", "pässwörd".as_bytes(), b"a\0b"] {
                let text = hash_password(password, &request(scheme.clone()), &cancel).unwrap();
                let ok = |p: &[u8]| {
                    verify_password(&text, p, b"", false, &Bounds::default(), &cancel).unwrap()
                };
                assert!(ok(password), "{text}");
                assert!(!ok(b"wrong"), "{text}");
                let mut changed = password.to_vec();
                changed.push(b'x');
                assert!(!ok(&changed), "{text}");
            }
        }
    }

    #[test]
    fn salts_are_random() {
        let cancel = Cancel::new();
        let scheme = small_schemes().remove(0);
        let a = hash_password(b"pw", &request(scheme.clone()), &cancel).unwrap();
        let b = hash_password(b"pw", &request(scheme), &cancel).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn strings_past_the_bounds_are_refused() {
        let cancel = Cancel::new();
        for text in [
            // 4 TiB of argon2 memory
            "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2g",
            "$argon2id$v=19$m=4096,t=11,p=1$c29tZXNhbHQ$aGFzaGhhc2g",
            "$argon2id$v=19$m=4096,t=1,p=17$c29tZXNhbHQ$aGFzaGhhc2g",
            "$scrypt$ln=30,r=8,p=1$c29tZXNhbHQ$aGFzaGhhc2g",
            "$scrypt$ln=10,r=8,p=17$c29tZXNhbHQ$aGFzaGhhc2g",
            "$2b$17$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        ] {
            assert!(
                matches!(
                    verify_password(text, b"pw", b"", false, &Bounds::default(), &cancel),
                    Err(KernelError::OutOfRange(_))
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn bcrypt_refuses_long_passwords_unless_told_to_cut() {
        let cancel = Cancel::new();
        let long = [b'a'; 73];
        let scheme = Scheme::Bcrypt {
            minor: b'b',
            cost: 4,
        };
        assert!(matches!(
            hash_password(&long, &request(scheme.clone()), &cancel),
            Err(KernelError::OutOfRange(_))
        ));
        let mut cut = request(scheme);
        cut.truncate = true;
        let text = hash_password(&long, &cut, &cancel).unwrap();
        assert!(
            verify_password(&text, &long[..72], b"", false, &Bounds::default(), &cancel).unwrap()
        );
        // exactly 72 bytes is whole, and needs no option
        assert!(hash_password(
            &long[..72],
            &request(Scheme::Bcrypt {
                minor: b'b',
                cost: 4
            }),
            &cancel
        )
        .is_ok());
    }

    #[test]
    fn mutated_strings_never_verify_a_wrong_password() {
        // Deterministic mutations of good strings: every one is an error or `false`.
        let cancel = Cancel::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for scheme in small_schemes() {
            let text = hash_password(b"right", &request(scheme), &cancel).unwrap();
            for _ in 0..300 {
                let mut bytes = text.clone().into_bytes();
                let at = next() as usize % bytes.len();
                match next() % 3 {
                    0 => bytes[at] = b"$,=0123456789aZ+/."[next() as usize % 17],
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, b"$,=09aZ"[next() as usize % 7]),
                }
                let Ok(mutated) = String::from_utf8(bytes) else {
                    continue;
                };
                if let Ok(true) =
                    verify_password(&mutated, b"wrong", b"", false, &Bounds::default(), &cancel)
                {
                    panic!("{mutated} verified a wrong password");
                }
            }
        }
    }
}
