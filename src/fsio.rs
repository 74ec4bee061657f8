//! Files read by kernels (hashFile, compressFile, decompressFile, readCsv) and written by
//! them (compressFile, decompressFile), with the errors and the semantics `fs` has.
//!
//! Reading: a source that can block (a FIFO with no writer, a terminal, a slow device) is read
//! without blocking, polled every few milliseconds, so that an abort ends the call (and frees
//! its process slot) as promptly as it ends a computation. Regular files are read as usual.
//!
//! Writing: [`AtomicFile`] writes beside the destination under a short random name and renames
//! it over the destination when complete, keeping what `fs.writeFile` would keep: the mode of
//! an existing file, the link of a symbolic link; a destination that is a directory or not a
//! regular file is refused before any work.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::cancel::Cancel;
use crate::error::KernelError;

/// How long one wait for a blocking source lasts before the cancel flag is looked at again.
const POLL_MS: i32 = 10;

/// A file opened for reading; see the module's notes.
pub struct Source {
    file: File,
    path: String,
    /// A regular file (or a directory, whose read fails as `fs` reports it): plain reads.
    regular: bool,
    size: u64,
}

fn io(error: std::io::Error, syscall: &'static str, path: &str) -> KernelError {
    KernelError::io(error, syscall, path)
}

impl Source {
    /// Opens `path` for reading. Never blocks: opening a FIFO with no writer returns at once.
    pub fn open(path: &str) -> Result<Self, KernelError> {
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(libc::O_NONBLOCK);
        }
        let file = options.open(path).map_err(|e| io(e, "open", path))?;
        let meta = file.metadata().map_err(|e| io(e, "fstat", path))?;
        let regular = meta.is_file() || meta.is_dir();
        #[cfg(unix)]
        if regular {
            // Plain blocking reads for regular files (O_NONBLOCK means nothing to them, but a
            // file replaced by a FIFO later is not our concern: this descriptor is a file).
            use std::os::unix::io::AsRawFd;
            let fd = file.as_raw_fd();
            // SAFETY: fcntl on a descriptor this File owns.
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFL);
                if flags >= 0 {
                    libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
                }
            }
        }
        Ok(Self {
            file,
            path: path.to_string(),
            regular,
            size: if meta.is_file() { meta.len() } else { 0 },
        })
    }

    /// The size of a regular file at open time (0 for anything else): a hint only.
    pub fn size_hint(&self) -> u64 {
        self.size
    }

    pub fn is_regular_file(&self) -> bool {
        self.regular
    }

    /// The permission bits (and set-id bits) of the source, for a new destination.
    pub fn mode(&self) -> Option<u32> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            self.file
                .metadata()
                .ok()
                .map(|m| m.permissions().mode() & 0o7777)
        }
        #[cfg(not(unix))]
        None
    }

    /// The device and inode of the source, to refuse a destination that is the same file.
    pub fn identity(&self) -> Option<(u64, u64)> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            self.file.metadata().ok().map(|m| (m.dev(), m.ino()))
        }
        #[cfg(not(unix))]
        None
    }

    /// One read: some bytes, or 0 at the end. A source that has nothing yet is waited for in
    /// slices of [`POLL_MS`], the cancel flag checked between them.
    pub fn read(&mut self, buf: &mut [u8], cancel: &Cancel) -> Result<usize, KernelError> {
        loop {
            if !self.regular {
                self.wait_readable(cancel)?;
            }
            match self.file.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => cancel.check()?,
                Err(e) => return Err(io(e, "read", &self.path)),
            }
        }
    }

    /// Fills `buf` as far as the source allows; returns the bytes read (less than asked only
    /// at the end).
    pub fn read_full(&mut self, buf: &mut [u8], cancel: &Cancel) -> Result<usize, KernelError> {
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.read(&mut buf[filled..], cancel)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        Ok(filled)
    }

    #[cfg(unix)]
    fn wait_readable(&self, cancel: &Cancel) -> Result<(), KernelError> {
        use std::os::unix::io::AsRawFd;
        loop {
            cancel.check()?;
            let mut fd = libc::pollfd {
                fd: self.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one pollfd that lives across the call.
            let n = unsafe { libc::poll(&mut fd, 1, POLL_MS) };
            if n > 0 {
                // Readable, or the writer left (POLLHUP: the read says 0), or an error the
                // read reports.
                return Ok(());
            }
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(io(e, "read", &self.path));
                }
            }
        }
    }

    #[cfg(not(unix))]
    fn wait_readable(&self, cancel: &Cancel) -> Result<(), KernelError> {
        cancel.check()
    }

    /// A `std::io::Read` over this source that stops with an error once `cancel` is set (the
    /// caller maps errors to [`KernelError::Aborted`] when the flag is set).
    pub fn reader<'a>(&'a mut self, cancel: &'a Cancel) -> SourceReader<'a> {
        SourceReader {
            source: self,
            cancel,
        }
    }
}

