//! One test per rule, hostile inputs, and the properties every scrub keeps (idempotent, borrowed
//! when clean, never longer-lived secrets than the input).

use super::*;

fn scrubbed(input: &str) -> String {
    let s = Scrubber::new(&[]).unwrap();
    String::from_utf8(s.scrub(input.as_bytes()).into_owned()).unwrap()
}

const GHP: &str = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";

#[test]
fn github_tokens_of_every_kind() {
    for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
        let token = format!("{prefix}16C7e42F292c6912E7710c838347Ae178B4a");
        assert_eq!(scrubbed(&format!("token {token}.")), "token [REDACTED:github-token].");
    }
    let pat = "github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHI";
    assert_eq!(
        scrubbed(&format!("{{\"t\":\"{pat}\"}}")),
        "{\"t\":\"[REDACTED:github-token]\"}"
    );
    // Placeholders in documentation stay readable.
    assert_eq!(
        scrubbed("use ghp_xxx or github_pat_xxx"),
        "use ghp_xxx or github_pat_xxx"
    );
}

#[test]
fn bearer_and_basic_credentials_keep_their_scheme_word() {
    assert_eq!(
        scrubbed("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_"),
        "Authorization: Bearer [REDACTED:bearer]"
    );
    assert_eq!(
        scrubbed("authorization: basic dXNlcjpwYXNz\n"),
        "authorization: basic [REDACTED:basic]\n"
    );
    assert_eq!(scrubbed("Basic YTpiYw=="), "Basic [REDACTED:basic]");
}

#[test]
fn prose_about_bearer_and_basic_auth_is_left_alone() {
    for prose in [
        "Use basic authentication or bearer authentication.",
        "The bearer of this letter",
        "Basic info: none",
        "Bearer tokenization_schemes",
    ] {
        assert_eq!(scrubbed(prose), prose);
    }
}

#[test]
fn aws_keys() {
    assert_eq!(scrubbed("id=AKIAIOSFODNN7EXAMPLE,"), "id=[REDACTED:aws-access-key-id],");
    assert_eq!(scrubbed("ASIAIOSFODNN7EXAMPLE"), "[REDACTED:aws-access-key-id]");
    assert_eq!(
        scrubbed("XAKIAIOSFODNN7EXAMPLE"),
        "XAKIAIOSFODNN7EXAMPLE",
        "inside a word"
    );
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    assert_eq!(
        scrubbed(&format!("aws_secret_access_key = {secret}\n")),
        "aws_secret_access_key = [REDACTED:aws-secret-access-key]\n"
    );
    assert_eq!(
        scrubbed(&format!("AWS_SECRET_ACCESS_KEY={secret}")),
        "AWS_SECRET_ACCESS_KEY=[REDACTED:aws-secret-access-key]"
    );
    assert_eq!(
        scrubbed(&format!("{{\"aws_secret_access_key\": \"{secret}\"}}")),
        "{\"aws_secret_access_key\": \"[REDACTED:aws-secret-access-key]\"}"
    );
}

