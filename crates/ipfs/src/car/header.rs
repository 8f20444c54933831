//! The CAR v1 header: a DAG-CBOR map `{roots: [CID..], version: 1}`.

use cid::Cid;
use serde::{Deserialize, Serialize};

use super::CarError;

/// Field order is irrelevant on the wire (the encoder sorts keys canonically), so this mirrors
/// the spec's `{version, roots}`.
#[derive(Serialize)]
struct HeaderOut<'a> {
    version: u64,
    roots: &'a [Cid],
}

/// `roots` is optional here so that a CAR v2 pragma (`{version: 2}`, no roots) decodes and gets
/// the precise "unsupported version" error instead of "not a CAR".
#[derive(Deserialize)]
struct HeaderIn {
    version: u64,
    #[serde(default)]
    roots: Option<Vec<Cid>>,
}

pub fn encode(roots: &[Cid]) -> Vec<u8> {
    serde_ipld_dagcbor::to_vec(&HeaderOut { version: 1, roots })
        .expect("a map of an integer and a list of CIDs always encodes")
}

/// Decodes the header bytes (after the length varint, which starts at byte 0).
pub fn decode(bytes: &[u8]) -> Result<Vec<Cid>, CarError> {
    let header: HeaderIn = serde_ipld_dagcbor::from_slice(bytes).map_err(|e| CarError::NotCar {
        offset: 0,
        reason: format!("the header is not a DAG-CBOR map of version and roots: {e}"),
    })?;
    if header.version != 1 {
        return Err(CarError::UnsupportedVersion {
            version: header.version,
        });
    }
    match header.roots {
        Some(roots) if !roots.is_empty() => Ok(roots),
        _ => Err(CarError::NoRoots),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::raw_cid;

    #[test]
    fn round_trips_roots() {
        let roots = [raw_cid(b"a"), raw_cid(b"b")];
        assert_eq!(decode(&encode(&roots)).unwrap(), roots);
    }

    #[test]
    fn matches_the_spec_byte_layout() {
        // DAG-CBOR sorts keys by length then bytes: "roots" (5) before "version" (7).
        let bytes = encode(&[raw_cid(b"a")]);
        assert_eq!(bytes[0], 0xa2, "a map of two entries");
        assert_eq!(&bytes[1..7], b"\x65roots");
        assert_eq!(&bytes[bytes.len() - 9..], b"\x67version\x01");
    }

    #[test]
    fn carv2_pragma_is_an_unsupported_version() {
        // The fixed 11-byte CAR v2 pragma, minus its length varint 0x0a.
        let pragma = b"\xa1\x67version\x02";
        assert!(matches!(
            decode(pragma),
            Err(CarError::UnsupportedVersion { version: 2 })
        ));
    }
}
