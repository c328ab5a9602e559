//! The byte stream under the CSV parser: the file as stored (hashed and
//! counted as it is read), gunzipped when it starts with the gzip magic
//! bytes, with a leading UTF-8 byte order mark removed. Knows nothing about
//! CSV and must never read more than a buffer's worth ahead.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use super::error::ImportError;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BOM: [u8; 3] = [0xef, 0xbb, 0xbf];

/// The decoded text of a stored file, ready for the CSV parser.
pub(crate) type Source = BomStripped<Decoded<Stored>>;

/// Opens `path`, deciding on gzip by content: uploads arrive as spooled
/// temp files whose names say nothing. `hash` turns on SHA-256 of the
/// stored bytes, which only the scan needs.
pub(crate) fn open(path: &Path, hash: bool) -> Result<Source, ImportError> {
    let mut file = File::open(path)
        .map_err(|e| ImportError::file(format!("the file could not be opened: {e}")))?;
    let mut magic = [0u8; 2];
    let read = read_up_to(&mut file, &mut magic)
        .and_then(|n| file.seek(SeekFrom::Start(0)).map(|_| n))
        .map_err(|e| ImportError::file(format!("the file could not be read: {e}")))?;
    let stored = Stored {
        inner: file,
        hasher: hash.then(Sha256::new),
        bytes: 0,
    };
    let decoded = if read == magic.len() && magic == GZIP_MAGIC {
        Decoded::Gzip(MultiGzDecoder::new(stored))
    } else {
        Decoded::Plain(stored)
    };
    Ok(BomStripped::new(decoded))
}

/// Reads until `buf` is full or the reader ends; returns how much was read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The file as stored, counting and optionally hashing every byte read, so
/// the digest describes exactly what was uploaded (compressed or not).
pub(crate) struct Stored {
    inner: File,
    hasher: Option<Sha256>,
    bytes: u64,
}

impl Stored {
    /// Stored bytes read so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Reads whatever the decoder left unread (a gzip trailer it did not
    /// need, say) so the digest covers the whole file, then returns the
    /// lowercase hex SHA-256 and the byte count.
    pub(crate) fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        let hex = self
            .hasher
            .map(|h| h.finalize().iter().map(|b| format!("{b:02x}")).collect())
            .unwrap_or_default();
        Ok((hex, self.bytes))
    }
}

impl Read for Stored {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = buf.get(..n).unwrap_or_default();
        if let Some(h) = self.hasher.as_mut() {
            h.update(chunk);
        }
        self.bytes += chunk.len() as u64;
        Ok(n)
    }
}

/// Plain or gzip-compressed content. `MultiGzDecoder` because `cat a.gz
/// b.gz` (and pigz/bgzip output) is several gzip members in one file.
pub(crate) enum Decoded<R: Read> {
    Plain(R),
    Gzip(MultiGzDecoder<R>),
}

impl<R: Read> Decoded<R> {
    pub(crate) fn get_ref(&self) -> &R {
        match self {
            Decoded::Plain(r) => r,
            Decoded::Gzip(d) => d.get_ref(),
        }
    }

    pub(crate) fn into_inner(self) -> R {
        match self {
            Decoded::Plain(r) => r,
            Decoded::Gzip(d) => d.into_inner(),
        }
    }

    pub(crate) fn is_gzip(&self) -> bool {
        matches!(self, Decoded::Gzip(_))
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Plain(r) => r.read(buf),
            Decoded::Gzip(d) => d.read(buf),
        }
    }
}

/// Drops one leading UTF-8 byte order mark, which Excel and Notepad write
/// and which would otherwise become part of the first column's name.
pub(crate) struct BomStripped<R> {
    inner: R,
    /// The first bytes, held back until we know they are not a BOM.
    head: [u8; 3],
    head_len: usize,
    head_pos: usize,
    started: bool,
}

impl<R: Read> BomStripped<R> {
    fn new(inner: R) -> Self {
        BomStripped {
            inner,
            head: [0; 3],
            head_len: 0,
            head_pos: 0,
            started: false,
        }
    }

    pub(crate) fn get_ref(&self) -> &R {
        &self.inner
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for BomStripped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.started {
            // A decoder may hand out fewer than three bytes at a time, so
            // collect them before deciding.
            self.head_len = read_up_to(&mut self.inner, &mut self.head)?;
            self.started = true;
            if self.head == BOM {
                self.head_pos = self.head_len;
            }
        }
        let pending = self
            .head
            .get(self.head_pos..self.head_len)
            .unwrap_or_default();
        if pending.is_empty() {
            return self.inner.read(buf);
        }
        let n = pending.len().min(buf.len());
        for (dst, src) in buf.iter_mut().zip(pending) {
            *dst = *src;
        }
        self.head_pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn decoded(bytes: &[u8]) -> Vec<u8> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        let mut out = Vec::new();
        open(file.path(), false)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn strips_one_leading_bom_only() {
        assert_eq!(decoded(b"\xef\xbb\xbfa,b\n"), b"a,b\n");
        assert_eq!(decoded(b"a\xef\xbb\xbf"), b"a\xef\xbb\xbf");
        assert_eq!(decoded(b"\xef\xbb\xbf"), b"");
        assert_eq!(decoded(b"ab"), b"ab");
        assert_eq!(decoded(b""), b"");
    }

    #[test]
    fn gunzips_by_magic_bytes_including_several_members() {
        let mut two = gzip(b"a,b\n1,2\n");
        two.extend(gzip(b"3,4\n"));
        assert_eq!(decoded(&two), b"a,b\n1,2\n3,4\n");
        assert_eq!(decoded(&gzip(b"\xef\xbb\xbfx\n")), b"x\n");
        // A lone 0x1f is not gzip.
        assert_eq!(decoded(b"\x1f"), b"\x1f");
    }

    #[test]
    fn hashes_the_stored_bytes() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&gzip(b"a\n1\n")).unwrap();
        let mut src = open(file.path(), true).unwrap();
        src.read_to_end(&mut Vec::new()).unwrap();
        let (hex, bytes) = src.into_inner().into_inner().finish().unwrap();
        let stored = std::fs::read(file.path()).unwrap();
        let expected: String = Sha256::digest(&stored)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!((hex, bytes), (expected, stored.len() as u64));
    }
}
