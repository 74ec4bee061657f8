use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The result of a kernel.
pub type KernelResult<T> = std::result::Result<T, KernelError>;

/// Why a kernel did not produce a result. The binding maps each variant to one JS error class
/// and Node-style `code` (see `task.rs`); kernels never build JS errors themselves.
#[derive(Debug)]
pub enum KernelError {
    /// An argument has the right type but an unusable value (`TypeError`, `ERR_INVALID_ARG_VALUE`).
    InvalidValue(String),
    /// A number or size outside what the operation accepts (`RangeError`, `ERR_OUT_OF_RANGE`).
    OutOfRange(String),
    /// The result or a working buffer could not be allocated (`RangeError`, `ERR_OUT_OF_MEMORY`).
    OutOfMemory(String),
    /// The caller's `AbortSignal` fired (`AbortError`, `ABORT_ERR`).
    Aborted,
    /// A file operation failed; carries what `fs` would report.
    Io {
        error: std::io::Error,
        syscall: &'static str,
        path: String,
    },
    /// A panic inside the kernel, caught before it could take the process down.
    Panic(String),
    /// Compressed input the decoder rejects (`Error` with node:zlib's `code` and `errno`, such
    /// as `Z_DATA_ERROR` / -3, or libzstd's and brotli's error names).
    Codec {
        code: &'static str,
        errno: i32,
        message: String,
    },
    /// A malformed CSV file (`Error` with `code` such as `ERR_CSV_INVALID_VALUE` and the `line`,
    /// `column` and `text` it names).
    Csv {
        code: &'static str,
        message: String,
        line: u64,
        column: String,
        text: String,
    },
    /// An output would pass its size limit (`RangeError`, `ERR_BUFFER_TOO_LARGE`, as node's).
    BufferTooLarge(String),
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelError::InvalidValue(m)
            | KernelError::OutOfRange(m)
            | KernelError::OutOfMemory(m)
            | KernelError::BufferTooLarge(m) => f.write_str(m),
            KernelError::Codec { message, .. } | KernelError::Csv { message, .. } => {
                f.write_str(message)
            }
            KernelError::Aborted => f.write_str("The operation was aborted"),
            KernelError::Io {
                error,
                syscall,
                path,
            } => write!(f, "{error}, {syscall} '{path}'"),
            KernelError::Panic(m) => {
                write!(f, "offload internal error (a Rust panic was caught): {m}")
            }
        }
    }
}

impl std::error::Error for KernelError {}

impl KernelError {
    /// A failed file operation, as `fs` reports it: the OS error, the call, the path.
    pub fn io(
        error: std::io::Error,
        syscall: &'static str,
        path: impl AsRef<std::path::Path>,
    ) -> Self {
        KernelError::Io {
            error,
            syscall,
            path: path.as_ref().to_string_lossy().into_owned(),
        }
    }
}

/// The largest single buffer (a result or a working buffer) one call may allocate, in bytes.
/// A request over it fails before allocating, so a typo such as a 100000 x 100000 image is an
/// error, not minutes of swapping. `usize::MAX` (the default here) means no limit; the JS front
/// sets it from `configure({ maxAllocation })`.
static MAX_ALLOCATION: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Sets the per-buffer allocation limit, in bytes.
pub fn set_max_allocation(bytes: usize) {
    MAX_ALLOCATION.store(bytes, Ordering::Relaxed);
}

/// The per-buffer allocation limit in force, in bytes.
pub fn max_allocation() -> usize {
    MAX_ALLOCATION.load(Ordering::Relaxed)
}

/// `Err(OutOfMemory)` when a buffer of `bytes` is over the allocation limit. Used before every
/// large allocation, including the ones a third-party crate makes for us.
pub fn check_allocation(bytes: u128, what: &str) -> Result<(), KernelError> {
    let limit = max_allocation();
    if bytes > limit as u128 {
        return Err(KernelError::OutOfMemory(format!(
            "Cannot allocate {what}: {bytes} bytes is more than the limit of {limit} bytes \
             per buffer (see configure({{ maxAllocation }}))"
        )));
    }
    Ok(())
}

/// Allocates a vector of `len` elements without aborting the process when memory is short.
pub fn try_vec<T: Clone>(len: usize, fill: T, what: &str) -> Result<Vec<T>, KernelError> {
    let mut v = Vec::new();
    try_reserve(&mut v, len, what)?;
    v.resize(len, fill);
    Ok(v)
}

/// Types for which all-zero bytes are a valid value, so a zeroed allocation is initialised.
///
/// # Safety
/// Implement only for plain data whose every field accepts zero bytes.
pub unsafe trait Zeroable: Copy {}

macro_rules! zeroable {
    ($($t:ty),*) => {$(unsafe impl Zeroable for $t {})*};
}
zeroable!(u8, u16, u32, u64, usize, i8, i16, i32, i64, f32, f64);

