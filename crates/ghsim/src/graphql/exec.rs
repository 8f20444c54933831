//! A small GraphQL executor: picks the operation, binds variables (with defaults), expands
//! fragments and directives, merges fields by response key, and projects whatever the schema
//! resolvers return onto the requested selection. Unknown fields are validation errors, as on
//! GitHub (the response then carries `errors` only).

use serde_json::{Map, Value, json};

use super::parse::{AstValue, Directive, Document, Field, OpKind, Operation, Selection};
use super::schema::{self, Env, Obj};

/// What a resolver returns for one field.
#[derive(Debug, Clone)]
pub enum Out<'m> {
    Null,
    Scalar(Value),
    Obj(Obj<'m>),
    List(Vec<Out<'m>>),
}

impl<'m> Out<'m> {
    pub fn str(s: impl Into<String>) -> Self {
        Out::Scalar(Value::String(s.into()))
    }

    pub fn opt_str(s: Option<impl Into<String>>) -> Self {
        s.map_or(Out::Null, Out::str)
    }

    pub fn val(v: impl Into<Value>) -> Self {
        Out::Scalar(v.into())
    }
}

/// A field that could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldError {
    /// The schema has no such field: the whole request is invalid.
    Undefined,
    /// Execution error with GitHub's `type` (e.g. `NOT_FOUND`); the field becomes null.
    Failed { kind: &'static str, message: String },
    /// A validation error with a message (bad or missing argument): the request is invalid.
    Invalid(String),
}

impl FieldError {
    pub fn failed(kind: &'static str, message: impl Into<String>) -> Self {
        FieldError::Failed {
            kind,
            message: message.into(),
        }
    }
}

/// Arguments of one field, with variables substituted.
pub struct Args<'a> {
    pub field: &'a Field,
    vars: &'a Map<String, Value>,
}

impl Args<'_> {
    pub fn get(&self, name: &str) -> Option<Value> {
        self.field
            .arg(name)
            .map(|v| to_json(v, self.vars))
            .filter(|v| !v.is_null())
    }

    pub fn str(&self, name: &str) -> Option<String> {
        self.get(name).and_then(|v| v.as_str().map(str::to_owned))
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|v| v.as_i64())
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(|v| v.as_bool())
    }

    /// The response key (alias or name) of this field.
    pub fn key(&self) -> &str {
        self.field.key()
    }
}

/// Enums become strings, input objects JSON objects.
pub fn to_json(v: &AstValue, vars: &Map<String, Value>) -> Value {
    match v {
        AstValue::Var(n) => vars.get(n).cloned().unwrap_or(Value::Null),
        AstValue::Int(i) => json!(i),
        AstValue::Float(f) => json!(f),
        AstValue::Str(s) | AstValue::Enum(s) => Value::String(s.clone()),
        AstValue::Bool(b) => Value::Bool(*b),
        AstValue::Null => Value::Null,
        AstValue::List(items) => Value::Array(items.iter().map(|i| to_json(i, vars)).collect()),
        AstValue::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), to_json(v, vars))).collect()),
    }
}

/// The operation to run: the named one, or the only one.
pub fn pick_operation<'d>(doc: &'d Document, name: Option<&str>) -> Result<&'d Operation, String> {
    match name.filter(|n| !n.is_empty()) {
        Some(n) => doc
            .operations
            .iter()
            .find(|o| o.name.as_deref() == Some(n))
            .ok_or_else(|| format!("No operation named \"{n}\"")),
        None if doc.operations.len() == 1 => Ok(&doc.operations[0]),
        None => Err("An operation name is required".into()),
    }
}

/// Provided variables, then defaults from the operation's definitions.
pub fn bind_variables(op: &Operation, provided: Option<&Map<String, Value>>) -> Map<String, Value> {
    let mut vars = Map::new();
    for def in &op.vars {
        let v = provided
            .and_then(|p| p.get(&def.name).cloned())
            .or_else(|| def.default.as_ref().map(|d| to_json(d, &Map::new())))
            .unwrap_or(Value::Null);
        vars.insert(def.name.clone(), v);
    }
    vars
}

/// Shared by cost calculation, mutation application and projection.
pub struct Walker<'a> {
    pub doc: &'a Document,
    pub vars: &'a Map<String, Value>,
}

