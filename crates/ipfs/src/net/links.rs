//! Links of a DAG-CBOR block in the order they are encoded, by walking the CBOR items without
//! building a tree. Order matters: DAG-CBOR sorts map keys by length first, so a manifest's
//! `next` comes before its `entries`, and a depth-first walk in this order (what `ipfs dag
//! export` does) reaches the whole manifest chain before any envelope.

use cid::Cid;

/// The CIDs (tag 42) in `data`, in encoded order; `None` if `data` is not well-formed CBOR.
pub(crate) fn dag_cbor_links(data: &[u8]) -> Option<Vec<Cid>> {
    let mut input = data;
    let mut out = Vec::new();
    cbor_links(&mut input, &mut out, 0)?;
    input.is_empty().then_some(out)
}

/// Walks one CBOR item, collecting tag-42 links in the order they are encoded. `None` for
/// input that is not well-formed (the caller then follows no links).
fn cbor_links(input: &mut &[u8], out: &mut Vec<Cid>, depth: usize) -> Option<()> {
    if depth > 256 {
        return None;
    }
    let (major, value) = cbor_head(input)?;
    match major {
        2 | 3 => {
            take(input, value)?;
        }
        4 => {
            for _ in 0..value {
                cbor_links(input, out, depth + 1)?;
            }
        }
        5 => {
            for _ in 0..value.checked_mul(2)? {
                cbor_links(input, out, depth + 1)?;
            }
        }
        6 if value == 42 => {
            // A link: a byte string holding 0x00 and the binary CID.
            let (2, len) = cbor_head(input)? else { return None };
            let bytes = take(input, len)?;
            let (0, cid) = bytes.split_first()? else { return None };
            out.push(Cid::read_bytes(cid).ok()?);
        }
        6 => cbor_links(input, out, depth + 1)?,
        _ => {} // integers, simple values and floats: nothing follows the head
    }
    Some(())
}

/// An item's major type and argument.
fn cbor_head(input: &mut &[u8]) -> Option<(u8, u64)> {
    let (&first, rest) = input.split_first()?;
    *input = rest;
    let (major, info) = (first >> 5, first & 0x1f);
    let value = match info {
        0..=23 => u64::from(info),
        24..=27 => take(input, 1 << (info - 24))?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
        _ => return None, // indefinite lengths are not DAG-CBOR
    };
    Some((major, value))
}

fn take<'a>(input: &mut &'a [u8], n: u64) -> Option<&'a [u8]> {
    let n = usize::try_from(n).ok()?;
    if input.len() < n {
        return None;
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::raw_cid;

    #[test]
    fn links_come_in_encoded_order_and_garbage_is_refused() {
        let (a, b) = (raw_cid(b"a"), raw_cid(b"b"));
        #[derive(serde::Serialize)]
        struct Node {
            next: Cid,
            entries: Vec<Cid>,
            n: u64,
        }
        let bytes = serde_ipld_dagcbor::to_vec(&Node {
            next: b,
            entries: vec![a, b],
            n: 1 << 40,
        })
        .unwrap();
        // Canonical order: "n", "next", "entries".
        assert_eq!(dag_cbor_links(&bytes).unwrap(), vec![b, a, b]);
        assert_eq!(dag_cbor_links(&bytes[..bytes.len() - 1]), None);
        assert_eq!(dag_cbor_links(b"\x9f\xff"), None, "indefinite lengths are not DAG-CBOR");
    }
}
