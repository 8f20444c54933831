//! Just enough GraphQL understanding to cache safely: is this a query or a mutation, which
//! repository do its variables name, and does it read only that repository?
//!
//! Deliberately conservative: anything that might be a mutation is treated as one, and a query
//! is shareable across tokens only if its root fields are `repository` (and harmless
//! `rateLimit` / `__typename`), it names the repository through its variables, and it asks for
//! nothing that reaches other repositories or depends on the viewer.

use serde_json::Value;

#[derive(Debug, PartialEq, Eq)]
pub enum GraphqlOp {
    Query {
        /// `owner/repo` from the variables (`owner` with `repo` or `name`), lower-cased.
        repo: Option<String>,
        /// True when the answer depends only on that repository.
        shareable: bool,
        /// True when the repository's REST indicators (its own record and its most recently
        /// updated issue or pull request) change whenever the answer would.
        indicators_cover: bool,
    },
    Mutation,
    Other,
}

/// Root fields that read nothing beyond the named repository.
const SHAREABLE_ROOTS: &[&str] = &["repository", "rateLimit", "__typename"];

/// Parts of a repository whose changes do not show in the repository record nor in any issue's
/// or pull request's `updated_at`: a query reading them is revalidated only by refetching.
const NOT_COVERED: &[&str] = &[
    "releases",
    "latestRelease",
    "release",
    "refs",
    "ref",
    "defaultBranchRef",
    "object",
    "history",
    "checkSuites",
    "statusCheckRollup",
    "deployments",
    "environments",
    "discussions",
    "discussion",
    "milestones",
    "milestone",
    "projects",
    "projectsV2",
    "packages",
    "collaborators",
    "vulnerabilityAlerts",
    "rateLimit",
];

/// Fields that reach other repositories or answer per viewer.
const REACHING: &[&str] = &[
    "timelineItems",
    "timeline",
    "crossReferencedEvent",
    "CrossReferencedEvent",
    "closedByPullRequestsReferences",
    "repositories",
    "parent",
    "source",
    "forks",
    "search",
    "organization",
    "user",
    "node",
];

pub fn analyze(body: &[u8]) -> GraphqlOp {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return GraphqlOp::Other;
    };
    let Some(query) = v.get("query").and_then(Value::as_str) else {
        return GraphqlOp::Other;
    };
    let tokens = tokenize(query);
    if tokens.iter().any(|t| t == "mutation") {
        return GraphqlOp::Mutation;
    }
    if tokens.iter().any(|t| t == "subscription") {
        return GraphqlOp::Other;
    }
    let vars = v.get("variables");
    let var = |name: &str| vars.and_then(|x| x.get(name)).and_then(Value::as_str);
    let repo = match (var("owner"), var("repo").or_else(|| var("name"))) {
        (Some(o), Some(r)) if !o.is_empty() && !r.is_empty() && !o.contains('/') && !r.contains('/') => {
            Some(format!("{}/{}", o.to_ascii_lowercase(), r.to_ascii_lowercase()))
        }
        _ => None,
    };
    let shareable = repo.is_some()
        && root_fields(&tokens).is_some_and(|roots| {
            roots.iter().any(|r| r == "repository") && roots.iter().all(|r| SHAREABLE_ROOTS.contains(&r.as_str()))
        })
        && !tokens
            .iter()
            .any(|t| REACHING.contains(&t.as_str()) || t.starts_with("viewer"));
    let indicators_cover = shareable && !tokens.iter().any(|t| NOT_COVERED.contains(&t.as_str()));
    GraphqlOp::Query {
        repo,
        shareable,
        indicators_cover,
    }
}

/// Names and punctuation, with strings and comments removed.
fn tokenize(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                // Strings (block strings too) carry no structure: skip to the closing quote.
                let mut escaped = false;
                for n in chars.by_ref() {
                    match (escaped, n) {
                        (true, _) => escaped = false,
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => {}
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = c.to_string();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(name);
            }
            '{' | '}' | '(' | ')' | ':' | '.' => out.push(c.to_string()),
            _ => {}
        }
    }
    out
}

