'use strict';
// main.js and post.js as the runner starts them: a fake binary-path that records its argv, a
// missing binary with and without `strict`, exit codes and signals passed through, and the
// state main leaves for post.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const test = require('node:test');

const DIST = path.join(__dirname, '..');

// Records argv, one per line, and an input, then exits as told (or kills itself).
const FAKE = `#!/bin/sh
printf '%s\\n' "$@" > "$RECORD"
printf '%s\\n' "$INPUT_SECRET" >> "$RECORD"
if [ -n "$FAKE_SIGNAL" ]; then kill -"$FAKE_SIGNAL" $$; fi
exit "\${FAKE_EXIT:-0}"
`;

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ghp2p-shim-'));
  const binary = path.join(dir, 'fake-gh-p2p-cache');
  fs.writeFileSync(binary, FAKE, { mode: 0o755 });
  const state = path.join(dir, 'state');
  fs.writeFileSync(state, '');
  // A clean environment: nothing of the developer's INPUT_* or RUNNER_* leaks in.
  const env = {
    PATH: process.env.PATH,
    RECORD: path.join(dir, 'record'),
    GITHUB_STATE: state,
    RUNNER_TOOL_CACHE: path.join(dir, 'tools'),
    INPUT_SECRET: 's3cret',
  };
  return { dir, binary, state, env };
}

function shim(verb, env) {
  const r = spawnSync(process.execPath, [path.join(DIST, `${verb}.js`)], { env, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.error, undefined);
  return r;
}

const recorded = (s) => fs.readFileSync(s.env.RECORD, 'utf8');

test('main and post run the binary-path binary with `action main|post` and its exit code', () => {
  const s = setup();
  const main = shim('main', { ...s.env, 'INPUT_BINARY-PATH': s.binary });
  assert.equal(main.status, 0, main.stdout + main.stderr);
  assert.equal(recorded(s), 'action\nmain\ns3cret\n');
  assert.match(fs.readFileSync(s.state, 'utf8'), new RegExp(`^shim_binary<<(\\S+)\n${s.binary}\n\\1\n$`));

  const post = shim('post', { ...s.env, 'INPUT_BINARY-PATH': s.binary, FAKE_EXIT: '3' });
  assert.equal(post.status, 3);
  assert.equal(recorded(s), 'action\npost\ns3cret\n');
});

test('post uses the binary main recorded', () => {
  const s = setup();
  const post = shim('post', { ...s.env, STATE_shim_binary: s.binary });
  assert.equal(post.status, 0, post.stdout + post.stderr);
  assert.equal(recorded(s), 'action\npost\ns3cret\n');
});

test('a binary killed by a signal fails the step', () => {
  const s = setup();
  const r = shim('main', { ...s.env, 'INPUT_BINARY-PATH': s.binary, FAKE_SIGNAL: 'TERM' });
  assert.equal(r.status, 128 + os.constants.signals.SIGTERM);
  assert.match(r.stdout, /::error::gh-p2p-cache action main was killed by SIGTERM/);
});

test('a missing binary is a warning, and exit 0, unless strict', () => {
  const s = setup();
  const missing = path.join(s.dir, 'nope');
  const lenient = shim('main', { ...s.env, 'INPUT_BINARY-PATH': missing });
  assert.equal(lenient.status, 0);
  assert.match(lenient.stdout, /^::warning::gh-p2p-cache: binary-path .*nope is not an executable file.*set strict: true to fail instead\)$/m);
  assert.equal(fs.existsSync(s.env.RECORD), false);
  // main leaves an empty state, so post knows there is nothing to finish.
  assert.match(fs.readFileSync(s.state, 'utf8'), /^shim_binary<<(\S+)\n\n\1\n$/);

  const strict = shim('main', { ...s.env, 'INPUT_BINARY-PATH': missing, INPUT_STRICT: 'true' });
  assert.equal(strict.status, 1);
  assert.match(strict.stdout, /^::error::gh-p2p-cache: binary-path .*nope is not an executable file/m);
});

test('post after a failed main does nothing, even when strict', () => {
  const s = setup();
  const r = shim('post', { ...s.env, STATE_shim_binary: '', INPUT_STRICT: 'true', 'INPUT_BINARY-PATH': s.binary });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /main did not start the cache/);
  assert.equal(fs.existsSync(s.env.RECORD), false);
});

test('without binary-path the committed checksums decide, and an unknown sum refuses the download', () => {
  const s = setup();
  const env = { ...s.env, RUNNER_OS: 'Linux', RUNNER_ARCH: 'X64', INPUT_VERSION: '0.0.1' };
  const lenient = shim('main', env);
  assert.equal(lenient.status, 0);
  assert.match(lenient.stdout, /^::warning::gh-p2p-cache: no sha256 for gh-p2p-cache-0\.0\.1-x86_64-unknown-linux-musl\.tar\.gz .*binary-path/m);
  assert.doesNotMatch(lenient.stdout, /downloading/);
  const strict = shim('main', { ...env, INPUT_STRICT: 'TRUE' });
  assert.equal(strict.status, 1);
  assert.match(strict.stdout, /^::error::gh-p2p-cache: no sha256 for/m);
});

test('an unsupported runner is named', () => {
  const s = setup();
  const r = shim('main', { ...s.env, RUNNER_OS: 'Windows', RUNNER_ARCH: 'X64' });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /::warning::gh-p2p-cache: no release binary for RUNNER_OS=Windows RUNNER_ARCH=X64/);
});

test('an invalid strict value fails the step', () => {
  const s = setup();
  const r = shim('main', { ...s.env, 'INPUT_BINARY-PATH': s.binary, INPUT_STRICT: 'yes' });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /::error::gh-p2p-cache: input strict must be true or false, not "yes"/);
  assert.equal(fs.existsSync(s.env.RECORD), false);
});
