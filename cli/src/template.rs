//! Go `text/template` for `--format`, over JSON values.
//!
//! A parser and evaluator for the part of Go's template language people
//! write in podman format strings: text and actions with `{{-`/`-}}` trim
//! markers and `{{/* comments */}}`; pipelines (`a | b`), parenthesised
//! pipelines with field chains (`(index .X 0).Name`); `.`, `.A.B`, `$`,
//! `$var.A`, string, raw-string, number, `true`/`false`/`nil` operands;
//! `if`/`else if`/`else`, `range` (with `$i, $v :=` and `else`), `with`,
//! variable declaration and assignment; Go's builtins (`and`, `or`, `not`,
//! `len`, `index`, `slice`, `print`, `printf`, `println`, `eq`, `ne`, `lt`,
//! `le`, `gt`, `ge`) and podman's (`json`, `upper`, `lower`, `title`,
//! `join`, `split`, `pad`, `truncate`). Values print as Go's `fmt` prints
//! them (`[a b]`, `map[k:v]`, `<no value>`).
//!
//! Why not the `gtmpl` crate: it evaluates its own value type (every
//! document would be converted), cannot match a template's Go field name
//! (`.OCIRuntime`) to the JSON key (`ociRuntime`), and its `printf` is
//! documented as unfinished; this engine is about 1,300 lines with no
//! dependencies beyond `serde_json`, and its errors name the field and the
//! fields on offer.

use std::fmt::Write as _;

use anyhow::{Result, anyhow, bail};
use serde_json::{Map, Number, Value};

/// A parsed `--format` template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
    table: bool,
    header: bool,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipe),
    If {
        pipe: Pipe,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Range {
        pipe: Pipe,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    With {
        pipe: Pipe,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

#[derive(Debug, Clone, Default)]
struct Pipe {
    /// `$x :=` (declare) or `$x =` (assign); two names in `range $i, $v :=`.
    vars: Vec<String>,
    declare: bool,
    cmds: Vec<Vec<Arg>>,
}

#[derive(Debug, Clone)]
enum Arg {
    /// `.` followed by zero or more fields.
    Dot(Vec<String>),
    /// `$name` followed by fields (`$` alone is the root).
    Var(String, Vec<String>),
    /// A function name.
    Func(String),
    Lit(Value),
    /// `( pipeline )` followed by fields.
    Sub(Box<Pipe>, Vec<String>),
}

impl Template {
    /// Parses a format. `table` at the start asks for a header row and
    /// tab-aligned columns (podman reads spaces between columns as tabs
    /// there); `\t` and `\n` are the escapes podman accepts.
    pub fn parse(src: &str) -> Result<Self> {
        if src == "table" {
            // podman prints a bare `table` as text on every row.
            return Ok(Self {
                nodes: vec![Node::Text("table".into())],
                table: false,
                header: false,
            });
        }
        let (table, body) = match src.strip_prefix("table ") {
            Some(rest) => (true, rest),
            None => (false, src),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let tokens = split_actions(&body)?;
        let mut parser = Parser {
            tokens,
            pos: 0,
            table,
        };
        let (nodes, end) = parser.nodes()?;
        if let Some(end) = end {
            bail!("template: unexpected {{{{{end}}}}}");
        }
        Ok(Self {
            nodes,
            table,
            header: table,
        })
    }

    /// Whether the template asked for aligned columns (`table ...`).
    pub fn is_table(&self) -> bool {
        self.table
    }

    /// Whether a header row is printed (`table`, unless `--noheading`).
    pub fn has_header(&self) -> bool {
        self.header
    }

    /// The same template without its header row (`--noheading`).
    pub fn without_header(mut self) -> Self {
        self.header = false;
        self
    }

    /// The header row of a `table` template: the template run over a
    /// document mapping each field to its column title; where that fails
    /// (a function applied to a title), the title of each action's first
    /// field.
    pub fn header(&self, titles: &Value) -> String {
        match self.render(titles) {
            Ok(s) => s,
            Err(_) => {
                let mut out = String::new();
                header_fallback(&self.nodes, titles, &mut out);
                out
            }
        }
    }

    /// Renders the template for one value.
    pub fn render(&self, value: &Value) -> Result<String> {
        let mut ex = Exec {
            vars: vec![("$".to_owned(), value.clone())],
            out: String::new(),
        };
        ex.nodes(&self.nodes, value)?;
        Ok(ex.out)
    }
}

fn header_fallback(nodes: &[Node], titles: &Value, out: &mut String) {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => {
                let field = p.cmds.iter().flatten().find_map(|a| match a {
                    Arg::Dot(path) if !path.is_empty() => Some(path[0].clone()),
                    _ => None,
                });
                if let Some(f) = field {
                    match titles.get(&f) {
                        Some(Value::String(s)) => out.push_str(s),
                        _ => out.push_str(&f.to_uppercase()),
                    }
                }
            }
            Node::If { then, .. } => header_fallback(then, titles, out),
            Node::Range { .. } | Node::With { .. } => {}
        }
    }
}

/// Column titles as podman derives them from Go field names: camel case
/// split into words and upper-cased (`CreatedAt` → `CREATED AT`), unless
/// `overrides` names the field.
pub fn titles(fields: &Value, overrides: &[(&str, &str)]) -> Value {
    let mut map = Map::new();
    if let Value::Object(obj) = fields {
        for key in obj.keys() {
            let title = overrides
                .iter()
                .find(|(k, _)| k == key)
                .map_or_else(|| camel_words(key).to_uppercase(), |(_, t)| (*t).to_owned());
            map.insert(key.clone(), Value::String(title));
        }
    }
    Value::Object(map)
}

/// A document whose JSON keys are camel case (`info`'s `host.ociRuntime`)
/// with the Go field names templates use (`.Host.OCIRuntime`): first
/// letters upper-cased, and podman's one field whose name is not its key
/// (`cgroupVersion` is `CgroupsVersion`). Maps of names (`ociRuntimes`)
/// keep their keys.
pub fn go_names(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let name = match k.as_str() {
                        "cgroupVersion" => "CgroupsVersion".to_owned(),
                        _ => {
                            let mut c = k.chars();
                            c.next()
                                .map(|f| f.to_uppercase().chain(c).collect())
                                .unwrap_or_default()
                        }
                    };
                    let value = if k == "ociRuntimes" {
                        v.clone()
                    } else {
                        go_names(v)
                    };
                    (name, value)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(go_names).collect()),
        other => other.clone(),
    }
}

