// Reference CIDs and CAR files from the JavaScript IPFS stack (ipfs-unixfs-importer,
// @ipld/car), configured exactly as Kubo's `ipfs add` defaults:
//
//   CIDv0: chunker size-262144, balanced layout with 174 links per node, dag-pb leaves
//          (UnixFS type file), a single-chunk file reduced to its leaf.
//   CIDv1: `ipfs add --cid-version 1`, which implies raw leaves; otherwise as above.
//
// The Rust tests of alara-store compare their CIDs with these. Usage (from the repo root,
// after `npm ci`):
//
//   node crates/store/tests/js/kubo_vectors.mjs vectors            > vectors JSON on stdout
//   node crates/store/tests/js/kubo_vectors.mjs car-read FILE.car  > roots, block count, content SHA-256
//   node crates/store/tests/js/kubo_vectors.mjs car-write SIZE SEED CIDVERSION OUT.car
//
// Content is deterministic: xorshift32 words (little-endian), see `content()`. The Rust side
// has the same generator (tests/it/vectors.rs).

import { createHash } from 'node:crypto'
import { createWriteStream, createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

import { CarReader, CarWriter } from '@ipld/car'
import * as dagPb from '@ipld/dag-pb'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { exporter } from 'ipfs-unixfs-exporter'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

const KIB = 1024
const CHUNK = 256 * KIB

/** Deterministic pseudo-random bytes: xorshift32 from `seed`, 4 bytes per step, little-endian. */
export function content (size, seed) {
  const out = new Uint8Array(size)
  let x = seed >>> 0
  if (x === 0) x = 0x9e3779b9
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    for (let j = 0; j < 4 && i + j < size; j++) out[i + j] = (x >>> (8 * j)) & 0xff
  }
  return out
}

/** Importer options equal to Kubo's `ipfs add` (v0) and `ipfs add --cid-version 1`. */
function kuboOptions (cidVersion, chunkSize) {
  return {
    cidVersion,
    rawLeaves: cidVersion === 1,
    leafType: 'file',
    reduceSingleLeafToSelf: true,
    wrapWithDirectory: false,
    chunker: fixedSize({ chunkSize }),
    layout: balanced({ maxChildrenPerNode: 174 })
  }
}

async function importBytes (bytes, cidVersion, chunkSize, blockstore) {
  let last
  for await (const entry of importer([{ content: bytes }], blockstore, kuboOptions(cidVersion, chunkSize))) {
    last = entry
  }
  return last
}

async function vectors () {
  const cases = [
    { name: 'empty', size: 0, chunkSize: CHUNK },
    { name: 'one-byte', size: 1, chunkSize: CHUNK },
    { name: 'chunk-minus-one', size: CHUNK - 1, chunkSize: CHUNK },
    { name: 'one-chunk', size: CHUNK, chunkSize: CHUNK },
    { name: 'chunk-plus-one', size: CHUNK + 1, chunkSize: CHUNK },
    { name: 'three-chunks', size: 3 * CHUNK, chunkSize: CHUNK },
    { name: 'full-node', size: 174 * CHUNK, chunkSize: CHUNK },
    { name: 'second-layer', size: 174 * CHUNK + 1, chunkSize: CHUNK },
    // Kubo `--chunker=size-1024`: small chunks reach a third layer with 31 MB.
    { name: 'third-layer-1k-chunks', size: 174 * 174 * 1024 + 1, chunkSize: 1024 }
  ]
  const out = []
  for (const c of cases) {
    const seed = (0x9e3779b9 ^ c.size) >>> 0
    const bytes = content(c.size, seed)
    const v0 = await importBytes(bytes, 0, c.chunkSize, new MemoryBlockstore())
    const v1 = await importBytes(bytes, 1, c.chunkSize, new MemoryBlockstore())
    out.push({
      name: c.name,
      size: c.size,
      seed,
      chunk_size: c.chunkSize,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      cid_v0: v0.cid.toString(),
      cid_v1: v1.cid.toString(),
      dag_size_v0: Number(v0.size),
      dag_size_v1: Number(v1.size)
    })
  }
  // Kubo's own, widely published result for `echo hello | ipfs add`, as a check that
  // these options are Kubo's.
  const hello = await importBytes(new TextEncoder().encode('hello\n'), 0, CHUNK, new MemoryBlockstore())
  if (hello.cid.toString() !== 'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN') {
    throw new Error(`importer options are not Kubo's: hello\\n gave ${hello.cid}`)
  }
  return {
    generator: 'ipfs-unixfs-importer with Kubo ipfs-add defaults (crates/store/tests/js/kubo_vectors.mjs)',
    content: 'xorshift32 words little-endian, seed = 0x9e3779b9 ^ size',
    vectors: out
  }
}

async function carRead (path) {
  const reader = await CarReader.fromIterable(createReadStream(path))
  const roots = await reader.getRoots()
  const store = new MemoryBlockstore()
  let blocks = 0
  for await (const { cid, bytes } of reader.blocks()) {
    if (cid.multihash.code !== sha256.code) throw new Error(`unexpected hash in ${cid}`)
    const digest = await sha256.digest(bytes)
    if (Buffer.compare(Buffer.from(digest.digest), Buffer.from(cid.multihash.digest)) !== 0) {
      throw new Error(`block ${cid} does not match its hash`)
    }
    if (cid.code === dagPb.code) dagPb.decode(bytes)
    await store.put(cid, bytes)
    blocks++
  }
  if (roots.length !== 1) throw new Error(`expected one root, found ${roots.length}`)
  const entry = await exporter(roots[0], store)
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of entry.content()) {
    hash.update(chunk)
    size += chunk.length
  }
  return { version: reader.version, roots: roots.map(String), blocks, size, sha256: hash.digest('hex') }
}

async function carWrite (size, seed, cidVersion, outPath) {
  const store = new MemoryBlockstore()
  const bytes = content(size, seed)
  const root = (await importBytes(bytes, cidVersion, CHUNK, store)).cid
  const { writer, out } = CarWriter.create([root])
  const done = pipeline(Readable.from(out), createWriteStream(outPath))
  // Depth-first, links in order: the order `ipfs dag export` writes.
  const seen = new Set()
  const visit = async (cid) => {
    const key = Buffer.from(cid.multihash.bytes).toString('hex')
    if (seen.has(key)) return
    seen.add(key)
    const chunks = []
    for await (const c of store.get(cid)) chunks.push(c)
    const bytes = Buffer.concat(chunks)
    await writer.put({ cid, bytes })
    if (cid.code === dagPb.code) {
      for (const link of dagPb.decode(bytes).Links) await visit(link.Hash)
    } else if (cid.code !== raw.code) {
      throw new Error(`unexpected codec in ${cid}`)
    }
  }
  await visit(root)
  await writer.close()
  await done
  return { root: root.toString(), size, sha256: createHash('sha256').update(bytes).digest('hex') }
}

const [cmd, ...args] = process.argv.slice(2)
let result
if (cmd === 'vectors') {
  result = await vectors()
} else if (cmd === 'car-read' && args.length === 1) {
  result = await carRead(args[0])
} else if (cmd === 'car-write' && args.length === 4) {
  result = await carWrite(Number(args[0]), Number(args[1]) >>> 0, Number(args[2]), args[3])
} else {
  console.error('usage: kubo_vectors.mjs vectors | car-read FILE | car-write SIZE SEED CIDVERSION OUT')
  process.exit(2)
}
// Keep CID-shaped values as strings.
process.stdout.write(JSON.stringify(result, (_, v) => (v instanceof CID ? v.toString() : v), 2) + '\n')
