//! A small GraphQL parser over the tokens of `lex`: operations with variable definitions (and
//! defaults), fields with aliases, arguments, directives and selections, named and inline
//! fragments. Enough for the queries real clients send; variable types are read and ignored.

use std::collections::HashMap;

use super::lex::{Lexer, Tok, punct_name};

#[derive(Debug, Clone, PartialEq)]
pub enum AstValue {
    Var(String),
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Null,
    Enum(String),
    List(Vec<AstValue>),
    Object(Vec<(String, AstValue)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Query,
    Mutation,
    Subscription,
}

#[derive(Debug, Clone)]
pub struct VarDef {
    pub name: String,
    pub default: Option<AstValue>,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: OpKind,
    pub name: Option<String>,
    pub vars: Vec<VarDef>,
    pub selection: Vec<Selection>,
}

#[derive(Debug, Clone)]
pub struct Fragment {
    pub type_cond: String,
    pub selection: Vec<Selection>,
}

#[derive(Debug, Clone)]
pub struct Directive {
    pub name: String,
    pub args: Vec<(String, AstValue)>,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub alias: Option<String>,
    pub name: String,
    pub args: Vec<(String, AstValue)>,
    pub directives: Vec<Directive>,
    pub selection: Vec<Selection>,
    pub line: usize,
    pub column: usize,
}

impl Field {
    /// The key this field has in the response.
    pub fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }

    pub fn arg(&self, name: &str) -> Option<&AstValue> {
        self.args.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

#[derive(Debug, Clone)]
pub enum Selection {
    Field(Field),
    Spread {
        name: String,
        directives: Vec<Directive>,
    },
    Inline {
        type_cond: Option<String>,
        directives: Vec<Directive>,
        selection: Vec<Selection>,
    },
}

#[derive(Debug, Clone, Default)]
pub struct Document {
    pub operations: Vec<Operation>,
    pub fragments: HashMap<String, Fragment>,
}

/// A syntax error, worded like GitHub's (`Parse error on "}" (RCURLY) at [1, 5]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

struct Parser<'a> {
    lex: Lexer<'a>,
    tok: Tok,
    line: usize,
    column: usize,
}

pub fn parse(src: &str) -> Result<Document, ParseError> {
    let mut lex = Lexer::new(src);
    let (tok, line, column) = lex.next()?;
    let mut p = Parser { lex, tok, line, column };
    let mut doc = Document::default();
    while p.tok != Tok::End {
        match &p.tok {
            Tok::Punct('{') => {
                let selection = p.selection_set()?;
                doc.operations.push(Operation {
                    kind: OpKind::Query,
                    name: None,
                    vars: Vec::new(),
                    selection,
                });
            }
            Tok::Name(n) if n == "fragment" => {
                p.advance()?;
                let name = p.name()?;
                p.expect_name("on")?;
                let type_cond = p.name()?;
                p.directives()?;
                let selection = p.selection_set()?;
                doc.fragments.insert(name, Fragment { type_cond, selection });
            }
            Tok::Name(n) if matches!(n.as_str(), "query" | "mutation" | "subscription") => {
                let kind = match n.as_str() {
                    "query" => OpKind::Query,
                    "mutation" => OpKind::Mutation,
                    _ => OpKind::Subscription,
                };
                p.advance()?;
                let name = match &p.tok {
                    Tok::Name(_) => Some(p.name()?),
                    _ => None,
                };
                let vars = if p.tok == Tok::Punct('(') {
                    p.var_defs()?
                } else {
                    Vec::new()
                };
                p.directives()?;
                let selection = p.selection_set()?;
                doc.operations.push(Operation {
                    kind,
                    name,
                    vars,
                    selection,
                });
            }
            _ => return Err(p.unexpected()),
        }
    }
    if doc.operations.is_empty() {
        return Err(ParseError {
            message: "No operations provided".into(),
            line: 1,
            column: 1,
        });
    }
    Ok(doc)
}

impl Parser<'_> {
    fn advance(&mut self) -> Result<(), ParseError> {
        let (tok, line, column) = self.lex.next()?;
        self.tok = tok;
        self.line = line;
        self.column = column;
        Ok(())
    }

