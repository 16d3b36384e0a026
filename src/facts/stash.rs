//! Bytes out of memory: an append-only store of blobs, each read back by the reference `put`
//! gave (its offset and length in one word, so that one read brings it back). The held
//! side of the joins (facts/held.rs) keeps its nodes there, so that a national day's PJ index
//! and returns, and the invoices they point to, do not live in memory.
//!
//! A stash lives in memory, or in a file of its own that no other process can open: created
//! new (readable by its user alone) in the folder given and removed from that folder at once,
//! so that nothing is left behind, even after a crash.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Bytes kept in memory before they go to the file.
const BUFFER: usize = 1 << 20;

/// An append-only store of blobs: `put` gives the reference `get` reads the blob back by.
#[derive(Debug, Default)]
pub struct Stash {
    /// The file, when the stash is on disk; its first `written` bytes are there.
    file: Option<File>,
    written: u64,
    /// The bytes after `written`: all of them when the stash lives in memory.
    tail: Vec<u8>,
    /// Why writing to the file failed: the stash then keeps what follows in memory.
    failure: Option<String>,
}

/// The length of a blob, written before it.
const LEN: usize = 4;

/// Bits of a reference that hold the blob's length (0: longer, read before the blob) …
const LEN_BITS: u32 = 24;

/// Bits a reference uses: the two high bits of a word are left to whoever keeps a reference
/// beside other things (the held side's join cells).
pub const REF_BITS: u32 = 62;

/// … and those that hold its offset (a stash of at most 256 Gio).
const AT_BITS: u32 = REF_BITS - LEN_BITS;

impl Stash {
    /// A stash kept in memory.
    pub fn in_memory() -> Stash {
        Stash::default()
    }

    /// A stash in a new file of folder `dir`, removed from the folder as soon as it is open.
    pub fn in_dir(dir: &Path) -> io::Result<Stash> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static FILES: AtomicUsize = AtomicUsize::new(0);
        let n = FILES.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!("vigie-joint-{}-{n}-{nanos}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path)?;
        if let Err(e) = std::fs::remove_file(&path) {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        Ok(Stash {
            file: Some(file),
            ..Stash::default()
        })
    }

    /// Appends `blob`; returns the reference that reads it back.
    pub fn put(&mut self, blob: &[u8]) -> io::Result<u64> {
        let at = self.written + self.tail.len() as u64;
        let len = u32::try_from(blob.len()).map_err(|_| too_large())?;
        if at >= 1 << AT_BITS {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "plus de 256 Gio de données de jointure mises de côté",
            ));
        }
        self.tail.extend_from_slice(&len.to_le_bytes());
        self.tail.extend_from_slice(blob);
        if self.tail.len() >= BUFFER && self.failure.is_none() {
            if let Err(e) = self.flush() {
                self.failure = Some(e.to_string());
            }
        }
        // A length too large for the reference is read from before the blob.
        let known = if u64::from(len) < 1 << LEN_BITS {
            u64::from(len)
        } else {
            0
        };
        Ok(at << LEN_BITS | known)
    }

    /// Why the stash stopped writing to its file, if it did: what followed stayed in memory.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Writes what is in memory to the file (nothing for a stash in memory). A write that
    /// failed leaves `written` as it was: the bytes after it are read from memory.
    fn flush(&mut self) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.write_all(&self.tail)?;
        self.written += self.tail.len() as u64;
        self.tail.clear();
        Ok(())
    }

    /// The length of the blob of reference `blob`, when the reference holds it (`None` for a
    /// blob of 16 Mio or more, whose length is in the stash, and for an empty one).
    pub fn len_of(blob: u64) -> Option<u64> {
        Some(blob & ((1 << LEN_BITS) - 1)).filter(|&len| len > 0)
    }

    /// The blob of reference `blob` (as `put` gave it), into `out` (cleared first).
    pub fn get(&self, blob: u64, out: &mut Vec<u8>) -> io::Result<()> {
        let at = blob >> LEN_BITS;
        let mut len = blob & ((1 << LEN_BITS) - 1);
        if len == 0 {
            let mut prefix = [0u8; LEN];
            self.read(at, &mut prefix)?;
            len = u64::from(u32::from_le_bytes(prefix));
        }
        out.clear();
        out.resize(usize::try_from(len).map_err(|_| out_of_range())?, 0);
        self.read(at + LEN as u64, out)
    }

    /// Fills `buf` from offset `at`, from the file or from memory (a read may span both).
    fn read(&self, at: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut done = 0usize;
        if at < self.written {
            let on_disk = usize::try_from(self.written - at).unwrap_or(usize::MAX);
            let n = on_disk.min(buf.len());
            let (head, _) = buf.split_at_mut(n);
            read_file_at(self.file.as_ref(), head, at)?;
            done = n;
        }
        let rest = buf.get_mut(done..).ok_or_else(out_of_range)?;
        if rest.is_empty() {
            return Ok(());
        }
        let from = usize::try_from(at + done as u64 - self.written).map_err(|_| out_of_range())?;
        let end = from.checked_add(rest.len()).ok_or_else(out_of_range)?;
        let src = self.tail.get(from..end).ok_or_else(out_of_range)?;
        rest.copy_from_slice(src);
        Ok(())
    }
}

#[cfg(unix)]
fn read_file_at(file: Option<&File>, buf: &mut [u8], at: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.ok_or_else(out_of_range)?.read_exact_at(buf, at)
}

#[cfg(not(unix))]
fn read_file_at(file: Option<&File>, buf: &mut [u8], at: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    let file = file.ok_or_else(out_of_range)?;
    let mut done = 0;
    while done < buf.len() {
        let rest = buf.get_mut(done..).ok_or_else(out_of_range)?;
        let n = file.seek_read(rest, at + done as u64)?;
        if n == 0 {
            return Err(out_of_range());
        }
        done += n;
    }
    Ok(())
}

fn out_of_range() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "lecture hors des données mises de côté",
    )
}

fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "un nœud de plus de 4 Gio ne peut être mis de côté",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(mut stash: Stash) {
        let blobs: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| (0..(i % 700)).map(|b| (b ^ i) as u8).collect())
            .collect();
        let mut at = Vec::new();
        let mut out = Vec::new();
        for (i, b) in blobs.iter().enumerate() {
            at.push(stash.put(b).expect("put"));
            // What was just put reads back at once, whether or not it reached the file.
            stash.get(at[i], &mut out).expect("get");
            assert_eq!(&out, b);
        }
        for (b, at) in blobs.iter().zip(&at) {
            stash.get(*at, &mut out).expect("get");
            assert_eq!(&out, b);
        }
        assert!(stash.get(u64::MAX / 2, &mut out).is_err());
        assert!(stash
            .get(((u64::MAX / 2) >> LEN_BITS) << LEN_BITS, &mut out)
            .is_err());
    }

    #[test]
    fn blobs_read_back_from_memory() {
        round_trip(Stash::in_memory());
    }

    #[test]
    fn blobs_read_back_from_a_file_that_leaves_no_trace() {
        let dir = std::env::temp_dir().join(format!("vigie-stash-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let stash = Stash::in_dir(&dir).expect("stash");
        assert!(stash.file.is_some());
        assert_eq!(std::fs::read_dir(&dir).expect("list").count(), 0);
        round_trip(stash);
        std::fs::remove_dir(&dir).expect("empty");
    }
}
