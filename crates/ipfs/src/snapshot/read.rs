//! Reading a snapshot: resolve the manifest chain from the root, then stream verified envelopes.
//!
//! Our writer puts the manifest first, and so does a depth-first export of the snapshot's DAG
//! (`ipfs dag export`, a gateway's `?format=car`): DAG-CBOR sorts `next` before `entries`, so
//! the whole chain comes before any envelope. A CAR in another order still reads as long as its
//! manifest blocks come within [`ReadOptions::max_buffered`] bytes: blocks met earlier are held
//! (already verified) and handed out once the manifest is complete. Beyond that the reader
//! refuses rather than read twice, because the input may be a network stream that cannot seek.

use std::collections::{HashMap, VecDeque};
use std::io::Read;

use bytes::Bytes;
use cid::Cid;

use super::SnapshotError;
use crate::block::DAG_CBOR;
use crate::car::{Block, CarError, CarReader};
use crate::manifest::{self, DecodeError, Manifest};

/// Longest manifest chain accepted. At the 1 MiB block size that is over a billion entries; the
/// bound only stops a hostile CAR from keeping us resolving links.
const MAX_CHAIN: usize = 1 << 16;

/// What a buffered item costs beyond its data, so that a flood of tiny bad blocks is bounded too.
const ITEM_COST: usize = 128;

/// Options for [`read_snapshot_with`].
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Bytes of blocks held while looking for manifest blocks that come late. 64 MiB by default.
    pub max_buffered: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { max_buffered: 64 << 20 }
    }
}

/// An envelope whose bytes hash to a CID listed in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Position of the envelope's entry in [`Manifest::entries`].
    pub index: usize,
    pub cid: Cid,
    pub data: Bytes,
    /// Byte offset of the envelope's section in the CAR, for error reports.
    pub offset: u64,
}

/// Counts kept while reading envelopes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Envelopes handed out.
    pub envelopes: u64,
    /// Blocks that failed a check (returned as skippable errors).
    pub bad: u64,
    /// Verified blocks the manifest does not list; dropped.
    pub unlisted: u64,
    /// Second copies of an envelope already handed out; dropped.
    pub duplicates: u64,
}

/// Reads a snapshot with default options. See [`read_snapshot_with`].
pub fn read_snapshot<R: Read>(input: R) -> Result<(Manifest, Envelopes<R>), SnapshotError> {
    read_snapshot_with(input, ReadOptions::default())
}

/// Reads the CAR header and the whole manifest chain, and returns the manifest with an iterator
/// over the envelopes. Every envelope it yields hashes to its CID and is listed in the manifest;
/// bad blocks come as skippable errors, and reading goes on after them. The manifest root is the
/// header's first root (ours have exactly one).
pub fn read_snapshot_with<R: Read>(input: R, options: ReadOptions) -> Result<(Manifest, Envelopes<R>), SnapshotError> {
    let mut car = CarReader::new(input)?;
    let root = car.roots()[0];
    if root.codec() != DAG_CBOR {
        return Err(SnapshotError::RootNotManifest { root });
    }
    let mut early = Early::default();
    let mut manifest = Manifest::default();
    let mut want = Some(root);
    let mut chain = 0;
    while let Some(cid) = want {
        chain += 1;
        if chain > MAX_CHAIN {
            return Err(SnapshotError::ChainTooLong { limit: MAX_CHAIN });
        }
        let block = match early.dag_cbor.remove(&cid) {
            Some(block) => {
                early.bytes -= ITEM_COST + block.data.len();
                block
            }
            None => find(&mut car, cid, &mut early, &options)?,
        };
        let decoded = manifest::decode_block(&block.data).map_err(|e| match e {
            DecodeError::Version(version) => SnapshotError::ManifestVersion { cid, version },
            DecodeError::Invalid(reason) => SnapshotError::BadManifest {
                cid,
                offset: block.offset,
                reason,
            },
        })?;
        if cid == root {
            manifest.created_ms = decoded.created_ms;
        }
        manifest.entries.extend(decoded.entries);
        want = decoded.next;
    }

    // First copy wins, like the dedup of blocks below.
    let mut index = HashMap::with_capacity(manifest.entries.len());
    for (i, entry) in manifest.entries.iter().enumerate() {
        index.entry(entry.cid).or_insert(i);
    }
    let mut stats = ReadStats::default();
    // DAG-CBOR blocks held while looking for the chain that turned out not to be part of it.
    stats.unlisted += early.dag_cbor.len() as u64;
    let envelopes = Envelopes {
        car,
        early: early.other,
        index,
        sizes: manifest.entries.iter().map(|e| e.size).collect(),
        seen: vec![false; manifest.entries.len()],
        stats,
        root,
        ended: false,
    };
    Ok((manifest, envelopes))
}

