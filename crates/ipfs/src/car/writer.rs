//! CAR v1 writer: header first, then one section per block, nothing buffered beyond `W`'s own.

use std::io::{self, Write};

use cid::Cid;

use super::{WriteError, header};
use crate::block::MAX_BLOCK;
use crate::varint;

/// Writes a CAR v1 stream. The roots go in the header, so they must be known before the first
/// block; see `snapshot::SnapshotWriter` for how snapshots arrange that.
///
/// Blocks are written as given: the caller vouches that each CID matches its bytes (the snapshot
/// writer checks this). Wrap a file in a `BufWriter`: each section is three small writes.
pub struct CarWriter<W: Write> {
    out: W,
    offset: u64,
}

impl<W: Write> CarWriter<W> {
    /// Writes the header with `roots` (at least one).
    pub fn new(out: W, roots: &[Cid]) -> Result<Self, WriteError> {
        if roots.is_empty() {
            return Err(WriteError::NoRoots);
        }
        let mut writer = CarWriter { out, offset: 0 };
        let header = header::encode(roots);
        writer.put(&[varint_bytes(header.len() as u64).as_slice(), &header])?;
        Ok(writer)
    }

    /// Appends one section. Blocks over 1 MiB are refused: IPFS peers may not accept them.
    pub fn write_block(&mut self, cid: &Cid, data: &[u8]) -> Result<(), WriteError> {
        if data.len() > MAX_BLOCK {
            return Err(WriteError::BlockTooLarge {
                cid: *cid,
                size: data.len(),
                limit: MAX_BLOCK,
            });
        }
        let cid_len = cid.encoded_len();
        // A CID is at most ~100 bytes; encode it on the stack rather than allocate per block.
        let mut cid_buf = [0u8; 128];
        let mut cursor = &mut cid_buf[..];
        cid.write_bytes(&mut cursor).expect("a CID fits in 128 bytes");
        let len = varint_bytes((cid_len + data.len()) as u64);
        self.put(&[len.as_slice(), &cid_buf[..cid_len], data])
    }

    /// Bytes written so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> Result<W, WriteError> {
        let offset = self.offset;
        self.out.flush().map_err(|source| WriteError::Io { offset, source })?;
        Ok(self.out)
    }

    fn put(&mut self, parts: &[&[u8]]) -> Result<(), WriteError> {
        for part in parts {
            self.out
                .write_all(part)
                .map_err(|source| io_error(self.offset, source))?;
            self.offset += part.len() as u64;
        }
        Ok(())
    }
}

fn io_error(offset: u64, source: io::Error) -> WriteError {
    WriteError::Io { offset, source }
}

/// A varint in a small owned buffer, so callers can borrow it as a slice.
struct VarintBytes {
    buf: [u8; 10],
    len: usize,
}

impl VarintBytes {
    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

fn varint_bytes(value: u64) -> VarintBytes {
    let mut buf = [0; 10];
    let len = varint::encode(value, &mut buf).len();
    VarintBytes { buf, len }
}
