// Fetches one CID from a trustless gateway with the IPFS project's verifying client,
// @helia/verified-fetch, strictly offline: the gateway must be on 127.0.0.1, and any other
// network use is refused.
//
//   node fetch.mjs GATEWAY_URL CID [ACCEPT]
//
// ACCEPT defaults to application/vnd.ipld.raw (the block's bytes). Prints one JSON line:
// {"status", "contentType", "bodyHex"} for any answer verified-fetch gives (a 504 is how it
// reports a gateway whose block does not hash to its CID), or {"error"} if it throws or the
// body fails while being read; exits 0 after an answer, 1 after an error, 2 on bad usage.
// Used by crates/ipfs/tests/gateway_server.rs; install with
// `npm ci --prefix crates/ipfs/tests/verified-fetch`.

// Node 20 lacks Promise.withResolvers (Node 22+), which helia and libp2p use.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

const [gateway, cidText, accept = 'application/vnd.ipld.raw'] = process.argv.slice(2)
if (gateway === undefined || cidText === undefined) {
  console.error('usage: node fetch.mjs GATEWAY_URL CID [ACCEPT]')
  process.exit(2)
}
const gatewayUrl = new URL(gateway)
if (gatewayUrl.hostname !== '127.0.0.1') {
  console.error(`refusing ${gateway}: this test only talks to 127.0.0.1`)
  process.exit(2)
}

// Belt and braces: whatever helia, libp2p or a resolver tries through fetch, only 127.0.0.1
// is reachable.
const realFetch = globalThis.fetch
globalThis.fetch = async (resource, init) => {
  const url = new URL(resource instanceof Request ? resource.url : String(resource))
  if (url.hostname !== '127.0.0.1') {
    console.error(`blocked a request to ${url.origin}`)
    throw new TypeError(`offline test: ${url.origin} is not reachable`)
  }
  return realFetch(resource, init)
}

const { createHeliaLight } = await import('helia')
const { withHTTP } = await import('@helia/http')
const { createVerifiedFetch } = await import('@helia/verified-fetch')
const dagCbor = await import('@ipld/dag-cbor')
const dagJson = await import('@ipld/dag-json')
const json = await import('multiformats/codecs/json')

// A router that knows no providers: blocks come only from the recursive gateway below, which
// @helia/http adds as a fallback router that claims every CID.
const nowhere = {
  name: 'nowhere',
  async * findProviders () {}
}

const helia = withHTTP(createHeliaLight({
  routers: [nowhere],
  codecs: [dagCbor, dagJson, json]
}), {
  delegatedRouters: [],
  recursiveGateways: [gatewayUrl.origin],
  allowLocal: true,
  allowInsecure: true
})

// Keep the event loop alive while requests are pending (helia's timers are unref'd).
const keepAlive = setInterval(() => {}, 1000)
const signal = AbortSignal.timeout(20_000)
let code = 0
let verifiedFetch
try {
  await helia.start()
  verifiedFetch = await createVerifiedFetch(helia)
  const response = await verifiedFetch(`ipfs://${cidText}`, {
    headers: { accept },
    session: false,
    signal
  })
  const body = Buffer.from(await response.arrayBuffer())
  console.log(JSON.stringify({
    status: response.status,
    contentType: response.headers.get('content-type'),
    bodyHex: body.toString('hex')
  }))
} catch (err) {
  console.log(JSON.stringify({ error: `${err?.name}: ${err?.message}` }))
  code = 1
} finally {
  clearInterval(keepAlive)
  await verifiedFetch?.stop().catch(() => {})
  await helia.stop().catch(() => {})
}
process.exit(code)