impl<'a> Walker<'a> {
    pub fn args(&self, field: &'a Field) -> Args<'a> {
        Args { field, vars: self.vars }
    }

    fn included(&self, directives: &[Directive]) -> bool {
        directives.iter().all(|d| {
            let cond = d
                .args
                .iter()
                .find(|(k, _)| k == "if")
                .map(|(_, v)| to_json(v, self.vars));
            match d.name.as_str() {
                "skip" => cond != Some(Value::Bool(true)),
                "include" => cond != Some(Value::Bool(false)),
                _ => true,
            }
        })
    }

    /// Fields selected on an object of `typename`, grouped by response key in order.
    /// `typename` `None` accepts every fragment (used where the type does not matter).
    pub fn collect(&self, typename: Option<&str>, sels: &[&'a [Selection]]) -> Vec<(&'a str, Vec<&'a Field>)> {
        let mut out: Vec<(&'a str, Vec<&'a Field>)> = Vec::new();
        for sel in sels {
            self.collect_into(typename, sel, &mut out, 0);
        }
        out
    }

    fn collect_into(
        &self,
        typename: Option<&str>,
        sels: &'a [Selection],
        out: &mut Vec<(&'a str, Vec<&'a Field>)>,
        depth: usize,
    ) {
        // Fragment cycles are invalid GraphQL; stop instead of overflowing the stack.
        if depth > 32 {
            return;
        }
        let matches = |cond: &str| typename.is_none_or(|t| schema::type_matches(t, cond));
        for sel in sels {
            match sel {
                Selection::Field(f) if self.included(&f.directives) => {
                    match out.iter_mut().find(|(k, _)| *k == f.key()) {
                        Some((_, fs)) => fs.push(f),
                        None => out.push((f.key(), vec![f])),
                    }
                }
                Selection::Field(_) => {}
                Selection::Spread { name, directives } if self.included(directives) => {
                    if let Some(frag) = self.doc.fragments.get(name)
                        && matches(&frag.type_cond)
                    {
                        self.collect_into(typename, &frag.selection, out, depth + 1);
                    }
                }
                Selection::Inline {
                    type_cond,
                    directives,
                    selection,
                } if self.included(directives) => {
                    if type_cond.as_deref().is_none_or(matches) {
                        self.collect_into(typename, selection, out, depth + 1);
                    }
                }
                Selection::Spread { .. } | Selection::Inline { .. } => {}
            }
        }
    }

    /// Names of fragments spread but never defined.
    pub fn undefined_fragments(&self) -> Vec<String> {
        fn walk(doc: &Document, sels: &[Selection], out: &mut Vec<String>) {
            for s in sels {
                match s {
                    Selection::Field(f) => walk(doc, &f.selection, out),
                    Selection::Spread { name, .. } if !doc.fragments.contains_key(name) => out.push(name.clone()),
                    Selection::Spread { .. } => {}
                    Selection::Inline { selection, .. } => walk(doc, selection, out),
                }
            }
        }
        let mut out = Vec::new();
        for op in &self.doc.operations {
            walk(self.doc, &op.selection, &mut out);
        }
        for f in self.doc.fragments.values() {
            walk(self.doc, &f.selection, &mut out);
        }
        out
    }
}

/// Projects resolver output onto selections, collecting errors.
pub struct Projector<'a, 'm> {
    pub walker: Walker<'a>,
    pub env: &'a Env<'m>,
    pub op_label: String,
    pub errors: Vec<Value>,
    /// Set by validation errors: the response then has no `data`.
    pub invalid: bool,
}

impl<'a, 'm> Projector<'a, 'm> {
    pub fn new(walker: Walker<'a>, env: &'a Env<'m>, op: &Operation) -> Self {
        let kind = match op.kind {
            OpKind::Query => "query",
            OpKind::Mutation => "mutation",
            OpKind::Subscription => "subscription",
        };
        let op_label = match &op.name {
            Some(n) => format!("{kind} {n}"),
            None => kind.to_owned(),
        };
        Projector {
            walker,
            env,
            op_label,
            errors: Vec::new(),
            invalid: false,
        }
    }

    pub fn object(&mut self, obj: &Obj<'m>, sels: &[&'a [Selection]], path: &mut Vec<Value>) -> Value {
        let typename = schema::typename(obj);
        let mut map = Map::new();
        for (key, fields) in self.walker.collect(Some(typename), sels) {
            let f = fields[0];
            path.push(Value::String(key.to_owned()));
            let value = if f.name == "__typename" {
                Value::String(typename.to_owned())
            } else {
                let args = self.walker.args(f);
                match schema::resolve(self.env, obj, &f.name, &args) {
                    Ok(out) => self.complete(out, &fields, typename, path),
                    Err(e) => {
                        self.error(e, f, typename, path);
                        Value::Null
                    }
                }
            };
            path.pop();
            map.insert(key.to_owned(), value);
        }
        Value::Object(map)
    }

    fn complete(&mut self, out: Out<'m>, fields: &[&'a Field], parent: &str, path: &mut Vec<Value>) -> Value {
        let f = fields[0];
        match out {
            Out::Null => Value::Null,
            Out::Scalar(v) => {
                if !f.selection.is_empty() {
                    self.invalid(
                        f,
                        path,
                        format!(
                            "Selections can't be made on scalars (field '{}' returns a scalar)",
                            f.name
                        ),
                    );
                }
                v
            }
            Out::Obj(obj) => {
                if f.selection.is_empty() {
                    self.invalid(
                        f,
                        path,
                        format!(
                            "Field must have selections (field '{}' on type '{parent}' returns an object)",
                            f.name
                        ),
                    );
                    return Value::Null;
                }
                let sels: Vec<&'a [Selection]> = fields.iter().map(|f| f.selection.as_slice()).collect();
                self.object(&obj, &sels, path)
            }
            Out::List(items) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| {
                        path.push(json!(i));
                        let v = self.complete(item, fields, parent, path);
                        path.pop();
                        v
                    })
                    .collect(),
            ),
        }
    }

    fn full_path(&self, path: &[Value]) -> Vec<Value> {
        std::iter::once(Value::String(self.op_label.clone()))
            .chain(path.iter().cloned())
            .collect()
    }

    fn invalid(&mut self, f: &Field, path: &[Value], message: String) {
        self.invalid = true;
        self.errors.push(json!({
            "path": self.full_path(path),
            "locations": [{"line": f.line, "column": f.column}],
            "message": message,
        }));
    }

    fn error(&mut self, e: FieldError, f: &Field, typename: &str, path: &[Value]) {
        match e {
            FieldError::Undefined => {
                self.invalid = true;
                self.errors.push(json!({
                    "path": self.full_path(path),
                    "extensions": {"code": "undefinedField", "typeName": typename, "fieldName": f.name},
                    "locations": [{"line": f.line, "column": f.column}],
                    "message": format!("Field '{}' doesn't exist on type '{typename}'", f.name),
                }));
            }
            FieldError::Invalid(message) => self.invalid(f, path, message),
            FieldError::Failed { kind, message } => self.errors.push(json!({
                "type": kind,
                "path": path,
                "locations": [{"line": f.line, "column": f.column}],
                "message": message,
            })),
        }
    }
}

