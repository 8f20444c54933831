//! CAR v1 (content-addressable archive) reading and writing, independent of what the blocks mean.
//!
//! Layout (<https://ipld.io/specs/transport/car/carv1/>): `varint(len) | DAG-CBOR {version: 1,
//! roots: [CID..]}` then sections `varint(len(cid) + len(block)) | cid | block` to the end of the
//! file. Reading is streaming and checks every block against its CID before handing it out.

mod error;
mod header;
mod reader;
mod writer;

pub use error::{CarError, WriteError};
pub use reader::{Block, CarReader};
pub use writer::CarWriter;

use crate::block::MAX_BLOCK;

/// Largest section accepted: a 1 MiB block plus its CID. A CIDv1 with a 64-byte digest and
/// 9-byte varints stays under 100 bytes; the rest is slack.
pub const MAX_SECTION: usize = MAX_BLOCK + 128;

/// Largest header accepted. Ours hold one root (about 40 bytes); the limit only stops a corrupt
/// length from making us allocate.
pub const MAX_HEADER: usize = 1 << 20;