/// `OCIRuntime` → `OCI Runtime`, `ImageID` → `Image ID`, `CreatedAt` →
/// `Created At` (fatih/camelcase, which podman uses).
fn camel_words(s: &str) -> String {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Lower,
        Upper,
        Digit,
        Other,
    }
    let class = |c: char| {
        if c.is_lowercase() {
            Class::Lower
        } else if c.is_uppercase() {
            Class::Upper
        } else if c.is_ascii_digit() {
            Class::Digit
        } else {
            Class::Other
        }
    };
    let mut runs: Vec<(Class, String)> = Vec::new();
    for c in s.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some((last, run)) if *last == k => run.push(c),
            _ => runs.push((k, c.to_string())),
        }
    }
    // An upper-case run followed by a lower-case one gives its last letter
    // to it: `OCIRuntime` is `OCI` + `Runtime`.
    for i in 0..runs.len().saturating_sub(1) {
        if runs[i].0 == Class::Upper
            && runs[i + 1].0 == Class::Lower
            && let Some(c) = runs[i].1.pop()
        {
            runs[i + 1].1.insert(0, c);
        }
    }
    runs.iter()
        .map(|(_, r)| r.as_str())
        .filter(|r| !r.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------
// Lexing

#[derive(Debug)]
enum Piece {
    Text(String),
    Action(String),
}

/// Splits the source into text and action bodies, applying trim markers
/// and dropping comments.
fn split_actions(src: &str) -> Result<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let mut body = &rest[start + 2..];
        let trim_before =
            body.starts_with("- ") || body.starts_with("-\t") || body.starts_with("-\n");
        if trim_before {
            text = text.trim_end();
            body = &body[1..];
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text.to_owned()));
        }
        let end = find_close(body)
            .ok_or_else(|| anyhow!("template: unclosed action starting at `{}`", &rest[start..]))?;
        let mut inner = &body[..end];
        trim_next = false;
        if inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-") {
            inner = &inner[..inner.len() - 1];
            trim_next = true;
        }
        let inner = inner.trim();
        if !(inner.starts_with("/*") && inner.ends_with("*/")) {
            pieces.push(Piece::Action(inner.to_owned()));
        }
        rest = &body[end + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        pieces.push(Piece::Text(text.to_owned()));
    }
    Ok(pieces)
}

/// The `}}` closing an action, skipping quoted strings.
fn find_close(body: &str) -> Option<usize> {
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot(Vec<String>),
    Var(String, Vec<String>),
    Ident(String),
    Lit(Value),
    /// `.A.B` after a `)`.
    Fields(Vec<String>),
    Pipe,
    Open,
    Close,
    Declare,
    Assign,
    Comma,
}

fn lex(action: &str) -> Result<Vec<Tok>> {
    let chars: Vec<char> = action.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let fields = |i: &mut usize| -> Vec<String> {
        let mut out = Vec::new();
        while *i < chars.len() && chars[*i] == '.' {
            let start = *i + 1;
            let mut j = start;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if j == start {
                break;
            }
            out.push(chars[start..j].iter().collect());
            *i = j;
        }
        out
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            ')' => {
                toks.push(Tok::Close);
                i += 1;
                let f = fields(&mut i);
                if !f.is_empty() {
                    toks.push(Tok::Fields(f));
                }
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            '=' => {
                toks.push(Tok::Assign);
                i += 1;
            }
            '.' => {
                let f = fields(&mut i);
                if f.is_empty() {
                    i += 1;
                }
                toks.push(Tok::Dot(f));
            }
            '$' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                let f = fields(&mut i);
                toks.push(Tok::Var(name, f));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        bail!("template: unterminated quoted string in `{action}`");
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let e = chars.get(i).copied().unwrap_or('\\');
                            i += 1;
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '0' => '\0',
                                other => other,
                            });
                        }
                        c => s.push(c),
                    }
                }
                toks.push(Tok::Lit(Value::String(s)));
            }
            '`' => {
                let start = i + 1;
                let Some(len) = chars[start..].iter().position(|&c| c == '`') else {
                    bail!("template: unterminated raw string in `{action}`");
                };
                toks.push(Tok::Lit(Value::String(
                    chars[start..start + len].iter().collect(),
                )));
                i = start + len + 1;
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                toks.push(Tok::Lit(number(&text)?));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                toks.push(match word.as_str() {
                    "true" => Tok::Lit(Value::Bool(true)),
                    "false" => Tok::Lit(Value::Bool(false)),
                    "nil" => Tok::Lit(Value::Null),
                    _ => Tok::Ident(word),
                });
            }
            other => bail!("template: unexpected {other:?} in `{{{{{action}}}}}`"),
        }
    }
    Ok(toks)
}

