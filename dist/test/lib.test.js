'use strict';
// The shims' pure parts: inputs, asset names, checksums, and obtaining a binary from a local
// HTTP server standing in for GitHub releases. Run by `node --test` from tests/workflows.rs.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const test = require('node:test');

const lib = require('../lib');

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ghp2p-shim-'));

test('inputs are INPUT_ uppercased with hyphens kept, trimmed, empty when unset', () => {
  const env = { 'INPUT_BINARY-PATH': ' /x/y \n', INPUT_GITHUB_TOKEN: 'wrong name', INPUT_SOME_NAME: 'spaces' };
  assert.equal(lib.getInput('binary-path', env), '/x/y');
  assert.equal(lib.getInput('github-token', env), '');
  assert.equal(lib.getInput('some name', env), 'spaces');
  assert.equal(lib.getInput('version', env), '');
});

test('boolean inputs accept the YAML core spellings only', () => {
  for (const v of ['true', 'True', 'TRUE']) assert.equal(lib.getBooleanInput('strict', { INPUT_STRICT: v }), true);
  for (const v of ['false', 'False', 'FALSE', '', ' ']) assert.equal(lib.getBooleanInput('strict', { INPUT_STRICT: v }), false);
  assert.equal(lib.getBooleanInput('strict', {}), false);
  assert.throws(() => lib.getBooleanInput('strict', { INPUT_STRICT: 'yes' }), /input strict must be true or false, not "yes"/);
});

test('runner OS and architecture map to release targets', () => {
  assert.equal(lib.assetTarget('Linux', 'X64'), 'x86_64-unknown-linux-musl');
  assert.equal(lib.assetTarget('Linux', 'ARM64'), 'aarch64-unknown-linux-musl');
  assert.equal(lib.assetTarget('macOS', 'X64'), 'x86_64-apple-darwin');
  assert.equal(lib.assetTarget('macOS', 'ARM64'), 'aarch64-apple-darwin');
  assert.throws(() => lib.assetTarget('Windows', 'X64'), /no release binary for RUNNER_OS=Windows.*binary-path/);
  assert.throws(() => lib.assetTarget('Linux', 'ARM'), /RUNNER_ARCH=ARM/);
  assert.throws(() => lib.assetTarget(undefined, undefined), /RUNNER_OS=\(unset\)/);
});

test('asset names and URLs carry the version; versions are validated', () => {
  assert.equal(lib.normalizeVersion('v0.1.0'), '0.1.0');
  assert.equal(lib.normalizeVersion(' 1.2.3-rc.1\n'), '1.2.3-rc.1');
  for (const bad of ['', 'latest', '1.2', '../1.2.3', '1.2.3/x']) assert.throws(() => lib.normalizeVersion(bad), lib.ShimError);
  const asset = lib.assetName('0.1.0', 'x86_64-unknown-linux-musl');
  assert.equal(asset, 'gh-p2p-cache-0.1.0-x86_64-unknown-linux-musl.tar.gz');
  assert.equal(
    lib.releaseUrl(lib.repository({}), '0.1.0', asset),
    'https://github.com/org/gh-p2p-cache/releases/download/v0.1.0/gh-p2p-cache-0.1.0-x86_64-unknown-linux-musl.tar.gz',
  );
  assert.equal(lib.repository({ GITHUB_ACTION_REPOSITORY: 'me/fork' }), 'me/fork');
  assert.throws(() => lib.repository({ GITHUB_ACTION_REPOSITORY: 'a/b/c' }), /not owner\/name/);
});

test('checksums parse in sha256sum format and reject malformed lines', () => {
  const a = 'a'.repeat(64);
  const b = 'B'.repeat(64);
  const sums = lib.parseChecksums(`# comment\n\n${a}  one.tar.gz\n${b} *two.tar.gz\r\n${a}  one.tar.gz\n`);
  assert.deepEqual([...sums], [['one.tar.gz', a], ['two.tar.gz', b.toLowerCase()]]);
  assert.throws(() => lib.parseChecksums(`${a}  one\nabc  two\n`), /checksums line 2/);
  assert.throws(() => lib.parseChecksums(`${a}  one\n${b}  one\n`), /a second, different sum for one/);
  assert.throws(() => lib.parseChecksums(`${a}  dir/one\n`), /line 1/);
  // The committed list parses (it may be empty).
  lib.parseChecksums(fs.readFileSync(path.join(__dirname, '..', 'checksums.txt'), 'utf8'));
});

test('a checksum mismatch is refused with both sums', () => {
  const bytes = Buffer.from('hello\n');
  const good = '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03';
  assert.equal(lib.sha256(bytes), good);
  lib.verifyChecksum(bytes, good.toUpperCase(), 'x');
  assert.throws(() => lib.verifyChecksum(Buffer.from('hellO\n'), good, 'x.tar.gz'), (e) => {
    assert.ok(e instanceof lib.ShimError);
    assert.match(e.message, new RegExp(`x.tar.gz has sha256 [0-9a-f]{64} but dist/checksums.txt says ${good}`));
    return true;
  });
});

test('workflow command data is escaped', () => {
  assert.equal(lib.escapeData('50% done\r\nnext'), '50%25 done%0D%0Anext');
});

