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

    /// Parses `--format` of a listing (`ps`, `pod ps`), where podman reads
    /// `{{json .}}` as the whole list in JSON, the same as `json`.
    pub fn parse_list(arg: Option<&str>) -> Result<Self> {
        let whole_json = arg.is_some_and(|a| {
            let inner = a
                .trim()
                .strip_prefix("{{")
                .and_then(|a| a.strip_suffix("}}"));
            inner.is_some_and(|i| {
                matches!(
                    i.split_whitespace().collect::<Vec<_>>()[..],
                    ["json"] | ["json", "."]
                )
            })
        });
        if whole_json {
            return Ok(Format::Json);
        }
        Self::parse(arg)
    }
}

/// Prints `rows` (each a JSON object) through a template. A `table`
/// template gets a header row (the template run over `titles`, see
/// [`crate::template::titles`]) and columns aligned at its tabs.
pub fn print_template(
    out: &mut impl Write,
    t: &Template,
    rows: &[Value],
    titles: &Value,
) -> Result<()> {
    let mut lines = Vec::with_capacity(rows.len() + 1);
    let mut push = |text: String| {
        // podman ends every row with a newline unless the template does.
        let text = text.strip_suffix('\n').map(str::to_owned).unwrap_or(text);
        lines.extend(text.split('\n').map(str::to_owned));
    };
    if t.has_header() {
        push(t.header(titles));
    }
    for row in rows {
        push(t.render(row)?);
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

/// Columns as podman's tabwriter (minimum width 12, padding 2) lays them
/// out: each padded to its widest cell plus two spaces, at least 12
/// wide; the last column unpadded.
pub fn print_table(out: &mut impl Write, rows: &[Vec<String>]) -> Result<()> {
    const MIN_WIDTH: usize = 12;
    const PADDING: usize = 2;
    // A cell is one line: a name or label with a newline would forge rows.
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| one_line(c)).collect())
        .collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count() + PADDING).max(MIN_WIDTH);
        }
    }
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn one_line(cell: &str) -> String {
    if cell.chars().any(char::is_control) {
        cell.chars()
            .flat_map(|c| {
                if c.is_control() {
                    c.escape_default().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect()
    } else {
        cell.to_owned()
    }
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
    fn a_cell_stays_on_its_line() {
        let rows = vec![vec!["NAME".into()], vec!["web\nforged  row".into()]];
        expect![[r#"
            NAME
            web\nforged  row
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
        let rows = vec![json!({"ID": "abc", "Names": "web", "CreatedAt": "2023"})];
        let titles = crate::template::titles(&rows[0], &[("ID", "CONTAINER ID")]);
        expect![[r#"
            CONTAINER ID  NAMES
            abc           web
        "#]]
        .assert_eq(&render(|o| print_template(o, &t, &rows, &titles)));
        // Spaces between columns are column breaks, as in podman; a
        // template's own newline is not doubled.
        let t = Template::parse("table {{.ID}} {{.CreatedAt}} {{.Names}}\\n").unwrap();
        expect![[r#"
            CONTAINER ID  CREATED AT  NAMES
            abc           2023        web
        "#]]
        .assert_eq(&render(|o| print_template(o, &t, &rows, &titles)));
    }
}