fn number(text: &str) -> Result<Value> {
    let bad = || anyhow!("template: bad number syntax: {text:?}");
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Value::Number(i.into()));
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return Ok(Value::Number(
            i64::from_str_radix(hex, 16).map_err(|_| bad())?.into(),
        ));
    }
    let f: f64 = text.parse().map_err(|_| bad())?;
    Number::from_f64(f).map(Value::Number).ok_or_else(bad)
}

// ---------------------------------------------------------------------------
// Parsing

struct Parser {
    tokens: Vec<Piece>,
    pos: usize,
    table: bool,
}

/// What ended a list of nodes: `end`, `else`, or `else if ...`.
type End = Option<String>;

impl Parser {
    fn nodes(&mut self) -> Result<(Vec<Node>, End)> {
        let mut nodes = Vec::new();
        while self.pos < self.tokens.len() {
            let piece = &self.tokens[self.pos];
            self.pos += 1;
            match piece {
                Piece::Text(t) => {
                    let t = if self.table {
                        t.replace(' ', "\t")
                    } else {
                        t.clone()
                    };
                    nodes.push(Node::Text(t));
                }
                Piece::Action(a) => {
                    let a = a.clone();
                    let (word, rest) = match a.split_once(char::is_whitespace) {
                        Some((w, r)) => (w, r.trim()),
                        None => (a.as_str(), ""),
                    };
                    match word {
                        "end" | "else" => return Ok((nodes, Some(a.clone()))),
                        "if" | "range" | "with" => nodes.push(self.block(word, rest)?),
                        "define" | "template" | "block" | "break" | "continue" => {
                            bail!("template: {{{{{word}}}}} is not supported in --format")
                        }
                        _ => nodes.push(Node::Action(parse_pipe(&a)?)),
                    }
                }
            }
        }
        Ok((nodes, None))
    }

    fn block(&mut self, word: &str, rest: &str) -> Result<Node> {
        if rest.is_empty() {
            bail!("template: missing value for {word}");
        }
        let pipe = parse_pipe(rest)?;
        let (body, end) = self.nodes()?;
        let otherwise = match end.as_deref() {
            Some("end") => Vec::new(),
            Some("else") => {
                let (otherwise, end) = self.nodes()?;
                if end.as_deref() != Some("end") {
                    bail!("template: {{{{else}}}} of {word} is not closed by {{{{end}}}}");
                }
                otherwise
            }
            // `{{else if x}}` / `{{else with x}}`: a nested block that
            // consumes the shared `{{end}}`.
            Some(e) if e.starts_with("else ") => {
                let inner = e["else ".len()..].trim();
                let (w, r) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
                if w != "if" && w != "with" {
                    bail!("template: unexpected {{{{{e}}}}}");
                }
                vec![self.block(w, r.trim())?]
            }
            _ => bail!("template: {{{{{word}}}}} is not closed by {{{{end}}}}"),
        };
        Ok(match word {
            "if" => Node::If {
                pipe,
                then: body,
                otherwise,
            },
            "range" => Node::Range {
                pipe,
                body,
                otherwise,
            },
            _ => Node::With {
                pipe,
                body,
                otherwise,
            },
        })
    }
}

fn parse_pipe(src: &str) -> Result<Pipe> {
    let toks = lex(src)?;
    let mut pos = 0;
    let pipe = pipe_tokens(&toks, &mut pos, src)?;
    if pos != toks.len() {
        bail!("template: unexpected {:?} in `{{{{{src}}}}}`", toks[pos]);
    }
    Ok(pipe)
}

fn pipe_tokens(toks: &[Tok], pos: &mut usize, src: &str) -> Result<Pipe> {
    let mut pipe = Pipe::default();
    // Declarations: `$x :=`, `$i, $v :=`, `$x =`.
    let mut look = *pos;
    let mut vars = Vec::new();
    while let Some(Tok::Var(name, f)) = toks.get(look) {
        if !f.is_empty() {
            break;
        }
        vars.push(name.clone());
        look += 1;
        if toks.get(look) == Some(&Tok::Comma) {
            look += 1;
        } else {
            break;
        }
    }
    match toks.get(look) {
        Some(Tok::Declare) if !vars.is_empty() => {
            pipe.vars = vars;
            pipe.declare = true;
            *pos = look + 1;
        }
        Some(Tok::Assign) if vars.len() == 1 => {
            pipe.vars = vars;
            *pos = look + 1;
        }
        _ => {}
    }
    let mut cmd = Vec::new();
    while let Some(t) = toks.get(*pos) {
        *pos += 1;
        match t {
            Tok::Pipe => {
                if cmd.is_empty() {
                    bail!("template: missing command before | in `{src}`");
                }
                pipe.cmds.push(std::mem::take(&mut cmd));
            }
            Tok::Close => {
                *pos -= 1;
                break;
            }
            Tok::Open => {
                let inner = pipe_tokens(toks, pos, src)?;
                if toks.get(*pos) != Some(&Tok::Close) {
                    bail!("template: unclosed ( in `{src}`");
                }
                *pos += 1;
                let fields = match toks.get(*pos) {
                    Some(Tok::Fields(f)) => {
                        *pos += 1;
                        f.clone()
                    }
                    _ => Vec::new(),
                };
                cmd.push(Arg::Sub(Box::new(inner), fields));
            }
            Tok::Dot(f) => cmd.push(Arg::Dot(f.clone())),
            Tok::Var(n, f) => cmd.push(Arg::Var(n.clone(), f.clone())),
            Tok::Ident(n) => cmd.push(Arg::Func(n.clone())),
            Tok::Lit(v) => cmd.push(Arg::Lit(v.clone())),
            other => bail!("template: unexpected {other:?} in `{src}`"),
        }
    }
    if cmd.is_empty() {
        bail!("template: missing value in `{{{{{src}}}}}`");
    }
    pipe.cmds.push(cmd);
    Ok(pipe)
}

