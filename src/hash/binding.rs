//! napi glue for hashing. Inputs arrive as byte views (index.js turns strings, Buffers, any
//! TypedArray, DataView or ArrayBuffer into a Uint8Array over the same bytes); digests go back
//! as one Uint8Array, which index.js encodes.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::kernel::{self, Algorithm};
use crate::cancel::Cancel;
use crate::control::CancelToken;
use crate::error::KernelResult;
use crate::task::{spawn, Call, Kernel};

pub struct HashBytes {
    input: Uint8Array,
    algorithm: String,
}

impl Kernel for HashBytes {
    type Output = Uint8Array;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<Uint8Array> {
        let algorithm = Algorithm::parse(&self.algorithm)?;
        Ok(Uint8Array::new(kernel::hash_bytes(
            algorithm,
            &self.input,
            cancel,
        )?))
    }
}

#[napi(js_name = "hashBytes")]
pub fn hash_bytes(input: Uint8Array, algorithm: String, token: &CancelToken) -> Call<HashBytes> {
    spawn(HashBytes { input, algorithm }, token)
}

pub struct HashMany {
    inputs: Vec<Uint8Array>,
    algorithm: String,
}

impl Kernel for HashMany {
    type Output = Uint8Array;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<Uint8Array> {
        let algorithm = Algorithm::parse(&self.algorithm)?;
        let views: Vec<&[u8]> = self.inputs.iter().map(|b| &b[..]).collect();
        Ok(Uint8Array::new(kernel::hash_many(
            algorithm, &views, cancel,
        )?))
    }
}

#[napi(js_name = "hashMany")]
pub fn hash_many(
    inputs: Vec<Uint8Array>,
    algorithm: String,
    token: &CancelToken,
) -> Call<HashMany> {
    spawn(HashMany { inputs, algorithm }, token)
}

pub struct HashFiles {
    paths: Vec<String>,
    algorithm: String,
}

impl Kernel for HashFiles {
    type Output = Uint8Array;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<Uint8Array> {
        let algorithm = Algorithm::parse(&self.algorithm)?;
        Ok(Uint8Array::new(kernel::hash_files(
            algorithm,
            &self.paths,
            cancel,
        )?))
    }
}

#[napi(js_name = "hashFiles")]
pub fn hash_files(paths: Vec<String>, algorithm: String, token: &CancelToken) -> Call<HashFiles> {
    spawn(HashFiles { paths, algorithm }, token)
}

/// A running hash over a stream's chunks (`hashStream`): one update in flight at a time, each
/// a native call that takes the chunks gathered since the last one.
#[napi]
pub struct HashState {
    hasher: std::sync::Arc<std::sync::Mutex<Option<kernel::Hasher>>>,
}

#[napi]
impl HashState {
    #[napi(constructor)]
    pub fn new(algorithm: String) -> Result<Self> {
        let algorithm = Algorithm::parse(&algorithm)
            .map_err(|e| Error::new(Status::InvalidArg, e.to_string()))?;
        Ok(Self {
            hasher: std::sync::Arc::new(std::sync::Mutex::new(Some(kernel::Hasher::new(
                algorithm,
            )))),
        })
    }

    /// Feeds `chunks`; resolves to the number of bytes they held.
    #[napi]
    pub fn update(&self, chunks: Vec<Uint8Array>, token: &CancelToken) -> Call<HashUpdate> {
        spawn(
            HashUpdate {
                hasher: self.hasher.clone(),
                chunks,
            },
            token,
        )
    }

    /// The digest of everything fed; the state cannot be fed after this.
    #[napi]
    pub fn digest(&self) -> Result<Uint8Array> {
        let mut guard = self
            .hasher
            .try_lock()
            .map_err(|_| Error::new(Status::GenericFailure, "an update is still running"))?;
        let hasher = guard
            .take()
            .ok_or_else(|| Error::new(Status::GenericFailure, "the digest was already taken"))?;
        Ok(Uint8Array::new(hasher.finish()))
    }
}

pub struct HashUpdate {
    hasher: std::sync::Arc<std::sync::Mutex<Option<kernel::Hasher>>>,
    chunks: Vec<Uint8Array>,
}

impl Kernel for HashUpdate {
    type Output = f64;
    fn run(&mut self, cancel: &Cancel) -> KernelResult<f64> {
        let mut guard = self.hasher.try_lock().map_err(|_| {
            crate::error::KernelError::InvalidValue("a stream's updates must not overlap".into())
        })?;
        let hasher = guard.as_mut().ok_or_else(|| {
            crate::error::KernelError::InvalidValue("the digest was already taken".into())
        })?;
        let total: usize = self.chunks.iter().map(|c| c.len()).sum();
        cancel.set_total(total as u64);
        for chunk in &self.chunks {
            for piece in chunk.chunks(kernel::CHUNK) {
                cancel.check()?;
                hasher.update(piece);
                cancel.advance(piece.len() as u64);
            }
        }
        Ok(total as f64)
    }
}
