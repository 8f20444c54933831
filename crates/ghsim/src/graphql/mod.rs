//! `POST /graphql`: parse the request, charge its cost on the `graphql` resource (answering
//! HTTP 200 with a `RATE_LIMITED` error when it does not fit, as GitHub does), apply
//! mutations, project the result, and undo the mutations when the request proved invalid.

mod exec;
mod introspect;
mod lex;
mod mutation;
mod objects;
mod parse;
mod schema;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::limits::Resource;
use crate::pipeline::Charged;
use crate::rest::{ApiError, Ctx, json_response};
use crate::state::{SimState, lock};
use exec::{Projector, Walker, bind_variables, connection_requests, cost, pick_operation};
use parse::OpKind;
use schema::{Env, Obj};

const DOCS: &str = "https://docs.github.com/graphql";

fn errors(errors: Value) -> Response {
    json_response(StatusCode::OK, &json!({ "errors": errors }))
}

pub async fn handle(State(st): State<SimState>, Extension(ctx): Extension<Ctx>, body: Bytes) -> Response {
    let req = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        _ => return ApiError::bad_json(DOCS).into_response(),
    };
    let Some(query) = req.get("query").and_then(Value::as_str) else {
        return errors(json!([{"message": "A query attribute must be specified and must be a string."}]));
    };
    let doc = match parse::parse(query) {
        Ok(d) => d,
        Err(e) => {
            return errors(json!([{"message": e.message, "locations": [{"line": e.line, "column": e.column}]}]));
        }
    };
    let op = match pick_operation(&doc, req.get("operationName").and_then(Value::as_str)) {
        Ok(op) => op,
        Err(message) => return errors(json!([{ "message": message }])),
    };
    if op.kind == OpKind::Subscription {
        return errors(json!([{"message": "Subscriptions are not supported"}]));
    }
    let vars = bind_variables(op, req.get("variables").and_then(Value::as_object));
    let walker = Walker { doc: &doc, vars: &vars };
    let undefined = walker.undefined_fragments();
    if !undefined.is_empty() {
        let errs: Vec<Value> = undefined
            .iter()
            .map(|n| json!({"message": format!("Fragment {n} was used, but not defined")}))
            .collect();
        return errors(Value::Array(errs));
    }

    let (requests, node_count) = connection_requests(&walker, op);
    let cost = cost(requests);
    let dry_run = walker
        .collect(Some("Query"), &[&op.selection])
        .iter()
        .any(|(_, fs)| fs[0].name == "rateLimit" && walker.args(fs[0]).bool("dryRun") == Some(true));
    let caller = &ctx.caller;
    // Never hold the limiter and the model locks together (no lock-order worries).
    let taken = if dry_run {
        Ok(lock(&st.shared().limiter).peek(caller, Resource::Graphql))
    } else {
        lock(&st.shared().limiter).try_consume(caller, Resource::Graphql, cost)
    };
    let Ok(rate) = taken else {
        let id = caller
            .login
            .as_deref()
            .and_then(|l| lock(&st.shared().model).user(l).map(|u| u.id));
        return errors(json!([{
            "type": "RATE_LIMITED",
            "code": "graphql_rate_limit",
            "message": format!("API rate limit already exceeded for user ID {}.", id.unwrap_or(0)),
        }]));
    };
    let charged = if dry_run { 0 } else { cost };

    let mut model = lock(&st.shared().model);
    // Mutations write first; if the response then fails validation they are undone, so that
    // an invalid request changes nothing (as GitHub validates before executing).
    let mut undo = Vec::new();
    let mut mutations = Vec::new();
    if op.kind == OpKind::Mutation {
        for (key, fields) in walker.collect(Some("Mutation"), &[&op.selection]) {
            let f = fields[0];
            if f.name != "__typename" {
                let outcome = mutation::apply(&mut model, caller, &f.name, &walker.args(f), &mut undo);
                mutations.push((key.to_owned(), outcome));
            }
        }
    }
    let (body, invalid) = {
        let env = Env {
            model: &model,
            caller,
            urls: &ctx.urls,
            rate,
            cost,
            node_count,
            mutations,
        };
        let mut proj = Projector::new(walker, &env, op);
        let root = if op.kind == OpKind::Mutation {
            Obj::Mutation
        } else {
            Obj::Query
        };
        let data = proj.object(&root, &[&op.selection], &mut Vec::new());
        let body = if proj.invalid {
            json!({ "errors": proj.errors })
        } else if proj.errors.is_empty() {
            json!({ "data": data })
        } else {
            json!({ "data": data, "errors": proj.errors })
        };
        (body, proj.invalid)
    };
    if invalid {
        for u in undo.into_iter().rev() {
            model.undo(u);
        }
    }
    drop(model);
    let charged = if invalid {
        // GitHub does not charge a query that fails validation.
        lock(&st.shared().limiter).refund(caller, Resource::Graphql, charged);
        0
    } else {
        charged
    };
    let mut resp = json_response(StatusCode::OK, &body);
    resp.extensions_mut().insert(Charged(charged));
    resp
}