// ---------------------------------------------------------------------------
// Execution

struct Exec {
    vars: Vec<(String, Value)>,
    out: String,
}

impl Exec {
    fn nodes(&mut self, nodes: &[Node], dot: &Value) -> Result<()> {
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.vars.is_empty() {
                        go_print(&mut self.out, &v, true);
                    }
                }
                Node::If {
                    pipe,
                    then,
                    otherwise,
                } => {
                    let mark = self.vars.len();
                    let v = self.pipe(pipe, dot)?;
                    let r = if truth(&v) {
                        self.nodes(then, dot)
                    } else {
                        self.nodes(otherwise, dot)
                    };
                    self.vars.truncate(mark);
                    r?;
                }
                Node::With {
                    pipe,
                    body,
                    otherwise,
                } => {
                    let mark = self.vars.len();
                    let v = self.pipe(pipe, dot)?;
                    let r = if truth(&v) {
                        self.nodes(body, &v)
                    } else {
                        self.nodes(otherwise, dot)
                    };
                    self.vars.truncate(mark);
                    r?;
                }
                Node::Range {
                    pipe,
                    body,
                    otherwise,
                } => self.range(pipe, body, otherwise, dot)?,
            }
        }
        Ok(())
    }

    fn range(&mut self, pipe: &Pipe, body: &[Node], otherwise: &[Node], dot: &Value) -> Result<()> {
        let mark = self.vars.len();
        let plain = Pipe {
            vars: Vec::new(),
            declare: false,
            cmds: pipe.cmds.clone(),
        };
        let v = self.pipe(&plain, dot)?;
        let items: Vec<(Value, Value)> = match &v {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, x)| (Value::from(i), x.clone()))
                .collect(),
            Value::Object(m) => m
                .iter()
                .map(|(k, x)| (Value::String(k.clone()), x.clone()))
                .collect(),
            Value::Null => Vec::new(),
            Value::Number(n) if n.as_u64().is_some() => (0..n.as_u64().unwrap_or(0))
                .map(|i| (Value::from(i), Value::from(i)))
                .collect(),
            other => bail!("template: range can't iterate over {}", go_string(other)),
        };
        if items.is_empty() {
            let r = self.nodes(otherwise, dot);
            self.vars.truncate(mark);
            return r;
        }
        for (key, item) in items {
            let inner = self.vars.len();
            match pipe.vars.as_slice() {
                [] => {}
                [v] => self.vars.push((v.clone(), item.clone())),
                [k, v, ..] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((v.clone(), item.clone()));
                }
            }
            let r = self.nodes(body, &item);
            self.vars.truncate(inner);
            if let Err(e) = r {
                self.vars.truncate(mark);
                return Err(e);
            }
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<Value> {
        let mut last: Option<Value> = None;
        for cmd in &p.cmds {
            last = Some(self.command(cmd, dot, last)?);
        }
        let v = last.unwrap_or(Value::Null);
        if p.declare {
            // `$i, $v := pipeline` outside range binds the value to the last.
            if let Some(name) = p.vars.last() {
                self.vars.push((name.clone(), v.clone()));
            }
        } else if let Some(name) = p.vars.first() {
            match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = v.clone(),
                None => bail!("template: undefined variable: {name}"),
            }
        }
        Ok(v)
    }

    fn command(&mut self, cmd: &[Arg], dot: &Value, piped: Option<Value>) -> Result<Value> {
        match &cmd[0] {
            Arg::Func(name) => {
                let mut args = Vec::with_capacity(cmd.len());
                // `and`/`or` stop at the first deciding argument, as in Go.
                if name == "and" || name == "or" {
                    let want = name == "or";
                    let mut last = Value::Null;
                    for a in &cmd[1..] {
                        last = self.arg(a, dot)?;
                        if truth(&last) == want {
                            return Ok(last);
                        }
                    }
                    if let Some(p) = piped {
                        last = p;
                    }
                    if cmd.len() == 1 && last.is_null() {
                        bail!("template: wrong number of args for {name}: want at least 1 got 0");
                    }
                    return Ok(last);
                }
                for a in &cmd[1..] {
                    args.push(self.arg(a, dot)?);
                }
                if let Some(p) = piped {
                    args.push(p);
                }
                call(name, &args)
            }
            first => {
                if cmd.len() > 1 || piped.is_some() {
                    bail!(
                        "template: can't give argument to non-function {}",
                        describe(first)
                    );
                }
                self.arg(first, dot)
            }
        }
    }

    fn arg(&mut self, a: &Arg, dot: &Value) -> Result<Value> {
        match a {
            Arg::Dot(path) => fields(dot, path, "."),
            Arg::Var(name, path) => {
                let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) else {
                    bail!("template: undefined variable: {name}");
                };
                let v = v.clone();
                fields(&v, path, name)
            }
            Arg::Lit(v) => Ok(v.clone()),
            Arg::Func(name) => call(name, &[]),
            Arg::Sub(p, path) => {
                let v = self.pipe(p, dot)?;
                fields(&v, path, "(...)")
            }
        }
    }
}

