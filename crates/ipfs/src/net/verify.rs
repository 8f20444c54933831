//! Checking a CAR that came over the network before anyone uses it: every block hashes to its
//! CID, and the whole DAG under the requested root is there.
//!
//! The trustless gateway spec says clients MUST verify CAR completeness (a gateway that meets a
//! missing child mid-stream has already sent 200 and just stops), SHOULD ignore the header's
//! roots (gateways differ), MUST ignore duplicates and blocks nobody asked for, and MUST NOT
//! assume an order unless told. So the CAR is first spooled to disk and checked, then rewritten:
//! header root = the root we asked for, each reachable block once, DAG-CBOR blocks first
//! (depth-first, links in encoded order) and then raw blocks in the order their parents list
//! them. For a snapshot that is the writer's own layout (manifest chain, then envelopes in
//! manifest order), whatever order the server used. Completeness is checked by following
//! DAG-CBOR links (the manifest's `next` and `entries`) from the root; raw blocks have none.
//! Other codecs cannot be followed here and are refused.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use cid::Cid;

use super::error::{IpfsError, car_reason};
use super::links::dag_cbor_links;
use super::transport::io_error;
use crate::block::{DAG_CBOR, RAW};
use crate::car::{CarError, CarReader, CarWriter};

/// What a verified CAR held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CarStats {
    /// Distinct blocks written, all verified.
    pub blocks: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Second copies dropped.
    pub duplicates: u64,
    /// Verified blocks not reachable from the root (kept; readers drop what they don't need).
    pub unreachable: u64,
}

/// Where a verified block sits in the spooled CAR.
struct Located {
    offset: u64,
    len: usize,
}

/// Reads the CAR at `input`, verifies it and writes it to `output` with `root` as its only
/// root. Blocking: run it on `spawn_blocking`. On error `output` holds garbage: delete it.
pub(crate) fn verify_car(
    input: &Path,
    root: &Cid,
    output: &Path,
    service: &'static str,
    source_url: &str,
) -> Result<CarStats, IpfsError> {
    let bad = |reason: String| IpfsError::BadCar {
        source_url: source_url.to_owned(),
        reason,
    };
    let file = File::open(input).map_err(|e| io_error("opening", input, e))?;
    let reader = CarReader::new(file).map_err(|e| bad(car_reason(&e)))?;

    // Pass 1: check every block, note where it is and what it links to.
    let mut stats = CarStats::default();
    let mut located: HashMap<Cid, Located> = HashMap::new();
    let mut links: HashMap<Cid, Vec<Cid>> = HashMap::new();
    for item in reader {
        let block = match item {
            Ok(block) => block,
            Err(CarError::HashMismatch { cid, .. }) => return Err(IpfsError::Tampered { service, cid }),
            Err(e) => return Err(bad(car_reason(&e))),
        };
        if located.contains_key(&block.cid) {
            stats.duplicates += 1;
            continue;
        }
        match block.cid.codec() {
            DAG_CBOR => {
                let found = dag_cbor_links(&block.data)
                    .ok_or_else(|| bad(format!("block {} is not valid DAG-CBOR", block.cid)))?;
                links.insert(block.cid, found);
            }
            RAW => {}
            other => {
                return Err(bad(format!(
                    "block {} has codec 0x{other:x}; only raw and DAG-CBOR DAGs can be checked for completeness",
                    block.cid
                )));
            }
        }
        let cid_len = block.cid.encoded_len();
        let section = (cid_len + block.data.len()) as u64;
        let offset = block.offset + varint_len(section) + cid_len as u64;
        located.insert(
            block.cid,
            Located {
                offset,
                len: block.data.len(),
            },
        );
    }

    let order = order(root, &located, &links);
    let missing: Vec<Cid> = order.iter().filter(|c| !located.contains_key(c)).copied().collect();
    if let Some(first) = missing.first() {
        return Err(IpfsError::Incomplete {
            source_url: source_url.to_owned(),
            root: *root,
            missing: missing.len(),
            first: *first,
        });
    }
    stats.unreachable = (located.len() - order.len()) as u64;

    // Pass 2: copy the reachable blocks out of the spool in the order chosen.
    let mut spool = File::open(input).map_err(|e| io_error("opening", input, e))?;
    let out = File::create(output).map_err(|e| io_error("creating", output, e))?;
    let mut writer = CarWriter::new(BufWriter::new(out), &[*root]).map_err(|e| bad(e.to_string()))?;
    let mut buf = Vec::new();
    for cid in &order {
        let at = &located[cid];
        buf.resize(at.len, 0);
        spool
            .seek(SeekFrom::Start(at.offset))
            .and_then(|_| spool.read_exact(&mut buf))
            .map_err(|e| io_error("reading", input, e))?;
        writer.write_block(cid, &buf).map_err(|e| bad(e.to_string()))?;
        stats.blocks += 1;
        stats.bytes += buf.len() as u64;
    }
    let mut out = writer.finish().map_err(|e| bad(e.to_string()))?;
    out.flush().map_err(|e| io_error("writing", output, e))?;
    out.into_inner()
        .map_err(|e| io_error("writing", output, e.into_error()))?
        .sync_all()
        .map_err(|e| io_error("writing", output, e))?;
    Ok(stats)
}

/// Every block reachable from `root` (missing ones included, so the caller can name them):
/// DAG-CBOR blocks depth-first with links in encoded order, then raw blocks in the order their
/// parents list them.
fn order(root: &Cid, located: &HashMap<Cid, Located>, links: &HashMap<Cid, Vec<Cid>>) -> Vec<Cid> {
    let mut seen = HashSet::new();
    let mut inner = Vec::new();
    let mut leaves = Vec::new();
    let mut stack = vec![*root];
    while let Some(cid) = stack.pop() {
        // Identity CIDs carry their data inline; gateways must leave them out of CARs.
        if cid.hash().code() == 0x00 || !seen.insert(cid) {
            continue;
        }
        match links.get(&cid) {
            Some(children) => {
                inner.push(cid);
                stack.extend(children.iter().rev().copied());
            }
            // Raw, or missing: missing DAG-CBOR blocks are reported, not followed.
            None if !located.contains_key(&cid) => leaves.push(cid),
            None => {}
        }
    }
    let mut placed: HashSet<Cid> = inner.iter().copied().collect();
    let mut out = inner.clone();
    let missing_inner: Vec<Cid> = leaves.into_iter().filter(|c| !located.contains_key(c)).collect();
    if links.get(root).is_none() && located.contains_key(root) {
        // A raw root: the DAG is that one block.
        out.push(*root);
        placed.insert(*root);
    }
    for parent in &inner {
        for child in &links[parent] {
            if child.hash().code() != 0x00 && placed.insert(*child) {
                out.push(*child);
            }
        }
    }
    for cid in missing_inner {
        if placed.insert(cid) {
            out.push(cid);
        }
    }
    out
}

fn varint_len(mut value: u64) -> u64 {
    let mut n = 1;
    while value >= 0x80 {
        value >>= 7;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::raw_cid;

    #[test]
    fn order_puts_inner_blocks_first_and_reports_missing_children() {
        let root = crate::block::cid_of(DAG_CBOR, b"root");
        let (a, b) = (raw_cid(b"a"), raw_cid(b"b"));
        let at = |offset| Located { offset, len: 1 };
        let located: HashMap<Cid, Located> = [(root, at(0)), (a, at(1))].into_iter().collect();
        let links: HashMap<Cid, Vec<Cid>> = [(root, vec![a, b])].into_iter().collect();
        assert_eq!(order(&root, &located, &links), vec![root, a, b]);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
    }
}
