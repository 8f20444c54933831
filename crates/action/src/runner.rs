//! Our own small layer over the Actions runner's interface: inputs, state, outputs and
//! environment files, the job summary (with GitHub's 1 MiB guard), and workflow commands
//! (escaped, grouped, masked).
//!
//! Everything is read from an explicit environment map and written to an explicit output, so
//! the same code runs under the real runner and under the tests' fake one.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// GitHub refuses a step summary over 1 MiB.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("{0} is not set: run this as a GitHub Actions step")]
    Missing(&'static str),
    #[error("cannot write {file}: {source}")]
    Write { file: String, source: std::io::Error },
    #[error("input {name} must be true or false, not {value:?}")]
    NotBool { name: String, value: String },
    #[error("{0} cannot be set for later steps (the runner refuses GITHUB_*, RUNNER_* and NODE_OPTIONS)")]
    Protected(String),
    #[error("the job summary would exceed 1 MiB ({0} bytes); not written")]
    SummaryTooLarge(usize),
}

pub struct Runner {
    env: HashMap<String, String>,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Runner {
    /// The real runner: the process environment and stdout.
    pub fn from_env() -> Self {
        Runner::new(std::env::vars().collect(), Box::new(std::io::stdout()))
    }

    pub fn new(env: HashMap<String, String>, out: Box<dyn Write + Send>) -> Self {
        Runner {
            env,
            out: Mutex::new(out),
        }
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.env.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// `INPUT_<NAME>`: upper-cased, spaces to `_`, hyphens kept; trimmed; empty is absent.
    pub fn input(&self, name: &str) -> Option<String> {
        let var = format!("INPUT_{}", name.replace(' ', "_").to_ascii_uppercase());
        self.env
            .get(&var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// YAML 1.2 core booleans, as the toolkit's `getBooleanInput` accepts them.
    pub fn input_bool(&self, name: &str, default: bool) -> Result<bool, RunnerError> {
        match self.input(name).as_deref() {
            None => Ok(default),
            Some("true" | "True" | "TRUE") => Ok(true),
            Some("false" | "False" | "FALSE") => Ok(false),
            Some(other) => Err(RunnerError::NotBool {
                name: name.to_owned(),
                value: other.to_owned(),
            }),
        }
    }

    /// Values saved by `main` come back to `post` as `STATE_<name>`.
    pub fn state(&self, name: &str) -> Option<String> {
        self.env
            .get(&format!("STATE_{name}"))
            .cloned()
            .filter(|v| !v.is_empty())
    }

    pub fn save_state(&self, name: &str, value: &str) -> Result<(), RunnerError> {
        self.append_kv("GITHUB_STATE", name, value)
    }

    pub fn set_output(&self, name: &str, value: &str) -> Result<(), RunnerError> {
        self.append_kv("GITHUB_OUTPUT", name, value)
    }

    /// A variable for later steps (`GITHUB_ENV`).
    pub fn export_var(&self, name: &str, value: &str) -> Result<(), RunnerError> {
        if name.starts_with("GITHUB_") || name.starts_with("RUNNER_") || name == "NODE_OPTIONS" {
            return Err(RunnerError::Protected(name.to_owned()));
        }
        self.append_kv("GITHUB_ENV", name, value)
    }

    /// Puts `dir` on later steps' `PATH` (`GITHUB_PATH`).
    pub fn add_path(&self, dir: &std::path::Path) -> Result<(), RunnerError> {
        let text = dir.display().to_string();
        if text.contains('\n') || text.contains('\r') {
            return Err(RunnerError::Protected(text));
        }
        append(&self.file("GITHUB_PATH")?, format!("{text}\n").as_bytes())
    }

    /// Appends Markdown to the job summary, refusing to push the file past 1 MiB.
    pub fn append_summary(&self, markdown: &str) -> Result<(), RunnerError> {
        let path = self.file("GITHUB_STEP_SUMMARY")?;
        let existing = std::fs::metadata(&path).map(|m| m.len() as usize).unwrap_or(0);
        if existing + markdown.len() > SUMMARY_LIMIT {
            return Err(RunnerError::SummaryTooLarge(existing + markdown.len()));
        }
        append(&path, markdown.as_bytes())
    }

    pub fn warning(&self, message: &str) {
        self.command("warning", message);
    }

    pub fn error(&self, message: &str) {
        self.command("error", message);
    }

    pub fn notice(&self, message: &str) {
        self.command("notice", message);
    }

    /// Tells the runner to hide `secret` in every log line.
    pub fn mask(&self, secret: &str) {
        for line in secret.lines().filter(|l| !l.trim().is_empty()) {
            self.command("add-mask", line);
        }
    }

    pub fn group(&self, title: &str) {
        self.command("group", title);
    }

    pub fn end_group(&self) {
        self.line("::endgroup::");
    }

    /// Prints text that may contain `::` lines (a daemon log) with workflow commands off.
    pub fn print_verbatim(&self, text: &str) {
        let token = format!("ghp2p-{:016x}", rand_u64());
        self.line(&format!("::stop-commands::{token}"));
        for l in text.lines() {
            self.line(l);
        }
        self.line(&format!("::{token}::"));
    }

    pub fn line(&self, text: &str) {
        let mut out = self.out.lock().expect("runner output lock");
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn command(&self, name: &str, message: &str) {
        self.line(&format!("::{name}::{}", escape_data(message)));
    }

    fn file(&self, var: &'static str) -> Result<PathBuf, RunnerError> {
        self.var(var).map(PathBuf::from).ok_or(RunnerError::Missing(var))
    }

    /// `name<<DELIMITER` / value / `DELIMITER`, with a delimiter the value cannot contain.
    fn append_kv(&self, var: &'static str, name: &str, value: &str) -> Result<(), RunnerError> {
        let path = self.file(var)?;
        let delimiter = loop {
            let d = format!("ghadelimiter_{:016x}", rand_u64());
            if !value.contains(&d) && !name.contains(&d) {
                break d;
            }
        };
        append(&path, format!("{name}<<{delimiter}\n{value}\n{delimiter}\n").as_bytes())
    }
}

fn append(path: &std::path::Path, bytes: &[u8]) -> Result<(), RunnerError> {
    let err = |source| RunnerError::Write {
        file: path.display().to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)
}

/// Workflow-command data: `%`, CR and LF escaped so a message stays one command.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Workflow-command properties also escape `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS per process; mixing in the time makes repeats unlikely.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// Reads a runner file of `name<<DELIM` blocks (and `name=value` lines) back into pairs: what
/// the runner does between steps. Used by tests that play the runner.
pub fn parse_file_commands(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.push((name.to_owned(), value.join("\n")));
        } else if let Some((name, value)) = line.split_once('=') {
            out.push((name.to_owned(), value.to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn runner(dir: &std::path::Path, extra: &[(&str, &str)]) -> (Runner, Captured) {
        let mut env: HashMap<String, String> = HashMap::new();
        for f in [
            "GITHUB_OUTPUT",
            "GITHUB_STATE",
            "GITHUB_ENV",
            "GITHUB_STEP_SUMMARY",
            "GITHUB_PATH",
        ] {
            env.insert(f.into(), dir.join(f).display().to_string());
        }
        for (k, v) in extra {
            env.insert((*k).into(), (*v).into());
        }
        let out = Captured::default();
        (Runner::new(env, Box::new(out.clone())), out)
    }

    #[test]
    fn add_path_appends_a_line_and_refuses_newlines() {
        let dir = tempfile::tempdir().unwrap();
        let (r, _) = runner(dir.path(), &[]);
        r.add_path(std::path::Path::new("/opt/ghp2p/bin")).unwrap();
        r.add_path(std::path::Path::new("/x")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("GITHUB_PATH")).unwrap(),
            "/opt/ghp2p/bin\n/x\n"
        );
        assert!(r.add_path(std::path::Path::new("/a\nPATH=/evil")).is_err());
    }

    #[test]
    fn inputs_booleans_and_state() {
        let dir = tempfile::tempdir().unwrap();
        let (r, _) = runner(
            dir.path(),
            &[
                ("INPUT_MAX-DISK", " 4GiB "),
                ("INPUT_STRICT", "True"),
                ("INPUT_EMPTY", ""),
                ("INPUT_BAD", "yes"),
                ("STATE_pid", "42"),
            ],
        );
        assert_eq!(r.input("max-disk").as_deref(), Some("4GiB"));
        assert_eq!(r.input("empty"), None);
        assert!(r.input_bool("strict", false).unwrap());
        assert!(!r.input_bool("absent", false).unwrap());
        assert!(
            r.input_bool("bad", false)
                .unwrap_err()
                .to_string()
                .contains("true or false")
        );
        assert_eq!(r.state("pid").as_deref(), Some("42"));
    }

    #[test]
    fn file_commands_survive_multiline_and_hostile_values() {
        let dir = tempfile::tempdir().unwrap();
        let (r, _) = runner(dir.path(), &[]);
        r.set_output("url", "http://127.0.0.1:1").unwrap();
        r.set_output("multi", "a\nb\nEOF\nc").unwrap();
        r.save_state("pid", "7").unwrap();
        r.export_var("GH_CONFIG_DIR", "/tmp/x").unwrap();
        assert!(matches!(
            r.export_var("GITHUB_TOKEN", "x"),
            Err(RunnerError::Protected(_))
        ));
        assert!(matches!(
            r.export_var("NODE_OPTIONS", "x"),
            Err(RunnerError::Protected(_))
        ));
        let out = parse_file_commands(&std::fs::read_to_string(dir.path().join("GITHUB_OUTPUT")).unwrap());
        assert_eq!(
            out,
            vec![
                ("url".into(), "http://127.0.0.1:1".into()),
                ("multi".into(), "a\nb\nEOF\nc".into())
            ]
        );
        let state = parse_file_commands(&std::fs::read_to_string(dir.path().join("GITHUB_STATE")).unwrap());
        assert_eq!(state, vec![("pid".into(), "7".into())]);
    }

    #[test]
    fn summary_is_guarded_at_one_mebibyte() {
        let dir = tempfile::tempdir().unwrap();
        let (r, _) = runner(dir.path(), &[]);
        r.append_summary("# ok\n").unwrap();
        let big = "x".repeat(SUMMARY_LIMIT);
        assert!(matches!(r.append_summary(&big), Err(RunnerError::SummaryTooLarge(_))));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("GITHUB_STEP_SUMMARY")).unwrap(),
            "# ok\n"
        );
        let bare = Runner::new(HashMap::new(), Box::new(std::io::sink()));
        assert!(matches!(
            bare.append_summary("x"),
            Err(RunnerError::Missing("GITHUB_STEP_SUMMARY"))
        ));
    }

    #[test]
    fn commands_are_escaped_masked_and_verbatim_text_cannot_inject() {
        let dir = tempfile::tempdir().unwrap();
        let (r, out) = runner(dir.path(), &[]);
        r.warning("50% done\r\nnext line");
        r.mask("s3cr3t");
        r.group("daemon log");
        r.print_verbatim("::error::not a real error\nplain");
        r.end_group();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("::warning::50%25 done%0D%0Anext line\n"), "{text}");
        assert!(text.contains("::add-mask::s3cr3t\n"));
        let stop = text.lines().find(|l| l.starts_with("::stop-commands::")).unwrap();
        let token = stop.trim_start_matches("::stop-commands::");
        let resume = text.lines().position(|l| l == format!("::{token}::")).unwrap();
        let injected = text.lines().position(|l| l == "::error::not a real error").unwrap();
        assert!(injected < resume, "the log line sits inside the stopped region");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