fn describe(a: &Arg) -> String {
    match a {
        Arg::Dot(p) => format!(".{}", p.join(".")),
        Arg::Var(n, p) if p.is_empty() => n.clone(),
        Arg::Var(n, p) => format!("{n}.{}", p.join(".")),
        Arg::Lit(v) => go_string(v),
        Arg::Func(n) => n.clone(),
        Arg::Sub(..) => "(...)".into(),
    }
}

/// Follows `.A.B` from `v`. A missing field of a struct-like document is
/// an error naming the fields on offer (Go's "can't evaluate field"); a
/// missing key of a map (labels, annotations) is `<no value>`.
fn fields(v: &Value, path: &[String], base: &str) -> Result<Value> {
    let mut cur = v;
    for (i, key) in path.iter().enumerate() {
        let shown = || {
            let head = if base == "." { "" } else { base };
            format!("{head}.{}", path[..=i].join("."))
        };
        cur = match cur {
            Value::Object(map) => match lookup(map, key) {
                Some(next) => next,
                None if is_struct(map) => {
                    let mut names: Vec<&str> = map.keys().map(String::as_str).collect();
                    names.truncate(40);
                    bail!(
                        "template: no field `{}`: the fields here are {}",
                        shown(),
                        names.join(", ")
                    );
                }
                None => return Ok(Value::Null),
            },
            Value::Null => return Ok(Value::Null),
            other => bail!(
                "template: can't evaluate field {key} in {} `{}`",
                type_name(other),
                shown()
            ),
        };
    }
    Ok(cur.clone())
}

fn lookup<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        // Go templates name struct fields (`.OCIRuntime`, `.ID`), the JSON
        // has camelCase keys (`ociRuntime`, `Id`): a unique
        // case-insensitive match is the same field.
        let mut found = map.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key));
        match (found.next(), found.next()) {
            (Some((_, v)), None) => Some(v),
            _ => None,
        }
    })
}

/// A document whose keys all look like Go field names (capitalised) is a
/// struct; anything else is a map whose missing keys are `<no value>`.
fn is_struct(map: &Map<String, Value>) -> bool {
    !map.is_empty()
        && map
            .keys()
            .all(|k| k.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

/// Go's truth: false, 0, nil, and empty strings, slices and maps are false.
fn truth(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

// ---------------------------------------------------------------------------
// Functions

fn want(name: &str, args: &[Value], n: usize) -> Result<()> {
    if args.len() != n {
        bail!(
            "template: wrong number of args for {name}: want {n} got {}",
            args.len()
        );
    }
    Ok(())
}

fn as_str<'a>(name: &str, v: &'a Value) -> Result<&'a str> {
    match v {
        Value::String(s) => Ok(s),
        other => bail!(
            "template: {name} wants a string, got {} {}",
            type_name(other),
            go_string(other)
        ),
    }
}

fn as_int(name: &str, v: &Value) -> Result<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| anyhow!("template: {name} wants an integer, got {n}")),
        other => bail!(
            "template: {name} wants an integer, got {} {}",
            type_name(other),
            go_string(other)
        ),
    }
}