    fn unexpected(&self) -> ParseError {
        let (text, kind) = match &self.tok {
            Tok::Punct(c) => (c.to_string(), punct_name(*c)),
            Tok::Spread => ("...".into(), "ELLIPSIS"),
            Tok::Name(n) => (n.clone(), "IDENTIFIER"),
            Tok::Int(i) => (i.to_string(), "INT"),
            Tok::Float(f) => (f.to_string(), "FLOAT"),
            Tok::Str(s) => (s.clone(), "STRING"),
            Tok::End => ("end of file".into(), "EOF"),
        };
        ParseError {
            message: format!("Parse error on \"{text}\" ({kind}) at [{}, {}]", self.line, self.column),
            line: self.line,
            column: self.column,
        }
    }

    fn expect(&mut self, c: char) -> Result<(), ParseError> {
        if self.tok == Tok::Punct(c) {
            self.advance()
        } else {
            Err(self.unexpected())
        }
    }

    fn name(&mut self) -> Result<String, ParseError> {
        match std::mem::replace(&mut self.tok, Tok::End) {
            Tok::Name(n) => {
                self.advance()?;
                Ok(n)
            }
            other => {
                self.tok = other;
                Err(self.unexpected())
            }
        }
    }

    fn expect_name(&mut self, want: &str) -> Result<(), ParseError> {
        match &self.tok {
            Tok::Name(n) if n == want => self.advance(),
            _ => Err(self.unexpected()),
        }
    }

    fn var_defs(&mut self) -> Result<Vec<VarDef>, ParseError> {
        self.expect('(')?;
        let mut out = Vec::new();
        while self.tok != Tok::Punct(')') {
            self.expect('$')?;
            let name = self.name()?;
            self.expect(':')?;
            self.skip_type()?;
            let default = if self.tok == Tok::Punct('=') {
                self.advance()?;
                Some(self.value(true)?)
            } else {
                None
            };
            self.directives()?;
            out.push(VarDef { name, default });
        }
        self.advance()?;
        Ok(out)
    }

    fn skip_type(&mut self) -> Result<(), ParseError> {
        if self.tok == Tok::Punct('[') {
            self.advance()?;
            self.skip_type()?;
            self.expect(']')?;
        } else {
            self.name()?;
        }
        if self.tok == Tok::Punct('!') {
            self.advance()?;
        }
        Ok(())
    }

    fn value(&mut self, constant: bool) -> Result<AstValue, ParseError> {
        let v = match std::mem::replace(&mut self.tok, Tok::End) {
            Tok::Punct('$') if !constant => {
                self.advance()?;
                return Ok(AstValue::Var(self.name()?));
            }
            Tok::Int(i) => AstValue::Int(i),
            Tok::Float(f) => AstValue::Float(f),
            Tok::Str(s) => AstValue::Str(s),
            Tok::Name(n) => match n.as_str() {
                "true" => AstValue::Bool(true),
                "false" => AstValue::Bool(false),
                "null" => AstValue::Null,
                _ => AstValue::Enum(n),
            },
            Tok::Punct('[') => {
                self.advance()?;
                let mut items = Vec::new();
                while self.tok != Tok::Punct(']') {
                    items.push(self.value(constant)?);
                }
                AstValue::List(items)
            }
            Tok::Punct('{') => {
                self.advance()?;
                let mut fields = Vec::new();
                while self.tok != Tok::Punct('}') {
                    let k = self.name()?;
                    self.expect(':')?;
                    fields.push((k, self.value(constant)?));
                }
                AstValue::Object(fields)
            }
            other => {
                self.tok = other;
                return Err(self.unexpected());
            }
        };
        self.advance()?;
        Ok(v)
    }