/// See [`Source::reader`].
pub struct SourceReader<'a> {
    source: &'a mut Source,
    cancel: &'a Cancel,
}

impl Read for SourceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.source.read(buf, self.cancel).map_err(|e| match e {
            KernelError::Io { error, .. } => error,
            // Carried whole (an abort stays an abort), unwrapped by whoever reads.
            other => std::io::Error::other(other),
        })
    }
}

/// A file being written under a temporary name beside its destination; dropped without
/// [`AtomicFile::commit`], the temporary file is removed (before the call's Promise settles:
/// the kernel drops it before it returns).
pub struct AtomicFile {
    file: Option<File>,
    temp: PathBuf,
    /// Where the bytes go: the destination, or the file a symbolic link there points to.
    target: PathBuf,
    /// The path the caller gave, for error messages.
    destination: PathBuf,
}

/// A short random name beside `target`: any name `fs` can create has room for it, and a stale
/// one left by a killed process never collides with a later call (creation is exclusive).
fn temp_name(target: &Path, attempt: u32) -> PathBuf {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded from the OS's random source once per process (and per thread).
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.write_u32(attempt);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    h.write_u64(nanos);
    target.with_file_name(format!(".offload-{:016x}.tmp", h.finish()))
}

/// The file a write to `destination` reaches: `destination` itself, or for a symbolic link the
/// file it points to (which may not exist yet, as `fs.writeFile` would create it).
fn resolve_target(destination: &Path) -> Result<PathBuf, KernelError> {
    let mut target = destination.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&target) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&target)
                    .map_err(|e| KernelError::io(e, "readlink", destination))?;
                target = match target.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            _ => return Ok(target),
        }
    }
    Err(KernelError::io(
        std::io::Error::from_raw_os_error(libc_eloop()),
        "open",
        destination,
    ))
}

fn libc_eloop() -> i32 {
    #[cfg(unix)]
    {
        libc::ELOOP
    }
    #[cfg(not(unix))]
    {
        40
    }
}

impl AtomicFile {
    /// Checks `destination` (before any work is done) and creates the temporary file beside
    /// the file it reaches. `source` names the input: a destination that is the same file is
    /// refused, and a new destination takes the source's permission bits (as `gzip -k` does);
    /// an existing one keeps its own mode (and owner, where allowed).
    pub fn create(destination: &Path, source: Option<&Source>) -> Result<Self, KernelError> {
        let target = resolve_target(destination)?;
        let existing = match std::fs::metadata(&target) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(KernelError::io(e, "open", destination)),
        };
        if let Some(meta) = &existing {
            if meta.is_dir() {
                return Err(KernelError::io(
                    std::io::Error::from_raw_os_error(21), // EISDIR
                    "open",
                    destination,
                ));
            }
            if !meta.is_file() {
                return Err(KernelError::InvalidValue(format!(
                    "The destination {} is not a regular file (a device, FIFO or socket); \
                     offload writes only regular files",
                    quoted(destination)
                )));
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                if source.and_then(Source::identity) == Some((meta.dev(), meta.ino())) {
                    return Err(KernelError::InvalidValue(format!(
                        "The destination {} is the source file itself",
                        quoted(destination)
                    )));
                }
            }
        }
        let mut attempt = 0;
        let (file, temp) = loop {
            let temp = temp_name(&target, attempt);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)
            {
                Ok(file) => break (file, temp),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => {
                    attempt += 1;
                }
                Err(e) => return Err(KernelError::io(e, "open", destination)),
            }
        };
        let made = Self {
            file: Some(file),
            temp,
            target,
            destination: destination.to_path_buf(),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let file = made.file.as_ref().expect("just opened");
            let mode = match &existing {
                Some(meta) => {
                    // The owner first: chown clears set-id bits, which the mode then restores.
                    let _ = std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid()));
                    Some(meta.mode() & 0o7777)
                }
                None => source.and_then(Source::mode),
            };
            if let Some(mode) = mode {
                file.set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(|e| KernelError::io(e, "chmod", &made.destination))?;
            }
        }
        Ok(made)
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), KernelError> {
        use std::io::Write;
        let file = self.file.as_mut().expect("open until committed");
        file.write_all(bytes)
            .map_err(|e| KernelError::io(e, "write", &self.destination))
    }

    /// Closes the file and renames it over the file the destination reaches.
    pub fn commit(mut self) -> Result<(), KernelError> {
        drop(self.file.take());
        std::fs::rename(&self.temp, &self.target)
            .map_err(|e| KernelError::io(e, "rename", &self.destination))?;
        self.temp = PathBuf::new();
        Ok(())
    }
}

