//! Scrubbing: removes credentials from bodies, error texts and header lists before anything
//! leaves the machine (peers, IPFS, the Actions cache, issues filed by `report-error`).
//!
//! All patterns (the built-in ones in `rules`, then the caller's extras) are compiled into one
//! regex, so a body without secrets, the common case, costs a single DFA scan and no copy.
//! Each secret is replaced by `[REDACTED:<kind>]`, which is valid inside a JSON string.

mod rules;
#[cfg(test)]
mod tests;

use regex::bytes::{CaptureLocations, Regex};
use std::borrow::Cow;
use std::ops::Range;

/// Response headers that are never shared: they carry credentials or describe the token that
/// fetched the response rather than the response.
pub const DROPPED_HEADERS: &[&str] = &[
    "set-cookie",
    "cookie",
    "authorization",
    "proxy-authorization",
    "x-github-sso",
    "x-oauth-scopes",
    "x-oauth-client-id",
    "github-authentication-token-expiration",
    "x-github-otp",
];

#[derive(Debug, thiserror::Error)]
pub enum ScrubPatternError {
    #[error("extra scrub pattern {pattern:?} is not a valid regular expression: {source}; fix or remove it")]
    Invalid {
        pattern: String,
        #[source]
        source: Box<regex::Error>,
    },
    #[error("extra scrub pattern {0:?} matches the empty string, so it would match everywhere; make it stricter")]
    MatchesEmpty(String),
}

/// A compiled set of secret patterns. Build once (compiling takes a few milliseconds), share it.
#[derive(Debug, Clone)]
pub struct Scrubber {
    regex: Regex,
    kinds: Vec<Kind>,
}

#[derive(Debug, Clone)]
struct Kind {
    marker: Vec<u8>,
    /// Capture group of the whole rule, and of its secret part when only that is replaced.
    group: usize,
    secret_group: Option<usize>,
    verify: fn(&[u8]) -> bool,
}

impl Scrubber {
    /// The built-in patterns plus `extra` regular expressions (regex crate syntax, matched over
    /// bytes; each match becomes `[REDACTED:extra]`).
    pub fn new(extra: &[&str]) -> Result<Self, ScrubPatternError> {
        let mut alternatives = Vec::new();
        let mut kinds = Vec::new();
        let mut next_group = 1;
        let mut add = |alternative: String, marker: &str, inner_groups: usize, secret: bool, verify| {
            alternatives.push(alternative);
            kinds.push(Kind {
                marker: format!("[REDACTED:{marker}]").into_bytes(),
                group: next_group,
                secret_group: secret.then_some(next_group + 1),
                verify,
            });
            next_group += 1 + inner_groups;
        };
        for rule in rules::RULES {
            let groups = group_count(rule.pattern).expect("built-in scrub patterns compile");
            add(
                format!("(?-u:({}))", rule.pattern),
                rule.name,
                groups,
                groups == 1,
                rule.verify,
            );
        }
        for pattern in extra {
            let invalid = |source| ScrubPatternError::Invalid {
                pattern: pattern.to_string(),
                source: Box::new(source),
            };
            let alone = Regex::new(pattern).map_err(invalid)?;
            if alone.is_match(b"") {
                return Err(ScrubPatternError::MatchesEmpty(pattern.to_string()));
            }
            add(format!("({pattern})"), "extra", alone.captures_len() - 1, false, |_| {
                true
            });
        }
        let regex = Regex::new(&alternatives.join("|")).map_err(|source| ScrubPatternError::Invalid {
            pattern: extra.join(" | "),
            source: Box::new(source),
        })?;
        Ok(Scrubber { regex, kinds })
    }

    /// The input with every secret replaced; borrowed (no copy) when there was none.
    pub fn scrub<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        let mut locations = self.regex.capture_locations();
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut at = 0;
        while at <= input.len() {
            let Some(found) = self.regex.captures_read_at(&mut locations, input, at) else {
                break;
            };
            let Some((kind, secret)) = self.secret_in(&locations) else {
                break;
            };
            if found.range().is_empty() || !(kind.verify)(&input[secret.clone()]) {
                // Not a secret after all; a real one may still start inside this match.
                at = found.start() + 1;
                continue;
            }
            let out = out.get_or_insert_with(|| Vec::with_capacity(input.len()));
            out.extend_from_slice(&input[copied..secret.start]);
            out.extend_from_slice(&kind.marker);
            copied = secret.end;
            at = found.end();
        }
        match out {
            None => Cow::Borrowed(input),
            Some(mut out) => {
                out.extend_from_slice(&input[copied..]);
                Cow::Owned(out)
            }
        }
    }

    /// [`Scrubber::scrub`] for text such as error messages.
    pub fn scrub_str<'a>(&self, input: &'a str) -> Cow<'a, str> {
        match self.scrub(input.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(input),
            // Built-in patterns cut only at ASCII bytes; an extra pattern might split a character.
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// Drops [`DROPPED_HEADERS`] (any case) and scrubs the values of the rest.
    pub fn scrub_headers(&self, headers: &mut Vec<(String, String)>) {
        headers.retain(|(name, _)| !DROPPED_HEADERS.iter().any(|d| name.trim().eq_ignore_ascii_case(d)));
        for (_, value) in headers.iter_mut() {
            if let Cow::Owned(clean) = self.scrub_str(value) {
                *value = clean;
            }
        }
    }

    /// Which rule matched, and the span to replace.
    fn secret_in(&self, locations: &CaptureLocations) -> Option<(&Kind, Range<usize>)> {
        self.kinds.iter().find_map(|kind| {
            let (start, end) = locations.get(kind.group)?;
            let (start, end) = kind.secret_group.and_then(|g| locations.get(g)).unwrap_or((start, end));
            Some((kind, start..end))
        })
    }
}

fn group_count(pattern: &str) -> Result<usize, regex::Error> {
    Ok(Regex::new(&format!("(?-u:{pattern})"))?.captures_len() - 1)
}