/// Field names directly inside the operation's selection set. `None` unless the document has
/// exactly one operation (fragment definitions beside it are fine) and no spread at its root.
fn root_fields(tokens: &[String]) -> Option<Vec<String>> {
    let mut depth = 0usize;
    let mut parens = 0usize;
    let mut roots = Vec::new();
    let mut operations = 0;
    // Whether the top-level definition being read is a fragment (its fields are not roots).
    let mut in_fragment = false;
    let mut header_start = true;
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        if depth == 0 && parens == 0 && header_start && t != "{" {
            in_fragment = t == "fragment";
            header_start = false;
        }
        match t {
            "(" => parens += 1,
            ")" => parens = parens.saturating_sub(1),
            "{" if parens == 0 => {
                if depth == 0 && !in_fragment {
                    operations += 1;
                }
                depth += 1;
            }
            "}" if parens == 0 => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    header_start = true;
                    in_fragment = false;
                }
            }
            "." if depth == 1 && parens == 0 && !in_fragment => return None,
            _ if depth == 1 && parens == 0 && !in_fragment && t != ":" && t != "." => {
                // `alias: field` names `field`.
                if tokens.get(i + 1).is_some_and(|n| n == ":") {
                    i += 2;
                    roots.push(tokens.get(i)?.clone());
                } else {
                    roots.push(t.to_owned());
                }
            }
            _ => {}
        }
        i += 1;
    }
    (operations == 1).then_some(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(query: &str, vars: &str) -> GraphqlOp {
        let body = serde_json::json!({ "query": query, "variables": serde_json::from_str::<Value>(vars).unwrap() });
        analyze(body.to_string().as_bytes())
    }

    fn shareable(query: &str) -> bool {
        matches!(
            op(query, r#"{"owner":"o","repo":"r"}"#),
            GraphqlOp::Query { shareable: true, .. }
        )
    }

    #[test]
    fn repository_queries_named_by_variables_are_shareable() {
        assert!(shareable(
            "query IssueList($owner: String!, $repo: String!) { repository(owner: $owner, name: $repo) { hasIssuesEnabled issues(first: 30, states: [OPEN]) { totalCount nodes { number title labels(first: 100) { nodes { name } } } } } }"
        ));
        assert!(shareable(
            "query($owner:String!,$repo:String!){ r: repository(owner:$owner,name:$repo){ id } rateLimit { remaining } }"
        ));
    }

    #[test]
    fn gh_issue_list_is_shareable() {
        // What Debian's gh 2.23 sends for `gh issue list -R octo/hello`.
        let q = "fragment issue on Issue {number,title,url,state,updatedAt,labels(first:100){nodes{id,name,description,color},totalCount},stateReason}\n\tquery IssueList($owner: String!, $repo: String!, $limit: Int, $endCursor: String, $states: [IssueState!] = OPEN, $assignee: String, $author: String, $mention: String) {\n\t\trepository(owner: $owner, name: $repo) {\n\t\t\thasIssuesEnabled\n\t\t\tissues(first: $limit, after: $endCursor, orderBy: {field: CREATED_AT, direction: DESC}, states: $states, filterBy: {assignee: $assignee, createdBy: $author, mentioned: $mention}) {\n\t\t\t\ttotalCount\n\t\t\t\tnodes {\n\t\t\t\t\t...issue\n\t\t\t\t}\n\t\t\t\tpageInfo {\n\t\t\t\t\thasNextPage\n\t\t\t\t\tendCursor\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}";
        assert_eq!(
            op(q, r#"{"limit":30,"owner":"octo","repo":"hello","states":["OPEN"]}"#),
            GraphqlOp::Query {
                repo: Some("octo/hello".into()),
                shareable: true,
                indicators_cover: true
            }
        );
        assert!(shareable(
            "query($owner:String!,$repo:String!){ repository(owner:$owner,name:$repo){ ...F } } fragment F on Repository { id }"
        ));
    }

    #[test]
    fn indicators_do_not_cover_releases_or_refs() {
        let q =
            "query($owner:String!,$repo:String!){ repository(owner:$owner,name:$repo){ latestRelease { tagName } } }";
        assert!(matches!(
            op(q, r#"{"owner":"o","repo":"r"}"#),
            GraphqlOp::Query {
                shareable: true,
                indicators_cover: false,
                ..
            }
        ));
    }

    #[test]
    fn queries_that_reach_further_are_not() {
        for q in [
            "{ viewer { login } }",
            "query($owner:String!,$repo:String!){ repository(owner:$owner,name:$repo){ viewerPermission } }",
            "query($owner:String!,$repo:String!){ repository(owner:$owner,name:$repo){ id } viewer { login } }",
            "query($owner:String!,$repo:String!){ repository(owner:$owner,name:$repo){ issue(number:1){ timelineItems(first:5){ totalCount } } } }",
            "query($owner:String!,$repo:String!){ repository(owner:$owner,name:$repo){ parent { nameWithOwner } } }",
            "query($owner:String!,$repo:String!){ repository(owner:$owner,name:$repo){ id } } query B { viewer { login } }",
            "fragment F on Query { viewer { login } } query($owner:String!,$repo:String!){ ...F repository(owner:$owner,name:$repo){ id } }",
            "query($owner:String!,$repo:String!){ ...on Query { repository(owner:$owner,name:$repo){ id } } }",
            "query { search(query:\"repo:o/r\", type: ISSUE, first: 1) { issueCount } }",
        ] {
            assert!(!shareable(q), "{q}");
        }
        assert!(matches!(
            op("query { repository(owner:\"o\", name:\"r\") { id } }", "{}"),
            GraphqlOp::Query {
                repo: None,
                shareable: false,
                ..
            }
        ));
    }

    #[test]
    fn mutations_hide_nowhere() {
        assert_eq!(
            op(
                "mutation { addStar(input:{starrableId:\"x\"}) { clientMutationId } }",
                "{}"
            ),
            GraphqlOp::Mutation
        );
        assert_eq!(op("# comment\n mutation M { x }", "{}"), GraphqlOp::Mutation);
        assert!(
            matches!(
                op("query { repository(owner:\"mutation\", name:\"x\") { id } }", "{}"),
                GraphqlOp::Query { .. }
            ),
            "strings are not keywords"
        );
        assert_eq!(analyze(b"{\"query\": 5}"), GraphqlOp::Other);
        assert_eq!(analyze(b"\xff\xfe"), GraphqlOp::Other);
        assert_eq!(op("subscription { x }", "{}"), GraphqlOp::Other);
    }

    #[test]
    fn variables_must_name_one_repository() {
        assert!(
            matches!(op("query($owner:String!,$name:String!){ repository(owner:$owner,name:$name){ id } }", r#"{"owner":"O","name":"R"}"#), GraphqlOp::Query { repo: Some(r), shareable: true, .. } if r == "o/r")
        );
        assert!(matches!(
            op(
                "query($owner:String!,$repo:String!){ repository(owner:$owner,name:$repo){ id } }",
                r#"{"owner":"o/x","repo":"r"}"#
            ),
            GraphqlOp::Query { repo: None, .. }
        ));
    }
}