/// Blocks read before the manifest was complete.
#[derive(Default)]
struct Early {
    /// Candidates for later manifest blocks, by CID.
    dag_cbor: HashMap<Cid, Block>,
    /// Everything else, in CAR order, skippable errors included.
    other: VecDeque<Result<Block, CarError>>,
    bytes: usize,
}

/// Reads on until the block `cid` arrives, holding what comes before it.
fn find<R: Read>(
    car: &mut CarReader<R>,
    cid: Cid,
    early: &mut Early,
    options: &ReadOptions,
) -> Result<Block, SnapshotError> {
    loop {
        let item = match car.next() {
            None => {
                return Err(SnapshotError::ManifestMissing {
                    cid,
                    offset: car.offset(),
                });
            }
            Some(Ok(block)) if block.cid == cid => return Ok(block),
            Some(Err(CarError::HashMismatch { offset, cid: bad })) if bad == cid => {
                let reason = "its bytes do not match its CID".into();
                return Err(SnapshotError::BadManifest { cid, offset, reason });
            }
            Some(Err(e)) if !e.is_skippable() => return Err(e.into()),
            Some(item) => item,
        };
        early.bytes += ITEM_COST + item.as_ref().map_or(0, |b| b.data.len());
        if early.bytes > options.max_buffered {
            let offset = car.offset();
            return Err(SnapshotError::ManifestNotFirst {
                cid,
                offset,
                limit: options.max_buffered,
            });
        }
        match item {
            Ok(block) if block.cid.codec() == DAG_CBOR => {
                early.dag_cbor.insert(block.cid, block);
            }
            item => early.other.push_back(item),
        }
    }
}

/// The envelopes of a snapshot, in CAR order, each verified and listed in the manifest.
///
/// Yields skippable errors for bad blocks (count them and go on) and at most one other error,
/// after which it ends: a broken CAR, or [`SnapshotError::Incomplete`] when the CAR ends before
/// every listed envelope arrived intact. Unlisted blocks and second copies are dropped and counted in
/// [`Envelopes::stats`].
pub struct Envelopes<R> {
    car: CarReader<R>,
    early: VecDeque<Result<Block, CarError>>,
    index: HashMap<Cid, usize>,
    sizes: Vec<u64>,
    seen: Vec<bool>,
    stats: ReadStats,
    root: Cid,
    /// Set once a fatal error or the end has been reported.
    ended: bool,
}

impl<R: Read> Envelopes<R> {
    /// The snapshot's root: the CID of the first manifest block.
    pub fn root(&self) -> Cid {
        self.root
    }

    /// Counts so far.
    pub fn stats(&self) -> ReadStats {
        self.stats
    }

    /// Indices of listed entries whose envelope has not been handed out (yet): after the end,
    /// the entries this snapshot lacks.
    pub fn missing(&self) -> impl Iterator<Item = usize> + '_ {
        self.seen.iter().enumerate().filter(|(_, seen)| !**seen).map(|(i, _)| i)
    }

    /// Byte offset in the CAR reached so far.
    pub fn offset(&self) -> u64 {
        self.car.offset()
    }

    /// At a clean end of the CAR: a CAR cut between two sections is still a valid CAR, so only
    /// the manifest can tell that envelopes are missing. Say so once, as the last item.
    fn end(&mut self) -> Option<Result<Envelope, SnapshotError>> {
        self.ended = true;
        let listed = self.index.len();
        let missing = listed - self.stats.envelopes as usize;
        let offset = self.car.offset();
        (missing > 0).then_some(Err(SnapshotError::Incomplete {
            offset,
            missing,
            listed,
        }))
    }
}

impl<R: Read> Iterator for Envelopes<R> {
    type Item = Result<Envelope, SnapshotError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        loop {
            let item = match self.early.pop_front() {
                Some(item) => item,
                None => match self.car.next() {
                    Some(item) => item,
                    None => return self.end(),
                },
            };
            let block = match item {
                Ok(block) => block,
                Err(e) => {
                    if e.is_skippable() {
                        self.stats.bad += 1;
                    } else {
                        self.ended = true;
                    }
                    return Some(Err(e.into()));
                }
            };
            let Some(&index) = self.index.get(&block.cid) else {
                self.stats.unlisted += 1;
                continue;
            };
            if self.seen[index] {
                self.stats.duplicates += 1;
                continue;
            }
            let listed = self.sizes[index];
            if block.data.len() as u64 != listed {
                self.stats.bad += 1;
                let (cid, offset, size) = (block.cid, block.offset, block.data.len());
                return Some(Err(SnapshotError::SizeMismatch {
                    cid,
                    offset,
                    size,
                    listed,
                }));
            }
            self.seen[index] = true;
            self.stats.envelopes += 1;
            return Some(Ok(Envelope {
                index,
                cid: block.cid,
                data: block.data,
                offset: block.offset,
            }));
        }
    }
}
