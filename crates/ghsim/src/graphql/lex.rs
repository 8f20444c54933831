//! The GraphQL lexer: punctuators, names, numbers, strings (also block strings); commas,
//! whitespace and comments are skipped. Positions are 1-based line and column.

use super::parse::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Punct(char),
    Spread,
    Name(String),
    Int(i64),
    Float(f64),
    Str(String),
    End,
}

pub(super) struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    column: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Lexer {
            chars: src.chars().peekable(),
            line: 1,
            column: 1,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn error(&self, message: String) -> ParseError {
        ParseError {
            message,
            line: self.line,
            column: self.column,
        }
    }

    /// Next token and the position it starts at.
    pub(super) fn next(&mut self) -> Result<(Tok, usize, usize), ParseError> {
        // Commas, whitespace, BOM and comments are insignificant in GraphQL.
        loop {
            match self.chars.peek() {
                Some(c) if c.is_whitespace() || *c == ',' || *c == '\u{feff}' => {
                    self.bump();
                }
                Some('#') => {
                    while self.chars.peek().is_some_and(|c| *c != '\n') {
                        self.bump();
                    }
                }
                _ => break,
            }
        }
        let (line, column) = (self.line, self.column);
        let Some(c) = self.bump() else {
            return Ok((Tok::End, line, column));
        };
        let tok = match c {
            '{' | '}' | '(' | ')' | '[' | ']' | ':' | '!' | '$' | '=' | '@' | '|' | '&' => Tok::Punct(c),
            '.' => {
                if self.bump() == Some('.') && self.bump() == Some('.') {
                    Tok::Spread
                } else {
                    return Err(self.error("Parse error on \".\"".into()));
                }
            }
            '"' => self.string()?,
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut s = c.to_string();
                while let Some(&n) = self.chars.peek().filter(|n| n.is_ascii_alphanumeric() || **n == '_') {
                    s.push(n);
                    self.bump();
                }
                Tok::Name(s)
            }
            c if c.is_ascii_digit() || c == '-' => {
                let mut s = c.to_string();
                while let Some(&n) = self
                    .chars
                    .peek()
                    .filter(|n| n.is_ascii_digit() || matches!(n, '.' | 'e' | 'E' | '+' | '-'))
                {
                    s.push(n);
                    self.bump();
                }
                if let Ok(i) = s.parse::<i64>() {
                    Tok::Int(i)
                } else if let Ok(f) = s.parse::<f64>() {
                    Tok::Float(f)
                } else {
                    return Err(self.error(format!("Parse error on \"{s}\" (error) at [{line}, {column}]")));
                }
            }
            other => {
                return Err(self.error(format!("Parse error on \"{other}\" (error) at [{line}, {column}]")));
            }
        };
        Ok((tok, line, column))
    }

    fn string(&mut self) -> Result<Tok, ParseError> {
        // Block string """..."""
        if self.chars.peek() == Some(&'"') {
            self.bump();
            if self.chars.peek() != Some(&'"') {
                return Ok(Tok::Str(String::new()));
            }
            self.bump();
            let mut s = String::new();
            loop {
                match self.bump() {
                    None => return Err(self.error("Unterminated block string".into())),
                    Some('"') if s.ends_with("\"\"") => {
                        s.truncate(s.len() - 2);
                        return Ok(Tok::Str(s.trim().to_owned()));
                    }
                    Some(c) => s.push(c),
                }
            }
        }
        let mut s = String::new();
        loop {
            match self.bump() {
                None | Some('\n') => return Err(self.error("Unterminated string".into())),
                Some('"') => return Ok(Tok::Str(s)),
                Some('\\') => match self.bump() {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some('b') => s.push('\u{8}'),
                    Some('f') => s.push('\u{c}'),
                    Some('u') => {
                        let hex: String = (0..4).filter_map(|_| self.bump()).collect();
                        let c = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                        s.push(c.ok_or_else(|| self.error("Bad unicode escape".into()))?);
                    }
                    Some(c) => s.push(c),
                    None => return Err(self.error("Unterminated string".into())),
                },
                Some(c) => s.push(c),
            }
        }
    }
}

pub(super) fn punct_name(c: char) -> &'static str {
    match c {
        '{' => "LCURLY",
        '}' => "RCURLY",
        '(' => "LPAREN",
        ')' => "RPAREN",
        '[' => "LBRACKET",
        ']' => "RBRACKET",
        ':' => "COLON",
        '!' => "BANG",
        '$' => "VAR_SIGN",
        '=' => "EQUALS",
        '@' => "DIR_SIGN",
        _ => "PUNCTUATOR",
    }
}
