//! A small renderer for podman's `--format` strings over JSON values.
//!
//! It covers what people write: `json` (pretty JSON), `{{.Field}}` and
//! nested `{{.A.B}}`, `{{json .}}` / `{{json .Field}}`, `{{upper ...}}`,
//! `{{lower ...}}`, the `table` prefix (a header row of the field names) and
//! `\t` / `\n` escapes. Anything else is an error that names the bad action,
//! never silently printed as text.

use std::fmt::Write as _;

use anyhow::{Result, bail};
use serde_json::Value;

/// A parsed `--format` template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
    table: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Action { func: Func, path: Vec<String> },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Print,
    Json,
    Upper,
    Lower,
}

impl Template {
    /// Parses a Go-template subset. `table` at the start asks for a header.
    pub fn parse(src: &str) -> Result<Self> {
        let (table, body) = match src.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start()),
            None => (false, src),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut parts = Vec::new();
        let mut rest = body.as_str();
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                bail!("template: unclosed action starting at `{}`", &rest[start..]);
            };
            parts.push(parse_action(after[..end].trim())?);
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { parts, table })
    }

    /// Whether the template asked for a header row (`table ...`).
    pub fn is_table(&self) -> bool {
        self.table
    }

    /// The header row of a `table` template: each action's last field name,
    /// upper-cased as podman prints it.
    pub fn header(&self) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Action { path, .. } => {
                    out.push_str(&path.last().map_or("", String::as_str).to_uppercase())
                }
            }
        }
        out
    }

    /// Renders the template for one value.
    pub fn render(&self, value: &Value) -> Result<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Action { func, path } => {
                    let v = lookup(value, path)?;
                    match func {
                        Func::Print => go_print(&mut out, v),
                        Func::Json => out.push_str(&serde_json::to_string(v)?),
                        Func::Upper => out.push_str(&go_string(v).to_uppercase()),
                        Func::Lower => out.push_str(&go_string(v).to_lowercase()),
                    }
                }
            }
        }
        Ok(out)
    }
}

fn parse_action(action: &str) -> Result<Part> {
    let mut words = action.split_whitespace();
    let first = words.next().unwrap_or("");
    let (func, arg) = match first {
        "json" => (Func::Json, words.next().unwrap_or(".")),
        "upper" => (Func::Upper, words.next().unwrap_or(".")),
        "lower" => (Func::Lower, words.next().unwrap_or(".")),
        _ => (Func::Print, first),
    };
    if words.next().is_some() || !arg.starts_with('.') {
        bail!(
            "template: unsupported action `{{{{{action}}}}}`: use {{{{.Field}}}} or {{{{json .Field}}}}"
        );
    }
    let path = arg[1..]
        .split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Part::Action { func, path })
}

fn lookup<'a>(mut v: &'a Value, path: &[String]) -> Result<&'a Value> {
    for (i, key) in path.iter().enumerate() {
        v = match v {
            Value::Object(map) => match map.get(key).or_else(|| {
                // Go templates name struct fields (`.OCIRuntime`, `.ID`), the
                // JSON has camelCase keys (`ociRuntime`, `Id`): a unique
                // case-insensitive match is the same field.
                let mut found = map.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key));
                match (found.next(), found.next()) {
                    (Some((_, v)), None) => Some(v),
                    _ => None,
                }
            }) {
                Some(next) => next,
                None => bail!("template: no field `.{}`", path[..=i].join(".")),
            },
            _ => bail!("template: `.{}` is not an object", path[..i].join(".")),
        };
    }
    Ok(v)
}

/// Go's `fmt.Print` look for JSON values: strings bare, lists as `[a b]`,
/// maps as `map[k:v]`, null as `<no value>`.
fn go_print(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<no value>"),
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
                go_print(out, item);
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
                go_print(out, item);
            }
            out.push(']');
        }
    }
}

fn go_string(v: &Value) -> String {
    let mut s = String::new();
    go_print(&mut s, v);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &str, v: &Value) -> String {
        Template::parse(t).unwrap().render(v).unwrap()
    }

    #[test]
    fn fields_nested_and_json() {
        let v = json!({"ID": "abc", "Host": {"OCIRuntime": {"Name": "runc"}}, "Labels": {"a": "b"}, "N": [1, 2]});
        assert_eq!(render("{{.ID}}", &v), "abc");
        assert_eq!(render("{{ .Host.OCIRuntime.Name }}", &v), "runc");
        assert_eq!(render("{{json .Labels}}", &v), r#"{"a":"b"}"#);
        assert_eq!(render("{{.Labels}} {{.N}}", &v), "map[a:b] [1 2]");
        assert_eq!(render("{{.ID}}\\t{{upper .ID}}", &v), "abc\tABC");
    }

    #[test]
    fn table_header() {
        let t = Template::parse("table {{.ID}}\t{{.Names}}").unwrap();
        assert!(t.is_table());
        assert_eq!(t.header(), "ID\tNAMES");
    }

    #[test]
    fn errors_name_the_problem() {
        let v = json!({"ID": "abc"});
        assert_eq!(render("{{.id}}", &v), "abc");
        let e = Template::parse("{{.Nope}}")
            .unwrap()
            .render(&v)
            .unwrap_err();
        assert_eq!(e.to_string(), "template: no field `.Nope`");
        let e = Template::parse("{{.ID").unwrap_err();
        assert!(e.to_string().contains("unclosed"), "{e}");
        let e = Template::parse("{{range .X}}").unwrap_err();
        assert!(e.to_string().contains("unsupported action"), "{e}");
    }
}