/// The temporary files [`AtomicFile`] left in `dir` (for tests: there should be none).
#[cfg(test)]
pub fn temporaries_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".offload-") && n.ends_with(".tmp"))
        .collect()
}

fn quoted(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy())
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("offload-fsio-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write_through(
        dest: &Path,
        source: Option<&Source>,
        bytes: &[u8],
    ) -> Result<(), KernelError> {
        let mut f = AtomicFile::create(dest, source)?;
        f.write_all(bytes)?;
        f.commit()
    }

    #[test]
    fn modes_links_and_refusals_follow_fs() {
        let dir = scratch("modes");
        let src_path = dir.join("src");
        std::fs::write(&src_path, b"x").unwrap();
        std::fs::set_permissions(&src_path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let src = Source::open(src_path.to_str().unwrap()).unwrap();
        // A new destination takes the source's bits.
        let fresh = dir.join("fresh");
        write_through(&fresh, Some(&src), b"a").unwrap();
        assert_eq!(
            std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o7777,
            0o640
        );
        // An existing one keeps its own.
        std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_through(&fresh, Some(&src), b"b").unwrap();
        assert_eq!(
            std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        assert_eq!(std::fs::read(&fresh).unwrap(), b"b");
        // A link stays a link; the file it points to gets the bytes.
        let link = dir.join("link");
        std::os::unix::fs::symlink("fresh", &link).unwrap();
        write_through(&link, Some(&src), b"c").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&fresh).unwrap(), b"c");
        // A dangling link creates the file it names.
        let dangling = dir.join("dangling");
        std::os::unix::fs::symlink("made-by-link", &dangling).unwrap();
        write_through(&dangling, None, b"d").unwrap();
        assert_eq!(std::fs::read(dir.join("made-by-link")).unwrap(), b"d");
        // Directories, devices and the source itself are refused before a byte is written.
        let err = write_through(&dir, None, b"e").unwrap_err();
        assert!(
            matches!(&err, KernelError::Io { error, .. } if error.raw_os_error() == Some(21)),
            "{err}"
        );
        let err = write_through(Path::new("/dev/null"), None, b"e").unwrap_err();
        assert!(matches!(err, KernelError::InvalidValue(_)), "{err}");
        let err = write_through(&src_path, Some(&src), b"e").unwrap_err();
        assert!(matches!(err, KernelError::InvalidValue(_)), "{err}");
        assert_eq!(std::fs::read(&src_path).unwrap(), b"x");
        // A name as long as the file system allows still works (the temporary name is short).
        let long = dir.join("n".repeat(255));
        write_through(&long, None, b"f").unwrap();
        assert_eq!(std::fs::read(&long).unwrap(), b"f");
        let left = temporaries_in(&dir);
        assert!(left.is_empty(), "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fifo_with_no_writer_yields_to_the_cancel_flag() {
        let dir = scratch("fifo");
        let fifo = dir.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let mut source = Source::open(fifo.to_str().unwrap()).unwrap();
        let cancel = std::sync::Arc::new(Cancel::new());
        let flag = cancel.clone();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            flag.cancel();
        });
        let mut buf = [0u8; 16];
        let err = source.read(&mut buf, &cancel).unwrap_err();
        assert!(matches!(err, KernelError::Aborted), "{err}");
        stopper.join().unwrap();
        // With a writer, the bytes arrive and the end is seen.
        let path = fifo.clone();
        let writer = std::thread::spawn(move || std::fs::write(path, b"hello").unwrap());
        let mut source = Source::open(fifo.to_str().unwrap()).unwrap();
        let mut buf = [0u8; 16];
        let n = source.read_full(&mut buf, &Cancel::new()).unwrap();
        writer.join().unwrap();
        assert_eq!(&buf[..n], b"hello");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
