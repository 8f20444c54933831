//! Unsigned LEB128 varints as multiformats uses them (CAR section lengths, header length).
//!
//! Our own dozen lines instead of a crate because the reader needs to know *where* a varint broke
//! (byte offsets in every error) and to read it straight out of a `BufRead` without a copy.

use std::io::{self, BufRead};

/// Multiformats caps varints at 9 bytes (63 bits); anything longer is corrupt input, not a big number.
pub const MAX_LEN: usize = 9;

/// Why a varint could not be read.
#[derive(Debug)]
pub enum VarintError {
    /// The input ended after `read` bytes of the varint (0 means a clean end before it began).
    Eof {
        read: usize,
    },
    /// More than [`MAX_LEN`] bytes, or a value over 63 bits.
    Overflow,
    Io(io::Error),
}

/// Encodes `value` into `out` and returns the bytes used.
pub fn encode(mut value: u64, out: &mut [u8; 10]) -> &[u8] {
    let mut i = 0;
    while value >= 0x80 {
        out[i] = (value as u8) | 0x80;
        value >>= 7;
        i += 1;
    }
    out[i] = value as u8;
    &out[..=i]
}

/// Reads one varint, returning its value and how many bytes it took.
pub fn read<R: BufRead>(r: &mut R) -> Result<(u64, usize), VarintError> {
    let mut value: u64 = 0;
    let mut read = 0;
    loop {
        let buf = match r.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(VarintError::Io(e)),
        };
        if buf.is_empty() {
            return Err(VarintError::Eof { read });
        }
        // Decode as much as the buffer holds before touching the reader again: a section length
        // is one to three bytes, almost always already buffered.
        let mut used = 0;
        for &byte in buf {
            used += 1;
            if read == MAX_LEN - 1 && byte > 0x7f {
                return Err(VarintError::Overflow);
            }
            value |= u64::from(byte & 0x7f) << (7 * read);
            read += 1;
            if byte & 0x80 == 0 {
                r.consume(used);
                return Ok((value, read));
            }
        }
        r.consume(used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<(u64, usize), VarintError> {
        read(&mut &bytes[..])
    }

    #[test]
    fn round_trips_boundaries() {
        for value in [
            0,
            1,
            127,
            128,
            255,
            300,
            16_383,
            16_384,
            1 << 20,
            u32::MAX as u64,
            (1 << 63) - 1,
        ] {
            let mut buf = [0; 10];
            let bytes = encode(value, &mut buf).to_vec();
            let (got, len) = decode(&bytes).unwrap();
            assert_eq!((got, len), (value, bytes.len()), "value {value}");
        }
    }

    #[test]
    fn rejects_ten_byte_and_64_bit_varints() {
        assert!(matches!(decode(&[0xff; 10]), Err(VarintError::Overflow)));
        let mut nine = [0xff; 9];
        nine[8] = 0x80;
        assert!(matches!(decode(&nine), Err(VarintError::Overflow)));
        nine[8] = 0x7f;
        assert_eq!(decode(&nine).unwrap(), ((1 << 63) - 1, 9));
    }

    #[test]
    fn reports_how_far_it_got_before_the_end() {
        assert!(matches!(decode(&[]), Err(VarintError::Eof { read: 0 })));
        assert!(matches!(decode(&[0x80, 0x80]), Err(VarintError::Eof { read: 2 })));
    }
}
