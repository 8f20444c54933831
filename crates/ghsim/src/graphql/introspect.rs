//! Just enough introspection for gh: `__type(name:) { name kind fields { name } }`.

use super::exec::Out;
use super::schema::Obj;

/// Field names per type for `__type(name:)`, space-separated: gh probes `Issue`'s fields on
/// GHES to learn whether `stateReason` exists. The test below checks every name resolves.
const TYPE_FIELDS: &[(&str, &str)] = &[
    (
        "Issue",
        "id databaseId fullDatabaseId number title body bodyText bodyHTML url \
         resourcePath state stateReason closed closedAt createdAt publishedAt updatedAt \
         lastEditedAt milestone activeLockReason editor author authorAssociation locked \
         isPinned includesCreatedEdit viewerDidAuthor viewerCanUpdate viewerCanClose \
         viewerCanReopen repository reactionGroups labels assignees participants comments \
         projectCards projectItems timelineItems",
    ),
    (
        "Repository",
        "id databaseId name nameWithOwner owner description url resourcePath sshUrl \
         homepageUrl mirrorUrl parent templateRepository licenseInfo primaryLanguage \
         isPrivate visibility isFork isArchived isTemplate isEmpty isLocked isMirror \
         isDisabled hasDiscussionsEnabled isSecurityPolicyEnabled deleteBranchOnMerge \
         viewerHasStarred hasIssuesEnabled hasWikiEnabled hasProjectsEnabled \
         mergeCommitAllowed rebaseMergeAllowed squashMergeAllowed forkingAllowed \
         viewerPermission viewerCanAdminister viewerCanCreateProjects \
         viewerCanUpdateTopics createdAt updatedAt pushedAt stargazerCount forkCount \
         diskUsage defaultBranchRef issue issueOrPullRequest issues labels label \
         assignableUsers mentionableUsers collaborators milestones projects projectsV2 \
         pullRequests issueTemplates pullRequestTemplates repositoryTopics",
    ),
    (
        "IssueComment",
        "id databaseId fullDatabaseId body bodyText url author authorAssociation \
         createdAt publishedAt updatedAt lastEditedAt minimizedReason editor \
         includesCreatedEdit isMinimized viewerDidAuthor reactionGroups issue repository",
    ),
    (
        "Label",
        "id name color description isDefault url createdAt updatedAt repository",
    ),
    (
        "User",
        "id databaseId login name url resourcePath avatarUrl email bio company location \
         websiteUrl twitterUsername status createdAt updatedAt isSiteAdmin isBountyHunter \
         isHireable isEmployee isViewer",
    ),
];

/// `__type(name:)` with `name`, `kind` and `fields { name }`; null for types not modelled.
pub(super) fn introspect_type<'m>(name: &str) -> Out<'m> {
    let Some((t, fields)) = TYPE_FIELDS.iter().find(|(t, _)| *t == name) else {
        return Out::Null;
    };
    let fields = fields
        .split_whitespace()
        .map(|f| {
            Out::Obj(Obj::Value(
                "__Field",
                vec![
                    ("name", Out::str(f)),
                    ("isDeprecated", Out::val(false)),
                    ("deprecationReason", Out::Null),
                ],
            ))
        })
        .collect();
    Out::Obj(Obj::Value(
        "__Type",
        vec![
            ("name", Out::str(*t)),
            ("kind", Out::str("OBJECT")),
            ("description", Out::Null),
            ("fields", Out::List(fields)),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::super::exec::Walker;
    use super::super::parse::{AstValue, Field};
    use super::super::schema::{Env, resolve};
    use super::*;
    use crate::auth::Caller;
    use crate::config::{Access, SimConfig};
    use crate::limits::Resource;
    use crate::limits::Snapshot;
    use crate::render::Urls;

    #[test]
    fn every_introspected_field_resolves() {
        let model = crate::seed::build(&SimConfig::default());
        let caller = Caller {
            login: Some("alice".into()),
            access: Access::All,
        };
        let urls = Urls {
            api: "http://h".into(),
            web: "http://h".into(),
        };
        let rate = Snapshot {
            resource: Resource::Graphql,
            limit: 1,
            used: 0,
            reset: 0,
        };
        let env = Env {
            model: &model,
            caller: &caller,
            urls: &urls,
            rate,
            cost: 1,
            node_count: 0,
            mutations: Vec::new(),
        };
        let r = &model.repos[0];
        let i = r.issues.iter().find(|i| !i.comments.is_empty()).unwrap();
        let samples = [
            ("Issue", Obj::Issue(r, i)),
            ("Repository", Obj::Repo(r)),
            ("IssueComment", Obj::Comment(r, i, &i.comments[0])),
            ("Label", Obj::Label(r, &r.labels[0])),
            ("User", Obj::User(&model.users[0])),
        ];
        let vars = serde_json::Map::new();
        let doc = Default::default();
        let walker = Walker { doc: &doc, vars: &vars };
        for (t, obj) in samples {
            let (_, names) = TYPE_FIELDS.iter().find(|(n, _)| *n == t).unwrap();
            for name in names.split_whitespace() {
                let field = Field {
                    alias: None,
                    name: (*name).to_owned(),
                    args: vec![("first".into(), AstValue::Int(1)), ("number".into(), AstValue::Int(1))],
                    directives: Vec::new(),
                    selection: Vec::new(),
                    line: 1,
                    column: 1,
                };
                let got = resolve(&env, &obj, name, &walker.args(&field));
                assert!(got.is_ok(), "{t}.{name}: {got:?}");
            }
        }
    }
}
