//! GraphQL mutations: `createIssue`, `updateIssue`, `closeIssue`, `reopenIssue`, `addComment`,
//! `addLabelsToLabelable`, `removeLabelsFromLabelable`.
//! They are applied to the model first; their payloads are projected afterwards like any
//! other object.

use serde_json::{Map, Value};

use super::exec::{Args, FieldError, Out};
use super::schema::{Obj, client_mutation_id};
use crate::auth::Caller;
use crate::model::{IssuePatch, IssueState, Model, NewIssue, RepoIdx, Undo};

/// What a mutation did, enough to build its payload from the updated model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Issue {
        payload: &'static str,
        repo: RepoIdx,
        number: u64,
        client_id: Option<String>,
    },
    Comment {
        repo: RepoIdx,
        number: u64,
        comment_id: u64,
        client_id: Option<String>,
    },
}

impl Outcome {
    pub fn project<'m>(&self, model: &'m Model) -> Out<'m> {
        match self {
            Outcome::Issue {
                payload,
                repo,
                number,
                client_id,
            } => {
                let r = &model.repos[*repo];
                let issue = Out::Obj(Obj::Issue(r, r.issue(*number).expect("mutated issue exists")));
                // Label mutations name the changed object `labelable`.
                let key = if payload.ends_with("LabelablePayload") {
                    "labelable"
                } else {
                    "issue"
                };
                Out::Obj(Obj::Value(
                    payload,
                    vec![(key, issue), ("clientMutationId", client_mutation_id(client_id))],
                ))
            }
            Outcome::Comment {
                repo,
                number,
                comment_id,
                client_id,
            } => {
                let r = &model.repos[*repo];
                let i = r.issue(*number).expect("commented issue exists");
                let idx = i
                    .comments
                    .iter()
                    .position(|c| c.id == *comment_id)
                    .expect("comment exists");
                let node = Out::Obj(Obj::Comment(r, i, &i.comments[idx]));
                let edge = |t| {
                    Out::Obj(Obj::Value(
                        t,
                        vec![
                            ("cursor", Out::str(hex::encode(format!("cursor:{idx}")))),
                            ("node", node.clone()),
                        ],
                    ))
                };
                Out::Obj(Obj::Value(
                    "AddCommentPayload",
                    vec![
                        ("commentEdge", edge("IssueCommentEdge")),
                        ("timelineEdge", edge("IssueTimelineItemEdge")),
                        ("subject", Out::Obj(Obj::Issue(r, i))),
                        ("clientMutationId", client_mutation_id(client_id)),
                    ],
                ))
            }
        }
    }
}

fn missing(field: &str, input_type: &str, arg: &str) -> FieldError {
    FieldError::Invalid(format!(
        "Argument '{arg}' on InputObject '{input_type}' is required. Expected type {}! (field '{field}')",
        if arg.ends_with("Id") || arg == "id" {
            "ID"
        } else {
            "String"
        }
    ))
}

fn unresolvable(id: &str) -> FieldError {
    FieldError::failed(
        "NOT_FOUND",
        format!("Could not resolve to a node with the global id of '{id}'"),
    )
}

fn ids(input: &Map<String, Value>, key: &str) -> Option<Vec<String>> {
    input
        .get(key)?
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
}