/// Total "requests" GitHub's cost formula counts: each connection (a field with `first` or
/// `last`) counts once per parent node that can hold it. Also returns the node count.
pub fn connection_requests(walker: &Walker<'_>, op: &Operation) -> (u64, u64) {
    fn walk(w: &Walker<'_>, sels: &[Selection], mult: u64, reqs: &mut u64, nodes: &mut u64, depth: usize) {
        if depth > 32 {
            return;
        }
        for (_, fields) in w.collect(None, &[sels]) {
            for f in fields {
                let args = w.args(f);
                let n = args.int("first").or_else(|| args.int("last")).map(|n| n.max(0) as u64);
                match n {
                    Some(n) => {
                        *reqs += mult;
                        *nodes += mult.saturating_mul(n);
                        walk(w, &f.selection, mult.saturating_mul(n), reqs, nodes, depth + 1);
                    }
                    None => walk(w, &f.selection, mult, reqs, nodes, depth + 1),
                }
            }
        }
    }
    let (mut reqs, mut nodes) = (0, 0);
    walk(walker, &op.selection, 1, &mut reqs, &mut nodes, 0);
    (reqs, nodes)
}

/// GitHub: requests / 100, rounded, at least 1.
pub fn cost(requests: u64) -> u64 {
    requests.saturating_add(50).div_euclid(100).max(1)
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse;
    use super::*;

    fn reqs(q: &str) -> (u64, u64) {
        let doc = parse(q).unwrap();
        let vars = Map::new();
        let w = Walker { doc: &doc, vars: &vars };
        connection_requests(&w, &doc.operations[0])
    }

    #[test]
    fn cost_follows_githubs_example() {
        // docs.github.com: 1 + 100 + 100*50 = 5101 requests -> cost 51
        let q = "{ viewer { repositories(first: 100) { nodes { issues(first: 50) { nodes { labels(first: 60) { nodes { name } } } } } } } }";
        assert_eq!(reqs(q).0, 5101);
        assert_eq!(cost(5101), 51);
        assert_eq!(cost(31), 1);
        assert_eq!(cost(0), 1);
        // fragments count too
        let q = "fragment i on Issue { labels(first: 100) { nodes { name } } } { repository(owner: \"o\", name: \"r\") { issues(first: 30) { nodes { ...i } } } }";
        assert_eq!(reqs(q), (31, 3030));
    }
}
