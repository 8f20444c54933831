//! Checking a CAR that came over the network before anyone uses it: every block hashes to its
//! CID, and the whole DAG under the requested root is there.
//!
//! The trustless gateway spec says clients MUST verify CAR completeness (a gateway that meets a
//! missing child mid-stream has already sent 200 and just stops), SHOULD ignore the header's
//! roots (gateways differ), and MUST ignore duplicates and blocks nobody asked for. So the
//! output is rewritten: header root = the root we asked for, each block once, in arrival order.
//! Completeness is checked by following DAG-CBOR links (the manifest's `next` and `entries`)
//! from the root; raw blocks have none. Other codecs cannot be followed here and are refused.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use cid::Cid;
use ipld_core::ipld::Ipld;

use super::error::{IpfsError, car_reason};
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
    let out = File::create(output).map_err(|e| io_error("creating", output, e))?;
    let mut writer = CarWriter::new(BufWriter::new(out), &[*root]).map_err(|e| bad(e.to_string()))?;

    let mut stats = CarStats::default();
    let mut present = HashSet::new();
    let mut links: HashMap<Cid, Vec<Cid>> = HashMap::new();
    for item in reader {
        let block = match item {
            Ok(block) => block,
            Err(CarError::HashMismatch { cid, .. }) => return Err(IpfsError::Tampered { service, cid }),
            Err(e) => return Err(bad(car_reason(&e))),
        };
        if !present.insert(block.cid) {
            stats.duplicates += 1;
            continue;
        }
        match block.cid.codec() {
            DAG_CBOR => {
                let node: Ipld = serde_ipld_dagcbor::from_slice(&block.data)
                    .map_err(|e| bad(format!("block {} is not valid DAG-CBOR: {e}", block.cid)))?;
                let mut found = Vec::new();
                collect_links(&node, &mut found);
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
        writer
            .write_block(&block.cid, &block.data)
            .map_err(|e| bad(e.to_string()))?;
        stats.blocks += 1;
        stats.bytes += block.data.len() as u64;
    }

    let (reached, missing) = walk(root, &present, &links);
    if let Some(first) = missing.first() {
        return Err(IpfsError::Incomplete {
            source_url: source_url.to_owned(),
            root: *root,
            missing: missing.len(),
            first: *first,
        });
    }
    stats.unreachable = present.len().saturating_sub(reached) as u64;
    let mut out = writer.finish().map_err(|e| bad(e.to_string()))?;
    out.flush().map_err(|e| io_error("writing", output, e))?;
    out.into_inner()
        .map_err(|e| io_error("writing", output, e.into_error()))?
        .sync_all()
        .map_err(|e| io_error("writing", output, e))?;
    Ok(stats)
}

/// Follows links from `root`; returns how many present blocks it reached and which it missed.
fn walk(root: &Cid, present: &HashSet<Cid>, links: &HashMap<Cid, Vec<Cid>>) -> (usize, Vec<Cid>) {
    let mut seen = HashSet::new();
    let mut stack = vec![*root];
    let mut missing = Vec::new();
    let mut reached = 0;
    while let Some(cid) = stack.pop() {
        if !seen.insert(cid) {
            continue;
        }
        // Identity CIDs carry their data inline; gateways must leave them out of CARs.
        if cid.hash().code() == 0x00 {
            continue;
        }
        if !present.contains(&cid) {
            missing.push(cid);
            continue;
        }
        reached += 1;
        if let Some(children) = links.get(&cid) {
            stack.extend(children.iter().rev().copied());
        }
    }
    (reached, missing)
}

fn collect_links(node: &Ipld, out: &mut Vec<Cid>) {
    match node {
        Ipld::Link(cid) => out.push(*cid),
        Ipld::List(items) => items.iter().for_each(|i| collect_links(i, out)),
        Ipld::Map(map) => map.values().for_each(|v| collect_links(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::raw_cid;

    #[test]
    fn links_are_found_in_nested_maps_and_lists() {
        let a = raw_cid(b"a");
        let b = raw_cid(b"b");
        let node = Ipld::Map(
            [
                ("x".to_owned(), Ipld::List(vec![Ipld::Link(a), Ipld::Integer(1)])),
                ("y".to_owned(), Ipld::Link(b)),
            ]
            .into_iter()
            .collect(),
        );
        let mut out = Vec::new();
        collect_links(&node, &mut out);
        assert_eq!(out, vec![a, b]);
    }

    #[test]
    fn walk_reports_missing_children() {
        let root = raw_cid(b"root");
        let child = raw_cid(b"child");
        let present: HashSet<Cid> = [root].into_iter().collect();
        let links: HashMap<Cid, Vec<Cid>> = [(root, vec![child])].into_iter().collect();
        assert_eq!(walk(&root, &present, &links), (1, vec![child]));
    }
}
