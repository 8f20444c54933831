//! Normalization: the parts of an error text that change from one occurrence to the next
//! (times, addresses, temporary paths, run ids, ...) are replaced by placeholders, so the same
//! failure in two runs gives the same text, and so the same signature.
//!
//! Secrets are scrubbed first with [`entry::Scrubber`]: nothing derived from a token reaches
//! GitHub, not even inside a normalized text.

use entry::Scrubber;
use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

/// The most of a log that is kept (its end: errors are usually last). Larger logs are cut at a
/// character boundary before anything else is done, so a huge log costs a bounded amount.
pub const MAX_LOG_BYTES: usize = 256 * 1024;

/// Options of [`Normalizer::normalize`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// Also replace `:line[:col]` after file names (`src/main.rs:12:5` becomes
    /// `src/main.rs:<n>`), so a failure keeps its signature when unrelated edits move it. Off by
    /// default: two different failures in one file often differ only by line.
    pub ignore_line_numbers: bool,
}

/// One replacement: what to look for and what to put instead (regex replacement syntax).
struct Rule {
    regex: Regex,
    with: &'static str,
}

fn rule(pattern: &str, with: &'static str) -> Rule {
    Rule {
        regex: Regex::new(pattern).expect("built-in normalization patterns compile"),
        with,
    }
}

/// In order: earlier rules see the text before later ones (a UUID must go before the hex rule
/// eats its parts, a run URL before its number is taken for an id).
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // ANSI colour and cursor sequences from CI logs.
        rule(r"\x1b\[[0-9;?]*[ -/]*[@-~]", ""),
        // Actions run and job URLs, and the bare paths.
        rule(
            r"(?:https?://[^\s/]+)?/[^\s/]+/[^\s/]+/actions/runs/\d+(?:/(?:job|attempts)/\d+)*",
            "<run-url>",
        ),
        rule(
            r#"(?i)\b((?:workflow[_ -]?|check[_ -]?)?(?:run|job)[_ -]?id)\b([\s=:#"']*)\d+"#,
            "$1$2<id>",
        ),
        rule(r"(?i)\b(run|job)([=#]\s*)\d+", "$1$2<id>"),
        rule(
            r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            "<uuid>",
        ),
        // ISO 8601 / RFC 3339 (date, optional time, fraction and zone).
        rule(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2}\b)?)?",
            "<time>",
        ),
        // Common Log Format: 10/Oct/2000:13:55:36 -0700
        rule(
            r"\b\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}(?: [+-]\d{4})?",
            "<time>",
        ),
        // RFC 2822 / syslog / HTTP dates: [Tue, ]10 Oct 2000 13:55:36 GMT, Oct 10 13:55:36
        rule(
            r"\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),? )?(?:\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4}|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* +\d{1,2}(?: \d{4})?) \d{2}:\d{2}(?::\d{2})?(?: ?(?:GMT|UTC|[+-]\d{4}))?",
            "<time>",
        ),
        // A bare time of day.
        rule(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b", "<time>"),
        // Temporary directories: the random part goes, the rest of the path stays.
        rule(
            r"(?:/private)?/var/folders/[^\s/]+/[^\s/]+/[A-Z](?:/[^\s/:]+)?",
            "<tmp>",
        ),
        rule(
            r"(?i)\b[A-Z]:\\Users\\[^\\\s]+\\AppData\\Local\\Temp(?:\\[^\\\s:]+)?",
            "<tmp>",
        ),
        rule(r"/(?:tmp|var/tmp|dev/shm)(?:/[^\s/:]+)?", "<tmp>"),
        rule(
            r"(?:/home/runner|/Users/runner|D:\\a)/(?:work/)?_temp(?:[/\\][^\s/\\:]+)?",
            "<tmp>",
        ),
        // Local ports (ephemeral ones differ every run) and process ids.
        rule(r"\b(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+", "$1:<port>"),
        rule(r"(?i)\b(pid|process|thread)([=: ]+)\d+", "$1$2<n>"),
        // Hex addresses and long hex ids (SHAs, object ids), and long decimal ids.
        rule(r"\b0x[0-9a-fA-F]+\b", "0x<addr>"),
        rule(r"\b[0-9a-fA-F]{12,}\b", "<hex>"),
        rule(r"\b\d{7,}\b", "<n>"),
        // Durations: 12.3s, 450ms, 2 minutes.
        rule(
            r"\b\d+(?:\.\d+)?(?:ns|us|µs|ms|s|sec|secs|m|min|mins|h)\b|\b\d+(?:\.\d+)? (?:seconds?|minutes?|hours?|milliseconds?)\b",
            "<dur>",
        ),
    ]
});

static LINE_NUMBERS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\.[A-Za-z][A-Za-z0-9]{0,9}):\d+(?::\d+)?").expect("pattern compiles"));
static WHITESPACE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").expect("pattern compiles"));

/// Scrubs and normalizes error texts. Build once (the patterns take a few milliseconds to
/// compile), share it.
#[derive(Debug, Clone)]
pub struct Normalizer {
    scrubber: Scrubber,
    options: NormalizeOptions,
}

impl Normalizer {
    pub fn new(options: NormalizeOptions) -> Self {
        Normalizer {
            scrubber: Scrubber::new(&[]).expect("built-in scrub patterns compile"),
            options,
        }
    }

    /// Credentials replaced by `[REDACTED:kind]`: what goes into an issue body.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.scrubber.scrub_str(text)
    }

    /// The scrubbed text with every varying part replaced and whitespace collapsed to single
    /// spaces.
    pub fn normalize(&self, text: &str) -> String {
        let mut out: String = self.scrub(text).into_owned();
        for rule in RULES.iter() {
            if let Cow::Owned(replaced) = rule.regex.replace_all(&out, rule.with) {
                out = replaced;
            }
        }
        if self.options.ignore_line_numbers
            && let Cow::Owned(replaced) = LINE_NUMBERS.replace_all(&out, "$1:<n>")
        {
            out = replaced;
        }
        WHITESPACE.replace_all(out.trim(), " ").into_owned()
    }
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer::new(NormalizeOptions::default())
    }
}

/// [`Normalizer::normalize`] with the default options and a shared normalizer.
pub fn normalize(text: &str) -> String {
    static DEFAULT: LazyLock<Normalizer> = LazyLock::new(Normalizer::default);
    DEFAULT.normalize(text)
}

/// Bytes as text: invalid UTF-8 replaced, ANSI escape sequences removed, NULs and other control characters (except newline
/// and tab) dropped, and only the last [`MAX_LOG_BYTES`] kept.
pub fn text_of(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(MAX_LOG_BYTES);
    let text = String::from_utf8_lossy(&bytes[start..]);
    let text = RULES[0].regex.replace_all(&text, "");
    text.chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect()
}