#[test]
fn private_key_blocks_raw_and_json_escaped() {
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----";
    assert_eq!(scrubbed(&format!("a\n{pem}\nb")), "a\n[REDACTED:private-key]\nb");
    let json =
        r#"{"body":"key: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----\n"}"#;
    assert_eq!(scrubbed(json), r#"{"body":"key: [REDACTED:private-key]\n"}"#);
    let pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQ\n-----END PGP PRIVATE KEY BLOCK----- tail";
    assert_eq!(scrubbed(pgp), "[REDACTED:private-key] tail");
    // Two blocks stay two blocks; the text between them survives.
    assert_eq!(
        scrubbed(&format!("{pem} mid {pem}")),
        "[REDACTED:private-key] mid [REDACTED:private-key]"
    );
    // Public keys and certificates are not secrets.
    let public = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----";
    assert_eq!(scrubbed(public), public);
}

#[test]
fn a_truncated_private_key_is_redacted_to_the_end() {
    assert_eq!(
        scrubbed("log: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI"),
        "log: [REDACTED:private-key]"
    );
}

#[test]
fn urls_with_credentials_keep_scheme_and_host() {
    assert_eq!(
        scrubbed("clone https://user:hunter2@github.com/o/r.git"),
        "clone https://[REDACTED:url-credentials]@github.com/o/r.git"
    );
    assert_eq!(
        scrubbed(&format!("https://x-access-token:{GHP}@github.com")),
        "https://[REDACTED:url-credentials]@github.com"
    );
    // A token alone before the host is a token.
    assert_eq!(
        scrubbed(&format!("https://{GHP}@github.com")),
        "https://[REDACTED:github-token]@github.com"
    );
    for clean in [
        "https://api.github.com/repos/o/r?page=2",
        "mailto:someone@example.com",
        "https://user@github.com/",
        "see https://github.com/o/r/issues/1 and email me@x.y",
    ] {
        assert_eq!(scrubbed(clean), clean);
    }
}

#[test]
fn clean_input_is_borrowed_not_copied() {
    let s = Scrubber::new(&[]).unwrap();
    let body =
        br#"[{"url":"https://api.github.com/repos/o/r/issues/1","title":"Basic question","user":{"login":"u"}}]"#;
    assert!(matches!(s.scrub(body), Cow::Borrowed(_)));
    assert!(matches!(s.scrub(b""), Cow::Borrowed(_)));
    assert!(matches!(s.scrub_str("plain"), Cow::Borrowed("plain")));
}

#[test]
fn bytes_that_are_not_utf8_are_scrubbed_around() {
    let s = Scrubber::new(&[]).unwrap();
    let mut input = vec![0xff, 0xfe, b' '];
    input.extend_from_slice(GHP.as_bytes());
    input.extend_from_slice(&[b' ', 0xc3]);
    let mut expected = vec![0xff, 0xfe, b' '];
    expected.extend_from_slice(b"[REDACTED:github-token]");
    expected.extend_from_slice(&[b' ', 0xc3]);
    assert_eq!(s.scrub(&input).as_ref(), expected.as_slice());
}

#[test]
fn extra_patterns_are_redacted_and_bad_ones_refused() {
    let s = Scrubber::new(&["corp-[0-9]{6}", r"(?i)internal\.example\.(com|net)"]).unwrap();
    assert_eq!(
        s.scrub_str("id corp-123456 at Internal.Example.NET").as_ref(),
        "id [REDACTED:extra] at [REDACTED:extra]"
    );
    assert_eq!(
        s.scrub_str(GHP).as_ref(),
        "[REDACTED:github-token]",
        "built-ins still apply"
    );

    let err = Scrubber::new(&["ok", "(unclosed"]).unwrap_err();
    assert!(matches!(&err, ScrubPatternError::Invalid { pattern, .. } if pattern == "(unclosed"));
    assert!(err.to_string().contains("fix or remove it"), "{err}");
    let err = Scrubber::new(&["a*"]).unwrap_err();
    assert!(matches!(err, ScrubPatternError::MatchesEmpty(_)), "{err}");
    // A pattern that would leak out of its group is refused alone, before it is combined.
    assert!(Scrubber::new(&["a)|(b"]).is_err());
}

#[test]
fn header_lists_lose_credentials_and_token_details() {
    let s = Scrubber::new(&[]).unwrap();
    let mut headers: Vec<(String, String)> = [
        ("Content-Type", "application/json"),
        ("Set-Cookie", "_gh_sess=abc"),
        ("set-cookie", "logged_in=yes"),
        ("Authorization", "token x"),
        (
            "X-GitHub-SSO",
            "required; url=https://github.com/orgs/o/sso?authorization_request=A",
        ),
        ("X-OAuth-Scopes", "repo, workflow"),
        ("github-authentication-token-expiration", "2030-01-01 00:00:00 UTC"),
        ("Location", "https://u:p@example.com/x"),
        ("Link", "<https://api.github.com/repos/o/r/issues?page=2>; rel=\"next\""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    s.scrub_headers(&mut headers);
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["Content-Type", "Location", "Link"]);
    assert_eq!(headers[1].1, "https://[REDACTED:url-credentials]@example.com/x");
    assert!(headers[2].1.starts_with("<https://api.github.com/"));
}

#[test]
fn scrubbing_is_idempotent_and_leaves_no_known_secret() {
    use rand::{Rng, SeedableRng};
    let pieces = [
        GHP,
        "AKIAIOSFODNN7EXAMPLE",
        "Bearer abcdefGHIJKLmnop1234",
        "Basic dXNlcjpwYXNz",
        "https://a:b@h/",
        "-----BEGIN PRIVATE KEY-----",
        "-----END PRIVATE KEY-----",
        "aws_secret_access_key=",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        " ",
        "\n",
        "\"",
        "x",
        "@",
        ":",
        "[REDACTED:bearer]",
    ];
    let s = Scrubber::new(&[]).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..2000 {
        let n = rng.random_range(0..12);
        // Pieces meet at separators: a token running straight into `Bearer` would swallow it.
        let input: String = (0..n)
            .map(|_| {
                format!(
                    "{}{}",
                    pieces[rng.random_range(0..pieces.len())],
                    [" ", "\n", ",", "\""][rng.random_range(0..4)]
                )
            })
            .collect();
        let once = s.scrub(input.as_bytes()).into_owned();
        let twice = s.scrub(&once).into_owned();
        assert_eq!(once, twice, "not idempotent on {input:?}");
        let text = String::from_utf8(once).unwrap();
        for secret in [GHP, "AKIAIOSFODNN7EXAMPLE", "dXNlcjpwYXNz", "abcdefGHIJKLmnop1234"] {
            assert!(!text.contains(secret), "{secret} survived in {text:?} from {input:?}");
        }
    }
}

#[test]
fn hostile_inputs_terminate_quickly() {
    let s = Scrubber::new(&[]).unwrap();
    // Many openers with no closer, many near-misses: linear time, not quadratic.
    for unit in [
        "-----BEGIN PRIVATE KEY",
        "https://a:",
        "Basic auth ",
        "ghp_short ",
        "Bearer ",
    ] {
        let input = unit.repeat(20_000);
        let start = std::time::Instant::now();
        let _ = s.scrub(input.as_bytes());
        assert!(start.elapsed().as_secs() < 5, "{unit:?} took {:?}", start.elapsed());
    }
}
