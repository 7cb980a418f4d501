//! The bench's results: a markdown table on stdout, JSON under `target/bench/`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use super::engine::{METHOD, Tool};
use super::measure::{Sample, Stats};
use super::workload::{Sizes, Workload, human};

/// What one tool gave for one workload.
#[derive(Debug)]
pub enum Outcome {
    Samples(Vec<Sample>),
    Failed(String),
    /// The tool is not available (the reason is in [`Report::missing`]).
    Skipped,
}

impl Outcome {
    fn stats(&self) -> Option<Stats> {
        match self {
            Outcome::Samples(s) => Stats::of(s),
            _ => None,
        }
    }
}

/// One workload's outcomes, oxpod's first.
#[derive(Debug)]
pub struct Row {
    pub workload: &'static Workload,
    pub n: usize,
    pub outcomes: [Outcome; 2],
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        let [ox, pod] = &self.outcomes;
        let (ox, pod) = (ox.stats()?, pod.stats()?);
        Some(ox.median.as_secs_f64() / pod.median.as_secs_f64())
    }
}

/// A program that is not an engine, timed on a row's own input: the
/// floor or peer the row's target is set against (`skopeo copy` of the
/// pulled image, a sequential `tar xzf` of its layers).
#[derive(Debug)]
pub struct Peer {
    pub name: String,
    /// The row whose oxpod median is compared with this one.
    pub row: &'static str,
    /// oxpod's median over the peer's must be at most this.
    pub target: Option<f64>,
    pub outcome: Outcome,
}

impl Peer {
    /// oxpod's median on [`Peer::row`] over this peer's median.
    fn ratio(&self, rows: &[Row]) -> Option<f64> {
        let row = rows.iter().find(|r| r.workload.name == self.row)?;
        let ox = row.outcomes[0].stats()?;
        let peer = self.outcome.stats()?;
        Some(ox.median.as_secs_f64() / peer.median.as_secs_f64())
    }
}

/// The whole run.
#[derive(Debug)]
pub struct Report {
    pub date: String,
    pub quick: bool,
    pub sizes: Sizes,
    /// Tool version lines, oxpod's first (empty when missing).
    pub versions: [String; 2],
    /// Why a tool was not run, oxpod's first.
    pub missing: [Option<String>; 2],
    pub rows: Vec<Row>,
    pub peers: Vec<Peer>,
}

impl Report {
    /// The markdown table (workload, N, medians, ratio, target), then the
    /// spread and peak RSS per tool, then notes.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "oxpod vs podman, {}{}; median of {} runs ({} for heavy rows), whole processes\n",
            self.date,
            if self.quick { ", --quick" } else { "" },
            self.sizes.runs,
            self.sizes.heavy_runs,
        );
        s.push_str("| workload | N | oxpod median | podman median | ratio | target |\n");
        s.push_str("|---|---:|---:|---:|---:|---:|\n");
        for row in &self.rows {
            let [ox, pod] = &row.outcomes;
            let ratio = row.ratio();
            let verdict = match (ratio, row.workload.target) {
                (Some(r), Some(t)) if r <= t => " ✓",
                (Some(_), Some(_)) => " ✗",
                _ => "",
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {}{} |",
                row.workload.name,
                row.n,
                median_cell(ox),
                median_cell(pod),
                ratio.map_or("—".into(), |r| format!("{r:.3}")),
                row.workload.target.map_or("—".into(), |t| format!("≤ {t}")),
                verdict,
            );
        }
        s.push_str("\n| workload | N | oxpod min–max | oxpod peak RSS | podman min–max | podman peak RSS |\n");
        s.push_str("|---|---:|---:|---:|---:|---:|\n");
        for row in &self.rows {
            let [ox, pod] = &row.outcomes;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                row.workload.name,
                row.n,
                spread_cell(ox),
                rss_cell(ox),
                spread_cell(pod),
                rss_cell(pod),
            );
        }
        if !self.peers.is_empty() {
            s.push_str("\n| peer | N | median | oxpod's row | oxpod / peer | target |\n");
            s.push_str("|---|---:|---:|---|---:|---:|\n");
            for peer in &self.peers {
                let ratio = peer.ratio(&self.rows);
                let verdict = match (ratio, peer.target) {
                    (Some(r), Some(t)) if r <= t => " ✓",
                    (Some(_), Some(_)) => " ✗",
                    _ => "",
                };
                let n = match &peer.outcome {
                    Outcome::Samples(s) => s.len(),
                    _ => 0,
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {}{} |",
                    peer.name,
                    n,
                    median_cell(&peer.outcome),
                    peer.row,
                    ratio.map_or("—".into(), |r| format!("{r:.3}")),
                    peer.target.map_or("—".into(), |t| format!("≤ {t}")),
                    verdict,
                );
            }
        }
        let mut notes = vec![
            format!("method: {METHOD}"),
            "timing: wall time of each whole process (spawn to reaped exit), rows of N \
             processes sum them; one discarded warm-up per light row; peak RSS is the \
             largest `ru_maxrss` from wait4 of any one process"
                .to_owned(),
        ];
        for (tool, version) in Tool::ALL.iter().zip(&self.versions) {
            if !version.is_empty() {
                notes.push(format!("{}: {}", tool.name(), version));
            }
        }
        for (tool, why) in Tool::ALL.iter().zip(&self.missing) {
            if let Some(why) = why {
                notes.push(format!("{} not run: {why}", tool.name()));
            }
        }
        for peer in &self.peers {
            if let Outcome::Failed(e) = &peer.outcome {
                notes.push(format!("peer `{}` failed: {e}", peer.name));
            }
        }
        for row in &self.rows {
            for (tool, outcome) in Tool::ALL.iter().zip(&row.outcomes) {
                if let Outcome::Failed(e) = outcome {
                    notes.push(format!(
                        "{} failed `{}` (N={}): {e}",
                        tool.name(),
                        row.workload.name,
                        row.n
                    ));
                }
            }
        }
        if !notes.is_empty() {
            s.push('\n');
            for note in notes {
                let _ = writeln!(s, "- {note}");
            }
        }
        s
    }

    /// The report as JSON (times in milliseconds, RSS in KiB).
    pub fn json(&self) -> String {
        let tools: Vec<Json> = Tool::ALL
            .iter()
            .enumerate()
            .map(|(i, tool)| {
                Json::Obj(vec![
                    ("name", Json::Str(tool.name().into())),
                    ("version", Json::Str(self.versions[i].clone())),
                    (
                        "missing",
                        self.missing[i].clone().map_or(Json::Null, Json::Str),
                    ),
                ])
            })
            .collect();
        let rows = self.rows.iter().map(|row| {
            let mut fields = vec![
                ("workload", Json::Str(row.workload.name.into())),
                ("n", Json::Num(row.n as f64)),
                ("target", row.workload.target.map_or(Json::Null, Json::Num)),
                ("ratio", row.ratio().map_or(Json::Null, Json::Num)),
            ];
            for (tool, outcome) in Tool::ALL.iter().zip(&row.outcomes) {
                fields.push((tool.name(), outcome_json(outcome)));
            }
            Json::Obj(fields)
        });
        let peers = self.peers.iter().map(|p| {
            Json::Obj(vec![
                ("peer", Json::Str(p.name.clone())),
                ("row", Json::Str(p.row.into())),
                ("target", p.target.map_or(Json::Null, Json::Num)),
                ("ratio", p.ratio(&self.rows).map_or(Json::Null, Json::Num)),
                ("result", outcome_json(&p.outcome)),
            ])
        });
        let sizes = &self.sizes;
        Json::Obj(vec![
            ("date", Json::Str(self.date.clone())),
            ("quick", Json::Bool(self.quick)),
            ("runs", Json::Num(sizes.runs as f64)),
            ("heavy_runs", Json::Num(sizes.heavy_runs as f64)),
            ("cpus", Json::Num(cpus() as f64)),
            ("tools", Json::Arr(tools)),
            ("workloads", Json::Arr(rows.collect())),
            ("peers", Json::Arr(peers.collect())),
        ])
        .to_string()
    }

    /// Writes `results-<date>.json` and `latest.json` into `dir`; returns
    /// the dated file's path.
    pub fn write_json(&self, dir: &Path) -> Result<std::path::PathBuf> {
        std::fs::create_dir_all(dir)?;
        let json = self.json();
        let stamp: String = self
            .date
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let path = dir.join(format!("results-{stamp}.json"));
        std::fs::write(&path, &json)?;
        std::fs::write(dir.join("latest.json"), &json)?;
        Ok(path)
    }
}

