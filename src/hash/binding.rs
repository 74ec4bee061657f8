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