fn call(name: &str, args: &[Value]) -> Result<Value> {
    Ok(match name {
        "not" => {
            want(name, args, 1)?;
            Value::Bool(!truth(&args[0]))
        }
        "len" => {
            want(name, args, 1)?;
            Value::from(match &args[0] {
                Value::String(s) => s.len(),
                Value::Array(a) => a.len(),
                Value::Object(m) => m.len(),
                other => bail!("template: len of {}", type_name(other)),
            })
        }
        "index" => {
            let Some((first, keys)) = args.split_first() else {
                bail!("template: wrong number of args for index: want at least 1 got 0");
            };
            let mut cur = first.clone();
            for k in keys {
                cur = match (&cur, k) {
                    // Go's index of a missing key is the zero value: podman's
                    // maps hold strings, so "".
                    (Value::Object(m), Value::String(s)) => m
                        .get(s)
                        .cloned()
                        .unwrap_or_else(|| Value::String(String::new())),
                    (Value::Array(a), Value::Number(_)) => {
                        let i = as_int(name, k)?;
                        usize::try_from(i)
                            .ok()
                            .and_then(|i| a.get(i))
                            .cloned()
                            .ok_or_else(|| anyhow!("template: index out of range: {i}"))?
                    }
                    (Value::Null, Value::String(_)) => Value::String(String::new()),
                    (Value::Null, _) => Value::Null,
                    (c, k) => bail!(
                        "template: can't index item of type {} with {}",
                        type_name(c),
                        go_string(k)
                    ),
                };
            }
            cur
        }
        "slice" => {
            let Some((first, bounds)) = args.split_first() else {
                bail!("template: wrong number of args for slice: want at least 1 got 0");
            };
            let idx = bounds
                .iter()
                .map(|b| {
                    as_int(name, b).and_then(|i| {
                        usize::try_from(i)
                            .map_err(|_| anyhow!("template: slice index out of range: {i}"))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let len = match first {
                Value::String(s) => s.len(),
                Value::Array(a) => a.len(),
                other => bail!("template: can't slice item of type {}", type_name(other)),
            };
            let lo = idx.first().copied().unwrap_or(0);
            let hi = idx.get(1).copied().unwrap_or(len);
            if lo > hi || hi > len {
                bail!("template: slice index out of range: [{lo}:{hi}] of {len}");
            }
            match first {
                Value::String(s) => Value::String(
                    s.get(lo..hi)
                        .ok_or_else(|| anyhow!("template: slice [{lo}:{hi}] splits a character"))?
                        .to_owned(),
                ),
                Value::Array(a) => Value::Array(a[lo..hi].to_vec()),
                _ => Value::Null,
            }
        }
        "print" => Value::String(sprint(args)),
        "println" => {
            let mut s = args.iter().map(go_string).collect::<Vec<_>>().join(" ");
            s.push('\n');
            Value::String(s)
        }
        "printf" => {
            let Some((f, rest)) = args.split_first() else {
                bail!("template: wrong number of args for printf: want at least 1 got 0");
            };
            Value::String(sprintf(as_str(name, f)?, rest))
        }
        "eq" => {
            if args.len() < 2 {
                bail!(
                    "template: wrong number of args for eq: want at least 2 got {}",
                    args.len()
                );
            }
            let mut any = false;
            for b in &args[1..] {
                any |= compare(&args[0], b)? == std::cmp::Ordering::Equal;
            }
            Value::Bool(any)
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            want(name, args, 2)?;
            let o = compare(&args[0], &args[1])?;
            use std::cmp::Ordering::*;
            Value::Bool(match name {
                "ne" => o != Equal,
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            })
        }
        "json" => {
            want(name, args, 1)?;
            Value::String(serde_json::to_string(&args[0])?)
        }
        "upper" | "lower" | "title" => {
            want(name, args, 1)?;
            let s = text_of(&args[0]);
            Value::String(match name {
                "upper" => s.to_uppercase(),
                "lower" => s.to_lowercase(),
                _ => title(&s),
            })
        }
        "join" => {
            want(name, args, 2)?;
            let sep = as_str(name, &args[1])?;
            match &args[0] {
                Value::Array(a) => {
                    Value::String(a.iter().map(text_of).collect::<Vec<_>>().join(sep))
                }
                Value::Null => Value::String(String::new()),
                other => bail!("template: join wants a list, got {}", type_name(other)),
            }
        }
        "split" => {
            want(name, args, 2)?;
            let s = as_str(name, &args[0])?;
            let sep = as_str(name, &args[1])?;
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep).map(|p| Value::String(p.to_owned())).collect()
            };
            Value::Array(parts)
        }
        "pad" => {
            want(name, args, 3)?;
            let s = text_of(&args[0]);
            let pre = usize::try_from(as_int(name, &args[1])?).unwrap_or(0);
            let post = usize::try_from(as_int(name, &args[2])?).unwrap_or(0);
            Value::String(format!("{}{s}{}", " ".repeat(pre), " ".repeat(post)))
        }
        "truncate" => {
            want(name, args, 2)?;
            let s = text_of(&args[0]);
            let n = usize::try_from(as_int(name, &args[1])?).unwrap_or(0);
            Value::String(s.chars().take(n).collect())
        }
        "html" | "js" | "urlquery" | "call" => {
            bail!("template: function {name:?} is not supported in --format")
        }
        _ => bail!("template: function {name:?} not defined"),
    })
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => go_string(other),
    }
}

/// Go's `strings.Title`: the first letter of every word upper-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                return Ok(x.cmp(&y));
            }
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x.partial_cmp(&y)
                .ok_or_else(|| anyhow!("template: cannot compare {x} and {y}"))
        }
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        (Value::Null, Value::Null) => Ok(std::cmp::Ordering::Equal),
        (x, y) => bail!(
            "template: incompatible types for comparison: {} and {}",
            type_name(x),
            type_name(y)
        ),
    }
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !a.is_string() && !args[i - 1].is_string() {
            out.push(' ');
        }
        go_print(&mut out, a, false);
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs people use: `%s %v %d %q %t %f %x %X
/// %%`, with flags `-`, `0`, `+`, width and precision.
fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        let mut plus = false;
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.next() else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        let body = match verb {
            's' | 'v' => {
                let s = text_of(arg);
                match precision {
                    Some(p) if verb == 's' || arg.is_string() => s.chars().take(p).collect(),
                    _ => s,
                }
            }
            'q' => serde_json::to_string(&text_of(arg)).unwrap_or_default(),
            't' => match arg {
                Value::Bool(b) => b.to_string(),
                other => format!("%!t({})", go_string(other)),
            },
            'd' => match arg.as_i64() {
                Some(i) if plus && i >= 0 => format!("+{i}"),
                Some(i) => i.to_string(),
                None => format!("%!d({})", go_string(arg)),
            },
            'f' | 'F' => match arg.as_f64() {
                Some(f) => format!("{f:.*}", precision.unwrap_or(6)),
                None => format!("%!f({})", go_string(arg)),
            },
            'x' | 'X' => {
                let s = match arg {
                    Value::Number(n) if n.as_i64().is_some() => {
                        format!("{:x}", n.as_i64().unwrap_or(0))
                    }
                    Value::String(s) => s.bytes().map(|b| format!("{b:02x}")).collect(),
                    other => format!("%!x({})", go_string(other)),
                };
                if verb == 'X' { s.to_uppercase() } else { s }
            }
            other => format!("%!{other}({})", go_string(arg)),
        };
        let width: usize = width.parse().unwrap_or(0);
        let len = body.chars().count();
        if len >= width {
            out.push_str(&body);
        } else if left {
            out.push_str(&body);
            out.extend(std::iter::repeat_n(' ', width - len));
        } else {
            let pad = if zero && matches!(verb, 'd' | 'f' | 'F' | 'x' | 'X') {
                '0'
            } else {
                ' '
            };
            out.extend(std::iter::repeat_n(pad, width - len));
            out.push_str(&body);
        }
    }
    let extra: Vec<String> = args.map(go_string).collect();
    if !extra.is_empty() {
        let _ = write!(out, "%!(EXTRA {})", extra.join(", "));
    }
    out
}

