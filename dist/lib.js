'use strict';
// The code shared by the Action's `main` and `post` shims: find the gh-p2p-cache binary (the
// `binary-path` input, else the release asset for this runner, verified against the sha256 sums
// committed in dist/checksums.txt and kept in the runner's tool cache), then run
// `<binary> action main|post` and exit with its code.
//
// Dependency-free on purpose: this directory is committed as-is and runs on the runner's own
// Node (node24 per action.yml; Node 20 is enough), so only built-in modules are used.

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const TOOL = 'gh-p2p-cache';
const DEFAULT_REPOSITORY = 'org/gh-p2p-cache';
// Saved by main through GITHUB_STATE and read back by post as STATE_shim_binary: the binary main
// ran, or '' when main could not obtain one (post then has nothing to finish).
const STATE_BINARY = 'shim_binary';

/** An expected failure: its message is shown to the user as is. */
class ShimError extends Error {}

/** `INPUT_<NAME>` as the runner sets it: uppercased, spaces to `_`, hyphens kept; trimmed. */
function getInput(name, env = process.env) {
  const value = env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`];
  return value === undefined ? '' : value.trim();
}

/** The YAML 1.2 core booleans, as @actions/core accepts them; empty is false. */
function getBooleanInput(name, env = process.env) {
  const value = getInput(name, env);
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE', ''].includes(value)) return false;
  throw new ShimError(`input ${name} must be true or false, not ${JSON.stringify(value)}`);
}

// RUNNER_OS / RUNNER_ARCH to the Rust target the release workflow builds for it.
const TARGETS = {
  'Linux/X64': 'x86_64-unknown-linux-musl',
  'Linux/ARM64': 'aarch64-unknown-linux-musl',
  'macOS/X64': 'x86_64-apple-darwin',
  'macOS/ARM64': 'aarch64-apple-darwin',
};

function assetTarget(runnerOs, runnerArch) {
  const target = TARGETS[`${runnerOs}/${runnerArch}`];
  if (!target) {
    throw new ShimError(
      `no release binary for RUNNER_OS=${runnerOs || '(unset)'} RUNNER_ARCH=${runnerArch || '(unset)'} ` +
        '(there are binaries for Linux and macOS on X64 and ARM64); build gh-p2p-cache and pass its path as binary-path',
    );
  }
  return target;
}

/** `0.1.0` or `v0.1.0` to `0.1.0`; anything else is refused (it ends up in a URL and a path). */
function normalizeVersion(version) {
  const v = version.trim().replace(/^v/, '');
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(v)) {
    throw new ShimError(`version ${JSON.stringify(version)} is not a release version like 0.1.0`);
  }
  return v;
}

/** The release asset's file name: see dist/README.md. */
function assetName(version, target) {
  return `${TOOL}-${version}-${target}.tar.gz`;
}

function repository(env = process.env) {
  const repo = env.GITHUB_ACTION_REPOSITORY || DEFAULT_REPOSITORY;
  if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repo)) {
    throw new ShimError(`GITHUB_ACTION_REPOSITORY ${JSON.stringify(repo)} is not owner/name`);
  }
  return repo;
}

function releaseUrl(repo, version, asset, base = 'https://github.com') {
  return `${base}/${repo}/releases/download/v${version}/${asset}`;
}

/**
 * `sha256sum` output: `<64 hex>  <name>` (or ` *<name>`), blank lines and `#` comments allowed.
 * Returns name -> lower-case hex. A malformed line is an error, not a skipped line: a typo must
 * not silently turn every download into a refusal.
 */
function parseChecksums(text) {
  const sums = new Map();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([0-9a-fA-F]{64}) [ *]([^\s/]+)$/.exec(line);
    if (!m) throw new ShimError(`checksums line ${i + 1} is not "<sha256>  <file name>": ${line}`);
    const [, hex, name] = m;
    const known = sums.get(name);
    if (known && known !== hex.toLowerCase()) {
      throw new ShimError(`checksums line ${i + 1}: a second, different sum for ${name}`);
    }
    sums.set(name, hex.toLowerCase());
  });
  return sums;
}

