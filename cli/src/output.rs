//! Printing: aligned tables, podman's YAML-like `info` output, and the
//! `--format` choice between the default view, `json` and a template.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use crate::template::Template;

/// What `--format` asked for.
#[derive(Debug)]
pub enum Format {
    /// The command's own view.
    Default,
    /// Pretty JSON.
    Json,
    /// A Go template.
    Template(Template),
}

impl Format {
    /// Parses `--format`.
    pub fn parse(arg: Option<&str>) -> Result<Self> {
        Ok(match arg {
            None | Some("") => Format::Default,
            Some("json") => Format::Json,
            Some(t) => Format::Template(Template::parse(t)?),
        })
    }
}

/// Prints `rows` (each a JSON object) through a template, with a header
/// row for `table` templates.
pub fn print_template(out: &mut impl Write, t: &Template, rows: &[Value]) -> Result<()> {
    let mut lines = Vec::with_capacity(rows.len() + 1);
    if t.is_table() {
        lines.push(t.header());
    }
    for row in rows {
        lines.push(t.render(row)?);
    }
    if t.is_table() {
        let table: Vec<Vec<String>> = lines
            .iter()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect();
        print_table(out, &table)?;
    } else {
        for l in lines {
            writeln!(out, "{l}")?;
        }
    }
    Ok(())
}

/// Pretty JSON and a newline.
pub fn print_json(out: &mut impl Write, value: &impl Serialize) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Columns padded to their widest cell, separated by two spaces (the last
/// column unpadded), as podman's tabwriter output.
pub fn print_table(out: &mut impl Write, rows: &[Vec<String>]) -> Result<()> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// podman's default `info` look: YAML-like, keys in the JSON's case.
pub fn print_yaml(out: &mut impl Write, value: &Value) -> Result<()> {
    let mut text = String::new();
    yaml(&mut text, value, 0);
    out.write_all(text.as_bytes())?;
    Ok(())
}

fn yaml(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Object(m) if !m.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        yaml(out, v, indent + 2);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        for item in a {
                            out.push_str(&format!("{pad}- {}\n", scalar(item)));
                        }
                    }
                    Value::String(s) if s.contains('\n') => {
                        out.push_str(&format!("{pad}{k}: |-\n"));
                        for line in s.lines() {
                            out.push_str(&format!("{pad}  {line}\n"));
                        }
                    }
                    _ => out.push_str(&format!("{pad}{k}: {}\n", scalar(v))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) if s.is_empty() => "\"\"".into(),
        Value::String(s) => s.clone(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;
    use serde_json::json;

    fn render(f: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> String {
        let mut buf = Vec::new();
        f(&mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn table_alignment() {
        let rows = vec![
            vec!["CONTAINER ID".into(), "NAMES".into()],
            vec!["abc".into(), "web".into()],
        ];
        expect![[r#"
            CONTAINER ID  NAMES
            abc           web
        "#]]
        .assert_eq(&render(|o| print_table(o, &rows)));
    }

    #[test]
    fn yaml_look() {
        let v = json!({"host": {"arch": "amd64", "runtimes": ["runc", "crun"], "empty": [], "v": "a\nb"}, "version": {"version": "0.1.0"}});
        expect![[r#"
            host:
              arch: amd64
              empty: []
              runtimes:
              - runc
              - crun
              v: |-
                a
                b
            version:
              version: 0.1.0
        "#]]
        .assert_eq(&render(|o| print_yaml(o, &v)));
    }

    #[test]
    fn table_template() {
        let t = Template::parse("table {{.ID}}\\t{{.Names}}").unwrap();
        let rows = vec![json!({"ID": "abc", "Names": "web"})];
        expect![[r#"
            ID   NAMES
            abc  web
        "#]]
        .assert_eq(&render(|o| print_template(o, &t, &rows)));
    }
}
