//! napi glue for password hashing. lib/password.js checks the arguments, reads a stored string's
//! parameters with `passwordInspect` to refuse it before scheduling, and passes plain numbers.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::argon2::{Argon2Params, Variant, VERSION_13};
use super::encoded::{self, Scheme};
use super::scrypt::ScryptParams;
use super::{Bounds, HashRequest};
use crate::cancel::Cancel;
use crate::control::CancelToken;
use crate::error::{KernelError, KernelResult};
use crate::task::{spawn, Call, Kernel};

/// The costs of a new hash, checked by lib/password.js; only the chosen algorithm's are read.
#[napi(object)]
pub struct PasswordHashOptions {
    pub algorithm: String,
    pub memory_cost: u32,
    pub time_cost: u32,
    pub parallelism: u32,
    pub log_n: u32,
    pub r: u32,
    pub p: u32,
    pub cost: u32,
    pub hash_length: u32,
    pub truncate: bool,
}

pub struct PasswordHash {
    password: Uint8Array,
    options: PasswordHashOptions,
    salt: Option<Uint8Array>,
    secret: Option<Uint8Array>,
    associated_data: Option<Uint8Array>,
}

fn scheme_of(o: &PasswordHashOptions, associated_data: &[u8]) -> KernelResult<Scheme> {
    let argon2 = |variant| Scheme::Argon2 {
        params: Argon2Params {
            variant,
            version: VERSION_13,
            memory_kib: o.memory_cost,
            passes: o.time_cost,
            lanes: o.parallelism,
        },
        associated_data: associated_data.to_vec(),
    };
    Ok(match o.algorithm.as_str() {
        "argon2id" => argon2(Variant::Argon2id),
        "argon2i" => argon2(Variant::Argon2i),
        "argon2d" => argon2(Variant::Argon2d),
        "scrypt" => Scheme::Scrypt(ScryptParams {
            log_n: o.log_n,
            r: o.r,
            p: o.p,
        }),
        "bcrypt" => Scheme::Bcrypt {
            minor: b'b',
            cost: o.cost,
        },
        other => {
            return Err(KernelError::InvalidValue(format!(
                "unknown password algorithm '{other}'"
            )))
        }
    })
}

impl Kernel for PasswordHash {
    type Output = String;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<String> {
        let bytes = |b: &Option<Uint8Array>| b.as_ref().map(|b| b.to_vec()).unwrap_or_default();
        let request = HashRequest {
            scheme: scheme_of(&self.options, &bytes(&self.associated_data))?,
            salt: self.salt.as_ref().map(|s| s.to_vec()),
            hash_length: self.options.hash_length as usize,
            secret: bytes(&self.secret),
            truncate: self.options.truncate,
        };
        super::hash_password(&self.password, &request, cancel)
    }
}

#[napi(js_name = "passwordHash")]
pub fn password_hash(
    password: Uint8Array,
    options: PasswordHashOptions,
    salt: Option<Uint8Array>,
    secret: Option<Uint8Array>,
    associated_data: Option<Uint8Array>,
    token: &CancelToken,
) -> Call<PasswordHash> {
    spawn(
        PasswordHash {
            password,
            options,
            salt,
            secret,
            associated_data,
        },
        token,
    )
}

/// The bounds on a stored string's parameters, and bcrypt's truncation choice.
#[napi(object)]
pub struct PasswordVerifyOptions {
    pub max_memory: f64,
    pub max_time: u32,
    pub max_parallelism: u32,
    pub max_bcrypt_cost: u32,
    pub truncate: bool,
}

pub struct PasswordVerify {
    encoded: String,
    password: Uint8Array,
    secret: Option<Uint8Array>,
    options: PasswordVerifyOptions,
}

impl Kernel for PasswordVerify {
    type Output = bool;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<bool> {
        let bounds = Bounds {
            max_memory: self.options.max_memory as u64,
            max_time: self.options.max_time,
            max_parallelism: self.options.max_parallelism,
            max_bcrypt_cost: self.options.max_bcrypt_cost,
        };
        let secret = self.secret.as_ref().map(|s| &s[..]).unwrap_or(&[]);
        super::verify_password(
            &self.encoded,
            &self.password,
            secret,
            self.options.truncate,
            &bounds,
            cancel,
        )
    }
}

#[napi(js_name = "passwordVerify")]
pub fn password_verify(
    encoded: String,
    password: Uint8Array,
    secret: Option<Uint8Array>,
    options: PasswordVerifyOptions,
    token: &CancelToken,
) -> Call<PasswordVerify> {
    spawn(
        PasswordVerify {
            encoded,
            password,
            secret,
            options,
        },
        token,
    )
}

/// What a stored string says, read without hashing: `error` is set when it is not a hash.
#[napi(object)]
#[derive(Default)]
pub struct PasswordInfo {
    pub error: Option<String>,
    pub algorithm: Option<String>,
    pub version: Option<u32>,
    pub memory_cost: Option<u32>,
    pub time_cost: Option<u32>,
    pub parallelism: Option<u32>,
    pub log_n: Option<u32>,
    pub r: Option<u32>,
    pub p: Option<u32>,
    pub cost: Option<u32>,
    /// Bytes of memory a verify would take.
    pub memory: f64,
    pub salt_length: u32,
    pub hash_length: u32,
    pub has_associated_data: bool,
}

#[napi(js_name = "passwordInspect")]
pub fn password_inspect(encoded: String) -> PasswordInfo {
    let parsed = match encoded::parse(&encoded) {
        Ok(parsed) => parsed,
        Err(reason) => {
            return PasswordInfo {
                error: Some(reason),
                ..Default::default()
            }
        }
    };
    let mut info = PasswordInfo {
        memory: super::memory_bytes(&parsed.scheme) as f64,
        salt_length: parsed.salt.len() as u32,
        hash_length: parsed.hash.len() as u32,
        ..Default::default()
    };
    match &parsed.scheme {
        Scheme::Argon2 {
            params,
            associated_data,
        } => {
            info.algorithm = Some(params.variant.name().into());
            info.version = Some(params.version);
            info.memory_cost = Some(params.memory_kib);
            info.time_cost = Some(params.passes);
            info.parallelism = Some(params.lanes);
            info.has_associated_data = !associated_data.is_empty();
        }
        Scheme::Scrypt(p) => {
            info.algorithm = Some("scrypt".into());
            info.log_n = Some(p.log_n);
            info.r = Some(p.r);
            info.p = Some(p.p);
        }
        Scheme::Bcrypt { minor, cost } => {
            info.algorithm = Some("bcrypt".into());
            info.version = Some(*minor as u32);
            info.cost = Some(*cost);
        }
    }
    info
}