    fn args(&mut self) -> Result<Vec<(String, AstValue)>, ParseError> {
        let mut out = Vec::new();
        if self.tok != Tok::Punct('(') {
            return Ok(out);
        }
        self.advance()?;
        while self.tok != Tok::Punct(')') {
            let k = self.name()?;
            self.expect(':')?;
            out.push((k, self.value(false)?));
        }
        self.advance()?;
        Ok(out)
    }

    fn directives(&mut self) -> Result<Vec<Directive>, ParseError> {
        let mut out = Vec::new();
        while self.tok == Tok::Punct('@') {
            self.advance()?;
            let name = self.name()?;
            let args = self.args()?;
            out.push(Directive { name, args });
        }
        Ok(out)
    }

    fn selection_set(&mut self) -> Result<Vec<Selection>, ParseError> {
        self.expect('{')?;
        let mut out = Vec::new();
        while self.tok != Tok::Punct('}') {
            out.push(self.selection()?);
        }
        self.advance()?;
        if out.is_empty() {
            return Err(ParseError {
                message: format!("Parse error on \"}}\" (RCURLY) at [{}, {}]", self.line, self.column),
                line: self.line,
                column: self.column,
            });
        }
        Ok(out)
    }

    fn selection(&mut self) -> Result<Selection, ParseError> {
        if self.tok == Tok::Spread {
            self.advance()?;
            return match &self.tok {
                Tok::Name(n) if n == "on" => {
                    self.advance()?;
                    let t = self.name()?;
                    let directives = self.directives()?;
                    Ok(Selection::Inline {
                        type_cond: Some(t),
                        directives,
                        selection: self.selection_set()?,
                    })
                }
                Tok::Name(_) => {
                    let name = self.name()?;
                    Ok(Selection::Spread {
                        name,
                        directives: self.directives()?,
                    })
                }
                _ => {
                    let directives = self.directives()?;
                    Ok(Selection::Inline {
                        type_cond: None,
                        directives,
                        selection: self.selection_set()?,
                    })
                }
            };
        }
        let (line, column) = (self.line, self.column);
        let first = self.name()?;
        let (alias, name) = if self.tok == Tok::Punct(':') {
            self.advance()?;
            (Some(first), self.name()?)
        } else {
            (None, first)
        };
        let args = self.args()?;
        let directives = self.directives()?;
        let selection = if self.tok == Tok::Punct('{') {
            self.selection_set()?
        } else {
            Vec::new()
        };
        Ok(Selection::Field(Field {
            alias,
            name,
            args,
            directives,
            selection,
            line,
            column,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fragments_variables_and_defaults() {
        let doc = parse(
            "fragment issue on Issue {number,title,labels(first:100){nodes{name}}}\n\
             query IssueList($owner: String!, $states: [IssueState!] = OPEN, $n: Int) {\n\
               repository(owner: $owner, name: \"x\") { hasIssuesEnabled issues(first: $n, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { ...issue } } }\n\
             }",
        )
        .unwrap();
        assert_eq!(doc.operations.len(), 1);
        let op = &doc.operations[0];
        assert_eq!(op.name.as_deref(), Some("IssueList"));
        assert_eq!(op.vars[1].default, Some(AstValue::Enum("OPEN".into())));
        assert!(doc.fragments.contains_key("issue"));
        let Selection::Field(repo) = &op.selection[0] else {
            panic!()
        };
        assert_eq!(repo.arg("owner"), Some(&AstValue::Var("owner".into())));
        assert_eq!(repo.line, 3);
    }

    #[test]
    fn shorthand_aliases_and_errors() {
        let doc = parse("{ rl: rateLimit { remaining } }").unwrap();
        let Selection::Field(f) = &doc.operations[0].selection[0] else {
            panic!()
        };
        assert_eq!((f.key(), f.name.as_str()), ("rl", "rateLimit"));
        let e = parse("{ rateLimit { } }").unwrap_err();
        assert!(e.message.starts_with("Parse error on \"}\" (RCURLY)"), "{}", e.message);
        assert!(parse("query { a(x: \"unterminated) }").is_err());
        assert_eq!(parse(r#"{ a(s: "q\"\u0041") }"#).unwrap().operations.len(), 1);
    }
}