/// Go's `fmt.Print` look for JSON values: strings bare, lists as `[a b]`,
/// maps as `map[k:v]`; null as `<no value>` when it is an action's whole
/// value, `<nil>` inside a list or map.
fn go_print(out: &mut String, v: &Value, top: bool) {
    match v {
        Value::Null if top => out.push_str("<no value>"),
        Value::Null => out.push_str("<nil>"),
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                go_print(out, item, false);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("map[");
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                go_print(out, item, false);
            }
            out.push(']');
        }
    }
}

fn go_string(v: &Value) -> String {
    let mut s = String::new();
    go_print(&mut s, v, false);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &str, v: &Value) -> String {
        Template::parse(t)
            .unwrap_or_else(|e| panic!("{t}: {e}"))
            .render(v)
            .unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    fn err(t: &str, v: &Value) -> String {
        match Template::parse(t) {
            Err(e) => e.to_string(),
            Ok(t) => t.render(v).unwrap_err().to_string(),
        }
    }

    fn ctr() -> Value {
        json!({
            "ID": "0123456789ab", "Names": "web", "Image": "docker.io/library/alpine:latest",
            "Labels": {"app": "web", "tier": "front"}, "Command": "sleep 60",
            "Host": {"ociRuntime": {"name": "runc"}, "arch": "amd64"},
            "Config": {"Env": ["PATH=/bin", "TERM=xterm"], "Cmd": ["sleep", "60"], "Entrypoint": null},
            "State": {"Status": "running", "ExitCode": 0, "Running": true},
            "Mounts": [], "Ports": [{"HostPort": 8080, "ContainerPort": 80}], "Size": 4096,
        })
    }

    /// Templates podman's documentation, issues and users' scripts use,
    /// with the output podman 4.3.1 gives for the same document.
    #[test]
    fn podman_common_templates() {
        let v = ctr();
        let cases: &[(&str, &str)] = &[
            ("{{.ID}}", "0123456789ab"),
            ("{{ .Host.OCIRuntime.Name }}", "runc"),
            (
                "{{.ID}} {{.Image}} {{.Names}}",
                "0123456789ab docker.io/library/alpine:latest web",
            ),
            ("{{index .Labels \"app\"}}", "web"),
            ("{{index .Labels \"nope\"}}", ""),
            ("{{index .Config.Entrypoint \"x\"}}", ""),
            ("{{.Labels.tier}}", "front"),
            ("{{.Labels.nope}}", "<no value>"),
            (
                "{{range .Config.Env}}{{.}} {{end}}",
                "PATH=/bin TERM=xterm ",
            ),
            (
                "{{range $i, $e := .Config.Cmd}}{{$i}}={{$e}};{{end}}",
                "0=sleep;1=60;",
            ),
            (
                "{{range $k, $v := .Labels}}{{$k}}={{$v}},{{end}}",
                "app=web,tier=front,",
            ),
            ("{{range .Mounts}}x{{else}}none{{end}}", "none"),
            ("{{.Names}}{{if .Labels}} L{{end}}", "web L"),
            ("{{if .Mounts}}m{{else if .Ports}}p{{else}}n{{end}}", "p"),
            ("{{if not .State.Running}}down{{else}}up{{end}}", "up"),
            (
                "{{if eq .State.Status \"running\" \"paused\"}}live{{end}}",
                "live",
            ),
            (
                "{{if and .State.Running (eq .State.ExitCode 0)}}ok{{end}}",
                "ok",
            ),
            ("{{if or .Mounts .Ports}}some{{end}}", "some"),
            ("{{if gt .Size 1024}}big{{end}}", "big"),
            ("{{with .State}}{{.Status}}{{end}}", "running"),
            ("{{with .Mounts}}m{{else}}no mounts{{end}}", "no mounts"),
            ("{{$n := .Names}}{{$n}}-{{$n}}", "web-web"),
            ("{{.ID | printf \"%.4s\"}}", "0123"),
            (
                "{{printf \"%-6s|%5d|%q\" .Names .Size .Names}}",
                "web   | 4096|\"web\"",
            ),
            (
                "{{printf \"%v %t %x\" .Config.Cmd .State.Running 255}}",
                "[sleep 60] true ff",
            ),
            ("{{json .Labels}}", r#"{"app":"web","tier":"front"}"#),
            ("{{json .Config.Entrypoint}}", "null"),
            ("{{.Config.Entrypoint}}", "<no value>"),
            (
                "{{.Labels}} {{.Config.Cmd}}",
                "map[app:web tier:front] [sleep 60]",
            ),
            (
                "{{upper .Names}} {{lower \"ABC\"}} {{title \"hello big world\"}}",
                "WEB abc Hello Big World",
            ),
            ("{{.Names | upper}}", "WEB"),
            ("{{join .Config.Cmd \" \"}}", "sleep 60"),
            ("{{index (split .Image \":\") 1}}", "latest"),
            ("{{truncate .ID 5}}", "01234"),
            ("[{{pad .Names 1 2}}]", "[ web  ]"),
            ("{{len .Config.Env}} {{len .Names}}", "2 3"),
            ("{{(index .Ports 0).HostPort}}", "8080"),
            (
                "{{range .Ports}}{{.HostPort}}->{{.ContainerPort}}{{end}}",
                "8080->80",
            ),
            ("{{slice .ID 0 3}}", "012"),
            ("{{- .Names -}}  \n", "web"),
            ("a {{- /* hidden */ -}} b", "ab"),
            ("{{print 1 2 \"x\" 3}}", "1 2x3"),
            ("{{.ID}}\\t{{.Names}}\\n", "0123456789ab\tweb\n"),
            (
                "{{$}}",
                "map[Command:sleep 60 Config:map[Cmd:[sleep 60] Entrypoint:<nil> Env:[PATH=/bin TERM=xterm]] Host:map[arch:amd64 ociRuntime:map[name:runc]] ID:0123456789ab Image:docker.io/library/alpine:latest Labels:map[app:web tier:front] Mounts:[] Names:web Ports:[map[ContainerPort:80 HostPort:8080]] Size:4096 State:map[ExitCode:0 Running:true Status:running]]",
            ),
            (
                "{{range .Config.Env}}{{$.Names}}:{{.}} {{end}}",
                "web:PATH=/bin web:TERM=xterm ",
            ),
            ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"),
            // podman turns `\t` into a tab in the whole format first.
            ("{{ `raw \\t` }}", "raw \t"),
        ];
        for (t, want) in cases {
            assert_eq!(render(t, &v), *want, "template {t}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let v = ctr();
        assert_eq!(render("{{.id}}", &v), "0123456789ab");
        let e = err("{{.Nope}}", &v);
        assert!(
            e.starts_with("template: no field `.Nope`: the fields here are Command, Config"),
            "{e}"
        );
        assert!(err("{{.State.Bogus}}", &v).contains("no field `.State.Bogus`"));
        assert!(err("{{.ID", &v).contains("unclosed"));
        assert!(err("{{range .Mounts}}", &v).contains("not closed by {{end}}"));
        assert!(err("{{end}}", &v).contains("unexpected {{end}}"));
        assert!(err("{{nosuch .ID}}", &v).contains("function \"nosuch\" not defined"));
        assert!(err("{{.ID.X}}", &v).contains("can't evaluate field X in string"));
        assert!(err("{{index .Config.Cmd 5}}", &v).contains("index out of range: 5"));
        assert!(err("{{range .Names}}{{end}}", &v).contains("range can't iterate over web"));
        assert!(err("{{$nope}}", &v).contains("undefined variable: $nope"));
        assert!(err("{{eq .Names 1}}", &v).contains("incompatible types"));
        assert!(err("{{.ID 1}}", &v).contains("can't give argument to non-function .ID"));
        assert!(err("{{template \"x\"}}", &v).contains("not supported"));
        assert!(err("{{\"abc}}", &v).contains("unclosed"));
        assert_eq!(render("{{\"abc}}\"}}", &v), "abc}}");
    }

    #[test]
    fn table_headers_as_podman() {
        let row =
            json!({"ID": "", "Names": "", "CreatedAt": "", "Pod": "", "ImageID": "", "Labels": {}});
        let t = titles(&row, &[("ID", "CONTAINER ID"), ("Pod", "POD ID")]);
        let h = |f: &str| Template::parse(f).unwrap().header(&t);
        assert_eq!(h("table {{.ID}}\t{{.Names}}"), "CONTAINER ID\tNAMES");
        assert_eq!(h("table {{.CreatedAt}} {{.Pod}}"), "CREATED AT\tPOD ID");
        assert_eq!(
            h("table {{.ImageID}}\\t{{upper .Names}}"),
            "IMAGE ID\tNAMES"
        );
        // A function that cannot apply to a title: the field's title.
        assert_eq!(
            h("table {{index .Labels \"app\"}}\\t{{.ID}}"),
            "LABELS\tCONTAINER ID"
        );
        assert!(Template::parse("table {{.ID}}").unwrap().is_table());
        assert!(!Template::parse("{{.ID}}").unwrap().is_table());
        assert_eq!(render("table", &row), "table");
        assert_eq!(camel_words("OCIRuntime"), "OCI Runtime");
        assert_eq!(camel_words("NumberOfContainers"), "Number Of Containers");
        assert_eq!(camel_words("InfraID"), "Infra ID");
    }

    #[test]
    fn info_documents_answer_to_go_field_names() {
        let info = go_names(
            &json!({"host": {"cgroupVersion": "v1", "ociRuntime": {"name": "runc"},
            "security": {"rootless": false}, "ociRuntimes": {"runc": "/usr/bin/runc"}},
            "store": {"graphRoot": "/var/lib/oxpod/storage", "imageStore": {"number": 0}}}),
        );
        assert_eq!(render("{{.Host.CgroupsVersion}}", &info), "v1");
        assert_eq!(render("{{.Host.OCIRuntime.Name}}", &info), "runc");
        assert_eq!(render("{{.Host.Security.Rootless}}", &info), "false");
        assert_eq!(
            render("{{.Store.GraphRoot}} {{.Store.ImageStore.Number}}", &info),
            "/var/lib/oxpod/storage 0"
        );
        assert_eq!(
            render("{{index .Host.OciRuntimes \"runc\"}}", &info),
            "/usr/bin/runc"
        );
        assert!(err("{{.Host.Nope}}", &info).contains("no field `.Host.Nope`"));
    }
}
