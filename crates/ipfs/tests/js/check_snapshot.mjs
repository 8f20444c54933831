// Reads a snapshot CAR with the IPLD project's own JavaScript libraries and prints what they see,
// for crates/ipfs/tests/external_tools.rs to compare with what we wrote:
// {"roots": [..], "blocks": [..], "manifestBlocks": [..], "created": ms, "entries": [{cid, size, kid?, exp?}]}
// Exits 1 with a message if a manifest block is not canonical DAG-CBOR (decode then re-encode must
// give the same bytes and the same CID) or if a block's bytes do not hash to its CID.
import { readFile } from 'node:fs/promises'
import { CarReader } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'

const fail = (msg) => { console.error(msg); process.exit(1) }
const file = process.argv[2] ?? fail('usage: node check_snapshot.mjs FILE.car')
const reader = await CarReader.fromBytes(await readFile(file))
const roots = await reader.getRoots()
const blocks = []
for await (const { cid, bytes } of reader.blocks()) {
  // @ipld/car parses but does not verify, so check each hash here.
  const digest = await sha256.digest(bytes)
  if (!CID.create(1, cid.code, digest).equals(cid)) fail(`block ${cid} does not match its bytes`)
  blocks.push(cid.toString())
}

const manifestBlocks = []
const entries = []
let created
for (let cid = roots[0]; cid; ) {
  const bytes = (await reader.get(cid))?.bytes ?? fail(`manifest block ${cid} is not in the CAR`)
  if (cid.code !== dagCbor.code) fail(`manifest block ${cid} is not DAG-CBOR`)
  const node = dagCbor.decode(bytes)
  const again = dagCbor.encode(node)
  if (Buffer.compare(Buffer.from(again), Buffer.from(bytes)) !== 0) fail(`manifest block ${cid} is not canonical DAG-CBOR`)
  if (node.v !== 1 || node.kind !== 'gh-p2p-cache/snapshot') fail(`block ${cid} is not a v1 snapshot manifest`)
  created ??= node.created
  manifestBlocks.push(cid.toString())
  for (const e of node.entries) {
    if (!(e.cid instanceof CID)) fail(`an entry in ${cid} has a cid that is not a link`)
    entries.push({ ...e, cid: e.cid.toString() })
  }
  cid = node.next
  if (cid !== undefined && !(cid instanceof CID)) fail(`"next" in ${manifestBlocks.at(-1)} is not a link`)
}
console.log(JSON.stringify({ roots: roots.map(String), blocks, manifestBlocks, created, entries }))