test('state is written in the delimiter form and skipped outside a runner', () => {
  const dir = tmp();
  const file = path.join(dir, 'state');
  lib.saveState('shim_binary', '/a/b', { GITHUB_STATE: file });
  assert.match(fs.readFileSync(file, 'utf8'), /^shim_binary<<(ghadelimiter_[0-9a-f-]+)\n\/a\/b\n\1\n$/);
  lib.saveState('x', 'y', {});
});

// A fake release: a tarball holding a `gh-p2p-cache` shell script, served over HTTP.
function fakeRelease(t) {
  const dir = tmp();
  const payload = path.join(dir, 'payload');
  fs.mkdirSync(payload);
  fs.writeFileSync(path.join(payload, 'gh-p2p-cache'), '#!/bin/sh\necho fake\n', { mode: 0o755 });
  const asset = lib.assetName('9.8.7', 'x86_64-unknown-linux-musl');
  execFileSync('tar', ['-czf', path.join(dir, asset), '-C', payload, 'gh-p2p-cache']);
  const archive = fs.readFileSync(path.join(dir, asset));
  const distDir = path.join(dir, 'dist');
  fs.mkdirSync(distDir);
  fs.writeFileSync(path.join(distDir, 'VERSION'), '9.8.7\n');
  fs.writeFileSync(path.join(distDir, 'checksums.txt'), `${lib.sha256(archive)}  ${asset}\n`);
  const requests = [];
  let body = archive;
  const server = http.createServer((req, res) => {
    requests.push(req.url);
    res.end(body);
  });
  t.after(() => server.close());
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        asset,
        distDir,
        requests,
        tamper: () => {
          body = Buffer.concat([archive, Buffer.from('x')]);
        },
        env: { RUNNER_OS: 'Linux', RUNNER_ARCH: 'X64', RUNNER_TOOL_CACHE: path.join(dir, 'tools'), GITHUB_ACTION_REPOSITORY: 'me/cache' },
        options: { distDir, baseUrl: `http://127.0.0.1:${server.address().port}`, retryDelayMs: 1 },
      });
    });
  });
}

test('a verified download lands in the tool cache and is reused', async (t) => {
  const r = await fakeRelease(t);
  const first = await lib.obtainBinary(r.env, r.options);
  const expected = path.join(r.env.RUNNER_TOOL_CACHE, 'gh-p2p-cache', '9.8.7', 'x64', 'gh-p2p-cache');
  assert.deepEqual(first, { path: expected, source: 'download' });
  assert.deepEqual(r.requests, [`/me/cache/releases/download/v9.8.7/${r.asset}`]);
  assert.equal(execFileSync(expected, { encoding: 'utf8' }), 'fake\n');
  assert.deepEqual(await lib.obtainBinary(r.env, r.options), { path: expected, source: 'cache' });
  assert.equal(r.requests.length, 1);
  // The version input wins over dist/VERSION, and needs its own sum.
  await assert.rejects(lib.obtainBinary({ ...r.env, INPUT_VERSION: 'v9.8.8' }, r.options), /no sha256 for gh-p2p-cache-9.8.8-/);
});

test('a tampered download is refused and nothing is cached', async (t) => {
  const r = await fakeRelease(t);
  r.tamper();
  await assert.rejects(lib.obtainBinary(r.env, r.options), /has sha256 .* but dist\/checksums.txt says/);
  assert.equal(fs.existsSync(path.join(r.env.RUNNER_TOOL_CACHE, 'gh-p2p-cache', '9.8.7', 'x64')), false);
});

test('without a committed sum nothing is downloaded', async (t) => {
  const r = await fakeRelease(t);
  fs.writeFileSync(path.join(r.distDir, 'checksums.txt'), '# none yet\n');
  await assert.rejects(lib.obtainBinary(r.env, r.options), (e) => {
    assert.match(e.message, /no sha256 for gh-p2p-cache-9.8.7-x86_64-unknown-linux-musl.tar.gz in this action's dist\/checksums.txt/);
    assert.match(e.message, /pass its path as binary-path/);
    return true;
  });
  assert.deepEqual(r.requests, []);
});

test('downloads retry server errors but not 404', async () => {
  const seen = [];
  const answers = [500, 200];
  const fetchImpl = async (url) => {
    seen.push(url);
    const status = answers.shift() ?? 404;
    return new Response(status === 200 ? 'ok' : 'no', { status });
  };
  assert.equal((await lib.download('http://x/a', { fetchImpl, retryDelayMs: 1 })).toString(), 'ok');
  assert.equal(seen.length, 2);
  await assert.rejects(lib.download('http://x/b', { fetchImpl, retryDelayMs: 1 }), /download of http:\/\/x\/b failed: HTTP 404/);
  assert.equal(seen.length, 3);
});

test('binary-path must name an executable file, relative to the workspace', async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'bin'), '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'plain'), '');
  assert.deepEqual(await lib.obtainBinary({ 'INPUT_BINARY-PATH': 'bin', GITHUB_WORKSPACE: dir }), {
    path: path.join(dir, 'bin'),
    source: 'input',
  });
  await assert.rejects(lib.obtainBinary({ 'INPUT_BINARY-PATH': 'plain', GITHUB_WORKSPACE: dir }), /binary-path plain is not an executable file/);
  await assert.rejects(lib.obtainBinary({ 'INPUT_BINARY-PATH': 'missing', GITHUB_WORKSPACE: dir }), /binary-path missing/);
});
