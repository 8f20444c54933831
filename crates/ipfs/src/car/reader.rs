//! Streaming CAR v1 reader: one section in memory at a time, every block hash-checked.

use std::io::{self, BufReader, Read};

use bytes::{Buf, Bytes, BytesMut};
use cid::Cid;

use super::{CarError, MAX_HEADER, MAX_SECTION, header};
use crate::block::{self, Verdict};
use crate::varint::{self, VarintError};

/// Read buffer. Varints are decoded straight out of it; big block reads bypass it.
const READ_BUFFER: usize = 64 * 1024;

/// One block whose bytes hash to its CID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub cid: Cid,
    pub data: Bytes,
    /// Byte offset of the block's section in the CAR, for error reports.
    pub offset: u64,
}

/// Reads a CAR v1 stream: the header in [`CarReader::new`], then one verified block per
/// [`Iterator::next`].
///
/// The iterator yields `Err` for a bad block and goes on if [`CarError::is_skippable`]; after any
/// other error, or the end of the input, it yields `None`.
pub struct CarReader<R> {
    input: BufReader<R>,
    roots: Vec<Cid>,
    /// Bytes consumed so far: the offset of the next section.
    offset: u64,
    /// Holds the section being read; blocks are cut from it without a copy.
    buf: BytesMut,
    done: bool,
}

impl<R: Read> CarReader<R> {
    /// Reads and checks the header. The input is buffered here; pass it unbuffered.
    pub fn new(input: R) -> Result<Self, CarError> {
        let mut input = BufReader::with_capacity(READ_BUFFER, input);
        let (len, varint_len) = match varint::read(&mut input) {
            Ok(read) => read,
            Err(VarintError::Eof { read: 0 }) => return Err(CarError::Empty),
            Err(VarintError::Eof { read }) => {
                return Err(CarError::Truncated {
                    offset: 0,
                    end: read as u64,
                    what: "header length",
                });
            }
            Err(VarintError::Overflow) => {
                return Err(CarError::VarintOverflow {
                    offset: 0,
                    what: "header length",
                });
            }
            Err(VarintError::Io(source)) => return Err(CarError::Io { offset: 0, source }),
        };
        if len == 0 {
            return Err(CarError::NotCar {
                offset: 0,
                reason: "the header length is 0".into(),
            });
        }
        if len > MAX_HEADER as u64 {
            return Err(CarError::TooLarge {
                offset: 0,
                what: "header",
                len,
                limit: MAX_HEADER,
            });
        }
        let mut bytes = vec![0; len as usize];
        let got = read_full(&mut input, &mut bytes).map_err(|source| CarError::Io { offset: 0, source })?;
        let end = (varint_len + got) as u64;
        if got < bytes.len() {
            // A text file lands here too (its first byte reads as a length): don't call it a CAR.
            let reason =
                format!("the header declares {len} bytes but the file ends at byte {end}: truncated, or not a CAR");
            return Err(CarError::NotCar { offset: 0, reason });
        }
        let roots = header::decode(&bytes)?;
        Ok(CarReader {
            input,
            roots,
            offset: end,
            buf: BytesMut::new(),
            done: false,
        })
    }

    /// The header's roots (at least one).
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// Byte offset of the next section, i.e. how much of the input has been consumed.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the next section. `Ok(None)` is a clean end: the input ended on a section boundary.
    fn read_section(&mut self) -> Result<Option<Block>, CarError> {
        let start = self.offset;
        let what = "section length";
        let (len, varint_len) = match varint::read(&mut self.input) {
            Ok(read) => read,
            Err(VarintError::Eof { read: 0 }) => return Ok(None),
            Err(VarintError::Eof { read }) => {
                return Err(CarError::Truncated {
                    offset: start,
                    end: start + read as u64,
                    what,
                });
            }
            Err(VarintError::Overflow) => return Err(CarError::VarintOverflow { offset: start, what }),
            Err(VarintError::Io(source)) => return Err(CarError::Io { offset: start, source }),
        };
        if len == 0 {
            return Err(CarError::EmptySection { offset: start });
        }
        if len > MAX_SECTION as u64 {
            return Err(CarError::TooLarge {
                offset: start,
                what: "section",
                len,
                limit: MAX_SECTION,
            });
        }
        let len = len as usize;
        let data_start = start + varint_len as u64;

        // `reserve` reuses the buffer when the caller has dropped the previous block, so a
        // caller that drops each block after use reads without allocating. (Cutting many blocks
        // out of one big slab was measured slower: fresh 256 KiB slabs cost page faults.)
        self.buf.reserve(len);
        self.buf.resize(len, 0);
        let got = read_full(&mut self.input, &mut self.buf).map_err(|source| CarError::Io {
            offset: data_start,
            source,
        })?;
        self.offset = data_start + got as u64;
        if got < len {
            return Err(CarError::Truncated {
                offset: start,
                end: self.offset,
                what: "section",
            });
        }
        let mut section = self.buf.split_to(len);

        let mut cursor = &section[..];
        let cid = Cid::read_bytes(&mut cursor).map_err(|e| CarError::BadCid {
            offset: start,
            reason: cid_reason(e),
        })?;
        section.advance(len - cursor.len());
        let data = section.freeze();
        match block::verify(&cid, &data) {
            Verdict::Match => Ok(Some(Block {
                cid,
                data,
                offset: start,
            })),
            Verdict::Mismatch => Err(CarError::HashMismatch { offset: start, cid }),
            Verdict::UnsupportedHash(code) => Err(CarError::UnsupportedHash {
                offset: start,
                cid,
                code,
            }),
        }
    }
}

impl<R: Read> Iterator for CarReader<R> {
    type Item = Result<Block, CarError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_section() {
            Ok(Some(block)) => Some(Ok(block)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = !e.is_skippable();
                Some(Err(e))
            }
        }
    }
}

impl<R: Read> std::iter::FusedIterator for CarReader<R> {}

/// Like `read_exact`, but says how much it got before the end instead of failing, so truncation
/// errors can name the offset where the input ended.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn cid_reason(e: cid::Error) -> String {
    match e {
        // The CID parser reads from the section's bytes, so running out means the CID claims
        // to be longer than the whole section.
        cid::Error::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => "it runs past the end of its section".into(),
        other => other.to_string().to_lowercase(),
    }
}
