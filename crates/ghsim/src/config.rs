//! Simulator configuration: tokens and what they may read, rate limits, seed size, path prefix.

/// Token of `alice`: sees every repository (she owns the private `octo/secret`).
pub const TOKEN_ALICE: &str = "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d";
/// Token of `bob`: public repositories only, so `octo/secret` answers 404.
pub const TOKEN_BOB: &str = "ghp_KLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFR";
/// Token of `carol`: sees every repository, like alice; a second identity with full access.
pub const TOKEN_CAROL: &str = "ghp_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7";

/// Everything a simulator instance is built from.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// `""` for github.com, or e.g. `"/api/v3"` to pose as GitHub Enterprise Server.
    pub prefix: String,
    pub tokens: Vec<TokenSpec>,
    pub limits: Limits,
    /// Concurrent requests (REST and GraphQL together) above which the secondary limit answers 403.
    pub max_in_flight: usize,
    pub seed: Seed,
    /// When set, ETags are computed by another formula than FACTS.md's (as if GitHub changed
    /// it), so a client's recomputed ETags stop matching while its own stored ones still do.
    pub etag_salt: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            prefix: String::new(),
            tokens: default_tokens(),
            limits: Limits::default(),
            max_in_flight: 100,
            seed: Seed::default(),
            etag_salt: None,
        }
    }
}

impl SimConfig {
    /// Where GraphQL lives relative to the prefix: GHES serves REST at `/api/v3` and GraphQL at
    /// `/api/graphql`; any other prefix simply gets `/graphql` appended.
    pub fn graphql_path(&self) -> String {
        match self.prefix.strip_suffix("/v3") {
            Some(base) => format!("{base}/graphql"),
            None => format!("{}/graphql", self.prefix),
        }
    }
}

/// The three default tokens: alice and carol see everything, bob only public repositories.
pub fn default_tokens() -> Vec<TokenSpec> {
    vec![
        TokenSpec::new(TOKEN_ALICE, "alice", Access::All),
        TokenSpec::new(TOKEN_BOB, "bob", Access::Public),
        TokenSpec::new(TOKEN_CAROL, "carol", Access::All),
    ]
}

/// A token the simulator accepts, and who it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    pub token: String,
    pub login: String,
    pub access: Access,
}

impl TokenSpec {
    pub fn new(token: &str, login: &str, access: Access) -> Self {
        TokenSpec {
            token: token.to_owned(),
            login: login.to_owned(),
            access,
        }
    }
}

/// Which repositories a token can read. Public repositories are readable by every token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Every repository, with push rights (a collaborator everywhere).
    All,
    /// Public repositories only, read-only.
    Public,
    /// Public repositories plus these `"owner/repo"` names, with push rights on the listed ones.
    Only(Vec<String>),
}

impl Access {
    /// Whether the holder has push rights on `full_name` (decides private visibility, label
    /// creation and editing other people's issues).
    pub fn is_collaborator(&self, full_name: &str) -> bool {
        match self {
            Access::All => true,
            Access::Public => false,
            Access::Only(names) => names.iter().any(|n| n.eq_ignore_ascii_case(full_name)),
        }
    }
}

/// Primary rate limits per login and resource (anonymous callers share one bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// REST requests per hour.
    pub core: u64,
    /// Search requests per minute (anonymous callers get at most 10, as on GitHub).
    pub search: u64,
    /// GraphQL points per hour.
    pub graphql: u64,
    /// REST requests per hour without a token.
    pub anonymous_core: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            core: 5000,
            search: 30,
            graphql: 5000,
            anonymous_core: 60,
        }
    }
}

/// Size of the generated data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seed {
    /// Issues in the public repository `octo/hello` (the private `octo/secret` gets at most 5).
    pub issues_per_repo: usize,
}

impl Default for Seed {
    fn default() -> Self {
        Seed { issues_per_repo: 120 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_look_like_personal_access_tokens() {
        for t in [TOKEN_ALICE, TOKEN_BOB, TOKEN_CAROL] {
            let rest = t.strip_prefix("ghp_").expect("ghp_ prefix");
            assert_eq!(rest.len(), 36);
            assert!(rest.chars().all(|c| c.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn graphql_path_follows_prefix() {
        let mut c = SimConfig::default();
        assert_eq!(c.graphql_path(), "/graphql");
        c.prefix = "/api/v3".into();
        assert_eq!(c.graphql_path(), "/api/graphql");
        c.prefix = "/gh".into();
        assert_eq!(c.graphql_path(), "/gh/graphql");
    }
}