fn median_cell(o: &Outcome) -> String {
    match o {
        Outcome::Failed(_) => "failed".into(),
        _ => o.stats().map_or("—".into(), |s| human(s.median)),
    }
}

fn spread_cell(o: &Outcome) -> String {
    o.stats().map_or("—".into(), |s| {
        format!("{} – {}", human(s.min), human(s.max))
    })
}

fn rss_cell(o: &Outcome) -> String {
    o.stats().map_or("—".into(), |s| {
        format!("{:.1} MiB", s.peak_rss_kib as f64 / 1024.0)
    })
}

fn outcome_json(o: &Outcome) -> Json {
    let ms = |d: std::time::Duration| Json::Num(d.as_secs_f64() * 1000.0);
    match o {
        Outcome::Skipped => Json::Null,
        Outcome::Failed(e) => Json::Obj(vec![("error", Json::Str(e.clone()))]),
        Outcome::Samples(samples) => {
            let Some(stats) = Stats::of(samples) else {
                return Json::Null;
            };
            Json::Obj(vec![
                ("median_ms", ms(stats.median)),
                ("min_ms", ms(stats.min)),
                ("max_ms", ms(stats.max)),
                ("peak_rss_kib", Json::Num(stats.peak_rss_kib as f64)),
                (
                    "processes_per_sample",
                    Json::Num(samples[0].processes as f64),
                ),
                (
                    "samples_ms",
                    Json::Arr(samples.iter().map(|s| ms(s.wall)).collect()),
                ),
            ])
        }
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(0, usize::from)
}

/// Just enough JSON to write the report without a serializer.
#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(&'static str, Json)>),
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Num(n) if n.is_finite() => write!(f, "{n}"),
            Json::Num(_) => f.write_str("null"),
            Json::Str(s) => write_str(f, s),
            Json::Arr(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Json::Obj(fields) => {
                f.write_str("{")?;
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_str(f, key)?;
                    write!(f, ":{value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

fn write_str(f: &mut std::fmt::Formatter<'_>, s: &str) -> std::fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_and_nests() {
        let j = Json::Obj(vec![
            ("a", Json::Str("q\"\\\n\u{1}".into())),
            (
                "b",
                Json::Arr(vec![Json::Num(1.5), Json::Null, Json::Bool(true)]),
            ),
            ("c", Json::Num(f64::NAN)),
        ]);
        assert_eq!(
            j.to_string(),
            r#"{"a":"q\"\\\n\u0001","b":[1.5,null,true],"c":null}"#
        );
    }
}