/// Applies mutation root field `field` for an authenticated `caller` (the pipeline refuses
/// anonymous GraphQL); every write first pushes its way back onto `undo`.
pub fn apply(
    model: &mut Model,
    caller: &Caller,
    field: &str,
    args: &Args<'_>,
    undo: &mut Vec<Undo>,
) -> Result<Outcome, FieldError> {
    let login = caller.login.clone().unwrap_or_default();
    let input = match args.get("input") {
        Some(Value::Object(m)) => m,
        _ => {
            return Err(FieldError::Invalid(format!(
                "Argument 'input' on Field '{field}' has an invalid value. Expected type '{}Input!'.",
                upper_first(field)
            )));
        }
    };
    let s = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_owned);
    let client_id = s("clientMutationId");
    // Resolves an issue node the caller can see, and whether they may change it.
    let find_issue = |model: &Model, key: &str, input_type: &str| -> Result<(RepoIdx, u64, bool), FieldError> {
        let id = s(key).ok_or_else(|| missing(field, input_type, key))?;
        let (ri, n) = model.issue_by_node_id(&id).ok_or_else(|| unresolvable(&id))?;
        let r = &model.repos[ri];
        if !caller.can_read(r) {
            return Err(unresolvable(&id));
        }
        let author = r.issue(n).is_some_and(|i| i.user.eq_ignore_ascii_case(&login));
        Ok((ri, n, caller.can_push(r) || author))
    };
    let forbidden = |what: &str| {
        FieldError::failed(
            "FORBIDDEN",
            format!("{login} does not have the correct permissions to execute `{what}`"),
        )
    };
    match field {
        "createIssue" => {
            let rid = s("repositoryId").ok_or_else(|| missing(field, "CreateIssueInput", "repositoryId"))?;
            let title = s("title").ok_or_else(|| missing(field, "CreateIssueInput", "title"))?;
            let ri = model
                .repo_by_node_id(&rid)
                .filter(|&ri| caller.can_read(&model.repos[ri]))
                .ok_or_else(|| unresolvable(&rid))?;
            let push = caller.can_push(&model.repos[ri]);
            let (labels, assignees) = labels_assignees(model, ri, push, &input);
            let new = NewIssue {
                title,
                body: s("body"),
                labels: labels.unwrap_or_default(),
                assignees: assignees.unwrap_or_default(),
            };
            undo.push(model.undo_point(ri, None));
            let number = model.create_issue(ri, &login, new);
            Ok(Outcome::Issue {
                payload: "CreateIssuePayload",
                repo: ri,
                number,
                client_id,
            })
        }
        "updateIssue" | "closeIssue" | "reopenIssue" => {
            let (key, input_type, payload) = match field {
                "updateIssue" => ("id", "UpdateIssueInput", "UpdateIssuePayload"),
                "closeIssue" => ("issueId", "CloseIssueInput", "CloseIssuePayload"),
                _ => ("issueId", "ReopenIssueInput", "ReopenIssuePayload"),
            };
            let (ri, number, may) = find_issue(model, key, input_type)?;
            if !may {
                return Err(forbidden(&upper_first(field)));
            }
            let push = caller.can_push(&model.repos[ri]);
            let mut patch = IssuePatch::default();
            match field {
                "closeIssue" => {
                    patch.state = Some(IssueState::Closed);
                    patch.state_reason = Some(s("stateReason").map_or("completed".into(), |r| r.to_lowercase()));
                }
                "reopenIssue" => patch.state = Some(IssueState::Open),
                _ => {
                    patch.title = s("title");
                    patch.body = input.contains_key("body").then(|| s("body"));
                    patch.state = match s("state").as_deref() {
                        Some("OPEN") => Some(IssueState::Open),
                        Some("CLOSED") => Some(IssueState::Closed),
                        _ => None,
                    };
                    (patch.labels, patch.assignees) = labels_assignees(model, ri, push, &input);
                }
            }
            undo.push(model.undo_point(ri, Some(number)));
            model.update_issue(ri, number, &login, patch);
            Ok(Outcome::Issue {
                payload,
                repo: ri,
                number,
                client_id,
            })
        }
        "addLabelsToLabelable" | "removeLabelsFromLabelable" => {
            let add = field.starts_with("add");
            let (input_type, payload) = if add {
                ("AddLabelsToLabelableInput", "AddLabelsToLabelablePayload")
            } else {
                ("RemoveLabelsFromLabelableInput", "RemoveLabelsFromLabelablePayload")
            };
            let (ri, number, _) = find_issue(model, "labelableId", input_type)?;
            if !caller.can_push(&model.repos[ri]) {
                return Err(forbidden(&upper_first(field)));
            }
            let (named, _) = labels_assignees(model, ri, true, &input);
            let mut labels = model.repos[ri]
                .issue(number)
                .map(|i| i.labels.clone())
                .unwrap_or_default();
            for name in named.unwrap_or_default() {
                let present = labels.iter().position(|l| l.eq_ignore_ascii_case(&name));
                match (add, present) {
                    (true, None) => labels.push(name),
                    (false, Some(at)) => {
                        labels.remove(at);
                    }
                    _ => {}
                }
            }
            let patch = IssuePatch {
                labels: Some(labels),
                ..IssuePatch::default()
            };
            undo.push(model.undo_point(ri, Some(number)));
            model.update_issue(ri, number, &login, patch);
            Ok(Outcome::Issue {
                payload,
                repo: ri,
                number,
                client_id,
            })
        }
        "addComment" => {
            let (ri, number, _) = find_issue(model, "subjectId", "AddCommentInput")?;
            let body = s("body").ok_or_else(|| missing(field, "AddCommentInput", "body"))?;
            undo.push(model.undo_point(ri, Some(number)));
            let comment_id = model.add_comment(ri, number, &login, &body).expect("issue exists");
            Ok(Outcome::Comment {
                repo: ri,
                number,
                comment_id,
                client_id,
            })
        }
        _ => Err(FieldError::Undefined),
    }
}

/// `labelIds` / `assigneeIds` resolved to names; only collaborators may set them.
fn labels_assignees(
    model: &Model,
    ri: RepoIdx,
    push: bool,
    input: &Map<String, Value>,
) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let r = &model.repos[ri];
    let labels = ids(input, "labelIds").map(|ids| {
        r.labels
            .iter()
            .filter(|l| push && ids.contains(&l.node_id()))
            .map(|l| l.name.clone())
            .collect()
    });
    let assignees = ids(input, "assigneeIds").map(|ids| {
        model
            .users
            .iter()
            .filter(|u| push && ids.contains(&u.node_id()))
            .map(|u| u.login.clone())
            .collect()
    });
    (labels, assignees)
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