function sha256(bytes) {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

function verifyChecksum(bytes, expected, name) {
  const actual = sha256(bytes);
  if (actual !== expected.toLowerCase()) {
    throw new ShimError(`${name} has sha256 ${actual} but dist/checksums.txt says ${expected}: refusing to run it`);
  }
}

/** `RUNNER_TOOL_CACHE/gh-p2p-cache/<version>/<arch>`, arch lower-cased like @actions/tool-cache. */
function toolCacheDir(env, version, runnerArch) {
  const root = env.RUNNER_TOOL_CACHE || path.join(os.tmpdir(), 'gh-p2p-cache-tool-cache');
  return path.join(root, TOOL, version, runnerArch.toLowerCase());
}

function isExecutableFile(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** GET with a timeout; retries network errors, 429 and 5xx (three tries in all). */
async function download(url, { fetchImpl = globalThis.fetch, retryDelayMs = 2000, timeoutMs = 300_000 } = {}) {
  let last;
  for (let attempt = 1; attempt <= 3; attempt++) {
    if (attempt > 1) await sleep(retryDelayMs * (attempt - 1));
    let response;
    try {
      response = await fetchImpl(url, { redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      last = `${e.name === 'TimeoutError' ? 'timed out' : e.message}`;
      continue;
    }
    if (response.ok) return Buffer.from(await response.arrayBuffer());
    last = `HTTP ${response.status}`;
    if (response.status !== 429 && response.status < 500) break;
  }
  throw new ShimError(`download of ${url} failed: ${last}`);
}

/**
 * The binary to run and where it came from (`input`, `cache` or `download`). Options are for
 * tests: `distDir` (VERSION, checksums.txt), `baseUrl` (instead of https://github.com),
 * `fetchImpl`, `retryDelayMs`.
 */
async function obtainBinary(env = process.env, options = {}) {
  const distDir = options.distDir || __dirname;
  const given = getInput('binary-path', env);
  if (given) {
    const file = path.resolve(env.GITHUB_WORKSPACE || process.cwd(), given);
    if (!isExecutableFile(file)) {
      const where = file === given ? '' : ` (resolved to ${file})`;
      throw new ShimError(`binary-path ${given} is not an executable file${where}`);
    }
    return { path: file, source: 'input' };
  }

  const version = normalizeVersion(getInput('version', env) || fs.readFileSync(path.join(distDir, 'VERSION'), 'utf8'));
  const target = assetTarget(env.RUNNER_OS, env.RUNNER_ARCH);
  const asset = assetName(version, target);
  // Look the sum up before anything is fetched: an asset we cannot check is never downloaded.
  const expected = parseChecksums(fs.readFileSync(path.join(distDir, 'checksums.txt'), 'utf8')).get(asset);
  if (!expected) {
    throw new ShimError(
      `no sha256 for ${asset} in this action's dist/checksums.txt, so it will not be downloaded ` +
        `(version ${version} has no verified release binary for ${env.RUNNER_OS}/${env.RUNNER_ARCH}); ` +
        'build gh-p2p-cache in an earlier step and pass its path as binary-path',
    );
  }

  const dir = toolCacheDir(env, version, env.RUNNER_ARCH);
  const binary = path.join(dir, TOOL);
  const marker = path.join(dir, '.sha256');
  // A cached copy counts only if it came from the archive we would verify now.
  if (isExecutableFile(binary) && fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === expected) {
    return { path: binary, source: 'cache' };
  }

  const url = releaseUrl(repository(env), version, asset, options.baseUrl);
  console.log(`${TOOL}: downloading ${url}`);
  const archive = await download(url, options);
  verifyChecksum(archive, expected, asset);

  // Unpack beside the final directory, then swap it in, so a half-written cache never counts.
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const staging = fs.mkdtempSync(`${dir}.tmp-`);
  try {
    const tarball = path.join(staging, asset);
    fs.writeFileSync(tarball, archive);
    const unpacked = path.join(staging, 'out');
    fs.mkdirSync(unpacked);
    const tar = spawnSync('tar', ['-xzf', tarball, '-C', unpacked], { encoding: 'utf8' });
    if (tar.error || tar.status !== 0) {
      throw new ShimError(`cannot unpack ${asset} with tar: ${tar.error ? tar.error.message : tar.stderr.trim()}`);
    }
    const inner = path.join(unpacked, TOOL);
    if (!fs.existsSync(inner)) throw new ShimError(`${asset} has no ${TOOL} at its top level`);
    fs.chmodSync(inner, 0o755);
    fs.writeFileSync(path.join(unpacked, '.sha256'), `${expected}\n`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(unpacked, dir);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return { path: binary, source: 'download' };
}

/** Workflow command data escaping: `%`, CR and LF. */
function escapeData(text) {
  return String(text).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Appends `name<<DELIM` state for post; a no-op outside a runner (no GITHUB_STATE). */
function saveState(name, value, env = process.env) {
  if (!env.GITHUB_STATE) return;
  const delimiter = `ghadelimiter_${crypto.randomUUID()}`;
  fs.appendFileSync(env.GITHUB_STATE, `${name}<<${delimiter}${os.EOL}${value}${os.EOL}${delimiter}${os.EOL}`);
}

/** Runs `<binary> action <verb>` with inherited stdio; resolves to its exit code (128+n for signal n). */
function runBinary(binary, verb, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['action', verb], { stdio: 'inherit', env });
    child.on('error', (e) => reject(new ShimError(`cannot start ${binary}: ${e.message}`)));
    child.on('exit', (code, signal) => {
      if (signal) {
        console.log(`::error::${escapeData(`${TOOL} action ${verb} was killed by ${signal}`)}`);
        resolve(128 + (os.constants.signals[signal] || 0));
      } else {
        resolve(code);
      }
    });
  });
}

/** A cache failure fails the job only when `strict` is true. Returns the exit code. */
function reportFailure(message, strict) {
  if (strict) {
    console.log(`::error::${escapeData(`${TOOL}: ${message}`)}`);
    return 1;
  }
  console.log(`::warning::${escapeData(`${TOOL}: ${message}; the job goes on without the cache (set strict: true to fail instead)`)}`);
  return 0;
}

/** The whole shim for `verb` (`main` or `post`); resolves to the process exit code. */
async function run(verb, env = process.env, options = {}) {
  let strict;
  try {
    strict = getBooleanInput('strict', env);
  } catch (e) {
    console.log(`::error::${escapeData(`${TOOL}: ${e.message}`)}`);
    return 1;
  }

  if (verb === 'post') {
    const recorded = env[`STATE_${STATE_BINARY}`];
    if (recorded === '') {
      console.log(`${TOOL}: main did not start the cache (see its message), so post has nothing to finish`);
      return 0;
    }
    if (recorded && isExecutableFile(recorded)) return runGuarded(recorded, verb, env, strict);
  }

  let binary;
  try {
    binary = await obtainBinary(env, options);
  } catch (e) {
    if (verb === 'main') saveState(STATE_BINARY, '', env);
    return reportFailure(e.message, strict);
  }
  if (binary.source !== 'input') console.log(`${TOOL}: using ${binary.path} (${binary.source})`);
  if (verb === 'main') saveState(STATE_BINARY, binary.path, env);
  return runGuarded(binary.path, verb, env, strict);
}

async function runGuarded(binary, verb, env, strict) {
  try {
    return await runBinary(binary, verb, env);
  } catch (e) {
    return reportFailure(e.message, strict);
  }
}

/** Entry point for main.js and post.js. */
function main(verb) {
  run(verb).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      // Only a bug in this file gets here; it is still a cache failure, not the user's.
      process.exitCode = reportFailure(`internal error in the ${verb} shim: ${e.stack || e}`, process.env.INPUT_STRICT === 'true');
    },
  );
}

module.exports = {
  DEFAULT_REPOSITORY,
  STATE_BINARY,
  ShimError,
  assetName,
  assetTarget,
  download,
  escapeData,
  getBooleanInput,
  getInput,
  main,
  normalizeVersion,
  obtainBinary,
  parseChecksums,
  releaseUrl,
  repository,
  reportFailure,
  run,
  runBinary,
  saveState,
  sha256,
  toolCacheDir,
  verifyChecksum,
};