/// A zero-filled vector, allocated fallibly. The zeroing is lazy (fresh pages from the OS read as
/// zero), so this costs nothing until the memory is written, unlike `vec![0; n]` after a
/// `try_reserve`, which writes every byte once more.
pub fn try_zeroed_vec<T: Zeroable>(len: usize, what: &str) -> Result<Vec<T>, KernelError> {
    let too_big = || {
        KernelError::OutOfMemory(format!(
            "Cannot allocate {what}: {len} elements ({} bytes) do not fit in memory",
            (len as u128) * (std::mem::size_of::<T>() as u128)
        ))
    };
    if len == 0 || std::mem::size_of::<T>() == 0 {
        return Ok(Vec::new());
    }
    check_allocation((len as u128) * (std::mem::size_of::<T>() as u128), what)?;
    let layout = std::alloc::Layout::array::<T>(len).map_err(|_| too_big())?;
    // SAFETY: the layout has a non-zero size; zero bytes are a valid T (Zeroable).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return Err(too_big());
    }
    // SAFETY: allocated by the global allocator with Vec<T>'s own layout for `len` elements.
    Ok(unsafe { Vec::from_raw_parts(ptr.cast::<T>(), len, len) })
}

/// `Vec::try_reserve` with an error that says what could not be allocated and how big it was.
pub fn try_reserve<T>(v: &mut Vec<T>, additional: usize, what: &str) -> Result<(), KernelError> {
    let total = (v.len() as u128 + additional as u128) * (std::mem::size_of::<T>() as u128);
    check_allocation(total, what)?;
    v.try_reserve_exact(additional).map_err(|_| {
        let bytes = (additional as u128) * (std::mem::size_of::<T>() as u128);
        KernelError::OutOfMemory(format!(
            "Cannot allocate {what}: {additional} elements ({bytes} bytes) do not fit in memory"
        ))
    })
}

/// What Node (libuv) calls an OS error: `code` such as `ENOENT`, its description, and the
/// negative `errno` number Node reports.
pub struct ErrnoInfo {
    pub code: String,
    pub description: String,
    pub errno: i32,
}

/// The libuv name and text for an I/O error, as `fs` shows them.
pub fn errno_info(error: &std::io::Error) -> ErrnoInfo {
    let raw = error.raw_os_error().unwrap_or(0);
    // libuv's names and texts for the errors file reads meet (Linux numbering).
    let known: &[(i32, &str, &str)] = &[
        (1, "EPERM", "operation not permitted"),
        (2, "ENOENT", "no such file or directory"),
        (4, "EINTR", "interrupted system call"),
        (5, "EIO", "i/o error"),
        (6, "ENXIO", "no such device or address"),
        (9, "EBADF", "bad file descriptor"),
        (11, "EAGAIN", "resource temporarily unavailable"),
        (12, "ENOMEM", "not enough memory"),
        (13, "EACCES", "permission denied"),
        (14, "EFAULT", "bad address in system call argument"),
        (16, "EBUSY", "resource busy or locked"),
        (17, "EEXIST", "file already exists"),
        (18, "EXDEV", "cross-device link not permitted"),
        (19, "ENODEV", "no such device"),
        (20, "ENOTDIR", "not a directory"),
        (21, "EISDIR", "illegal operation on a directory"),
        (22, "EINVAL", "invalid argument"),
        (23, "ENFILE", "file table overflow"),
        (24, "EMFILE", "too many open files"),
        (26, "ETXTBSY", "text file is busy"),
        (27, "EFBIG", "file too large"),
        (28, "ENOSPC", "no space left on device"),
        (29, "ESPIPE", "invalid seek"),
        (30, "EROFS", "read-only file system"),
        (31, "EMLINK", "too many links"),
        (32, "EPIPE", "broken pipe"),
        (36, "ENAMETOOLONG", "name too long"),
        (39, "ENOTEMPTY", "directory not empty"),
        (40, "ELOOP", "too many symbolic links encountered"),
        (75, "EOVERFLOW", "value too large for defined data type"),
        (95, "ENOTSUP", "operation not supported on socket"),
        (122, "EDQUOT", "disk quota exceeded"),
    ];
    match known.iter().find(|(n, _, _)| *n == raw) {
        Some((n, code, text)) if cfg!(target_os = "linux") => ErrnoInfo {
            code: (*code).into(),
            description: (*text).into(),
            errno: -n,
        },
        _ => ErrnoInfo {
            code: "EIO".into(),
            description: error.to_string(),
            errno: -raw,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allocation_limit_refuses_before_allocating() {
        // Tests share the process: a limit far above anything the other tests allocate.
        set_max_allocation(1 << 50);
        let err = try_zeroed_vec::<u64>(1 << 48, "a test buffer").unwrap_err();
        assert!(
            matches!(&err, KernelError::OutOfMemory(m) if m.contains("limit")),
            "{err}"
        );
        let mut v: Vec<u8> = Vec::new();
        assert!(try_reserve(&mut v, (1 << 50) + 1, "a test buffer").is_err());
        assert!(check_allocation(1 << 50, "x").is_ok());
        set_max_allocation(usize::MAX);
        // Past the limit check, a request no machine can satisfy fails without aborting.
        let err = try_zeroed_vec::<u64>(1 << 60, "a huge buffer").unwrap_err();
        assert!(matches!(err, KernelError::OutOfMemory(_)));
    }
}
