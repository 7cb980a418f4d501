//! The image commands: `images`, `load`, `save`, `rmi`, `image inspect`,
//! `image prune`, with podman's output.

use std::io::{IsTerminal, Write};

use anyhow::{Result, bail};
use jiff::Timestamp;
use oxpod_runtime::{Image, Removed, Runtime, SaveFormat};
use serde_json::{Value, json};

use crate::args::{ExportArgs, HistoryArgs, ImagesArgs, ImportArgs, LoadArgs, RmiArgs, SaveArgs};
use crate::output::{Format, print_json, print_table, print_template};
use crate::{human, views};

/// `REPOSITORY:TAG` split at the tag's colon (`<none>` for no name).
fn repo_tag(name: &str) -> (String, String) {
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind(':') {
        Some(i) => (
            name[..slash + i].to_owned(),
            name[slash + i + 1..].to_owned(),
        ),
        None => (name.to_owned(), "<none>".to_owned()),
    }
}

/// podman's SIZE: three significant digits and a space (`2 MB`, `7.05 MB`).
fn size_text(bytes: u64) -> String {
    let s = human::size_with_precision(bytes, 3);
    let split = s.rfind(|c: char| c.is_ascii_digit()).map_or(0, |i| i + 1);
    format!("{} {}", &s[..split], &s[split..])
}

fn created(image: &Image) -> Option<Timestamp> {
    image
        .created
        .as_deref()
        .and_then(|c| c.parse::<Timestamp>().ok())
}

fn created_or_loaded(image: &Image) -> Timestamp {
    created(image).unwrap_or(image.loaded)
}

/// One row per name (one `<none>` row for an image without names).
fn rows(images: &[Image]) -> Vec<(&Image, Option<&str>)> {
    let mut out = Vec::new();
    for i in images {
        if i.names.is_empty() {
            out.push((i, None));
        }
        for n in &i.names {
            out.push((i, Some(n.as_str())));
        }
    }
    out
}

fn row_doc(
    image: &Image,
    name: Option<&str>,
    no_trunc: bool,
    containers: usize,
    now: Timestamp,
) -> Value {
    let (repo, tag) = name.map_or(("<none>".to_owned(), "<none>".to_owned()), repo_tag);
    let when = created_or_loaded(image);
    let id = if no_trunc {
        image.digest()
    } else {
        views::short(&image.id, false).to_owned()
    };
    json!({
        "ID": id,
        "Repository": repo,
        "Tag": tag,
        "Digest": image.digest(),
        "CreatedSince": human::ago(now.duration_since(when).unsigned_abs()),
        "CreatedAt": views::Times::Go.show(Some(when)),
        "Created": human::ago(now.duration_since(when).unsigned_abs()),
        "Size": size_text(image.size),
        "Names": image.names,
        "Labels": image.labels,
        "Containers": containers,
        "ReadOnly": false,
        "IsReadOnly": false,
    })
}

fn json_doc(image: &Image, containers: usize) -> Value {
    let when = created_or_loaded(image);
    json!({
        "Id": image.id,
        "ParentId": "",
        "RepoTags": null,
        "RepoDigests": [],
        "Size": image.size,
        "SharedSize": 0,
        "VirtualSize": image.size,
        "Labels": if image.labels.is_empty() { Value::Null } else { json!(image.labels) },
        "Containers": containers,
        "Names": image.names,
        "Digest": image.digest(),
        "History": image.names,
        "Created": when.as_second(),
        "CreatedAt": when.to_string(),
    })
}

const IMAGE_FILTER_KEYS: &str = "dangling, reference, label, before, since, until";

/// Images matching `images`' filters and reference.
fn select(rt: &Runtime, a: &ImagesArgs) -> Result<Vec<Image>> {
    let all = rt.images().list()?;
    let now = Timestamp::now();
    let mut out = Vec::new();
    for i in all {
        let mut keep = true;
        for f in &a.filters {
            let Some((k, v)) = f.split_once('=') else {
                bail!(
                    "invalid filter {f:?}: expected KEY=VALUE, with a key of {IMAGE_FILTER_KEYS}"
                );
            };
            keep &= match k {
                "dangling" => match v {
                    "true" => i.names.is_empty(),
                    "false" => !i.names.is_empty(),
                    _ => bail!("invalid dangling filter {v:?}: use true or false"),
                },
                "reference" => i.names.iter().any(|n| matches_reference(n, v)),
                "label" => match v.split_once('=') {
                    Some((lk, lv)) => i.labels.get(lk).is_some_and(|x| x == lv),
                    None => i.labels.contains_key(v),
                },
                "before" | "since" => {
                    let other = rt.images().resolve(v)?;
                    if k == "before" {
                        i.loaded < other.loaded
                    } else {
                        i.loaded > other.loaded
                    }
                }
                // Created before the time (RFC 3339, Unix seconds, or a
                // duration ago), as podman's.
                "until" => {
                    let t = oxpod_runtime::events::parse_time(v, now)
                        .map_err(|e| anyhow::anyhow!("invalid until filter: {e}"))?;
                    created_or_loaded(&i) < t
                }
                other => bail!("invalid filter {other:?}: use one of {IMAGE_FILTER_KEYS}"),
            };
        }
        if let Some(r) = &a.reference {
            keep &= i.names.iter().any(|n| matches_reference(n, r));
        }
        if keep {
            out.push(i);
        }
    }
    Ok(out)
}

/// podman's reference filter: the whole name, the name without tag, or
/// either without the registry, with `*` wildcards.
fn matches_reference(name: &str, pattern: &str) -> bool {
    let (repo, _) = repo_tag(name);
    let short = |s: &str| {
        s.split_once('/')
            .map(|(_, r)| r.to_owned())
            .unwrap_or_else(|| s.to_owned())
    };
    let shorter = |s: &str| s.strip_prefix("docker.io/library/").map(str::to_owned);
    let mut forms = vec![name.to_owned(), repo.clone(), short(name), short(&repo)];
    forms.extend(shorter(name));
    forms.extend(shorter(&repo));
    forms.iter().any(|f| glob(pattern, f))
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| {
                    text.is_char_boundary(head.len() + i) && glob(rest, &text[head.len() + i..])
                })
        }
    }
}

fn use_counts(rt: &Runtime) -> Result<std::collections::BTreeMap<String, usize>> {
    let mut counts = std::collections::BTreeMap::new();
    for c in rt.containers().list(&[])? {
        if let Some(id) = c.config.image_id {
            *counts.entry(id).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

/// `images`.
pub fn list(out: &mut impl Write, rt: &Runtime, a: &ImagesArgs) -> Result<u8> {
    let images = select(rt, a)?;
    let counts = use_counts(rt)?;
    let now = Timestamp::now();
    let used = |i: &Image| counts.get(&i.id).copied().unwrap_or(0);
    let format = Format::parse_list(a.format.as_deref())?;
    if a.quiet && matches!(format, Format::Default) {
        let mut seen = std::collections::BTreeSet::new();
        for i in &images {
            if seen.insert(&i.id) {
                let id = if a.no_trunc {
                    i.digest()
                } else {
                    views::short(&i.id, false).to_owned()
                };
                writeln!(out, "{id}")?;
            }
        }
        return Ok(0);
    }
    match format {
        Format::Json => {
            let docs: Vec<Value> = images.iter().map(|i| json_doc(i, used(i))).collect();
            print_json(out, &docs)?;
        }
        Format::Template(t) => {
            let docs: Vec<Value> = rows(&images)
                .into_iter()
                .map(|(i, n)| row_doc(i, n, a.no_trunc, used(i), now))
                .collect();
            let sample = row_doc(
                &Image {
                    id: String::new(),
                    names: Vec::new(),
                    layers: Vec::new(),
                    created: None,
                    loaded: now,
                    architecture: String::new(),
                    os: String::new(),
                    size: 0,
                    labels: Default::default(),
                    volumes: Vec::new(),
                },
                None,
                false,
                0,
                now,
            );
            let titles = crate::template::titles(
                &sample,
                &[
                    ("ID", "IMAGE ID"),
                    ("CreatedSince", "CREATED"),
                    ("CreatedAt", "CREATED AT"),
                ],
            );
            let t = if a.noheading { t.without_header() } else { t };
            print_template(out, &t, &docs, &titles)?;
        }
        Format::Default => {
            let mut table = Vec::new();
            if !a.noheading {
                let mut h = vec!["REPOSITORY", "TAG"];
                if a.digests {
                    h.push("DIGEST");
                }
                h.extend(["IMAGE ID", "CREATED", "SIZE"]);
                table.push(h.into_iter().map(str::to_owned).collect());
            }
            for (i, n) in rows(&images) {
                let d = row_doc(i, n, a.no_trunc, used(i), now);
                let cell = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
                let mut r = vec![cell("Repository"), cell("Tag")];
                if a.digests {
                    r.push(cell("Digest"));
                }
                r.extend([cell("ID"), cell("CreatedSince"), cell("Size")]);
                table.push(r);
            }
            print_table(out, &table)?;
        }
    }
    Ok(0)
}

/// `load`: from a file, an OCI directory, or standard input (spooled to
/// a file first, since the formats need to seek).
pub fn load(out: &mut impl Write, rt: &Runtime, a: &LoadArgs) -> Result<u8> {
    let loaded = match &a.input {
        Some(path) => rt.images().load(path)?,
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                bail!("give an archive with -i FILE, or pipe one in");
            }
            let spool = tempfile_in_static(rt)?;
            {
                let mut f = std::fs::File::create(&spool)?;
                std::io::copy(&mut stdin.lock(), &mut f)?;
                f.sync_all()?;
            }
            let r = rt.images().load(&spool);
            let _ = std::fs::remove_file(&spool);
            r?
        }
    };
    if !a.quiet {
        for l in &loaded {
            if l.names.is_empty() {
                writeln!(out, "Loaded image: sha256:{}", l.id)?;
            }
            for n in &l.names {
                writeln!(out, "Loaded image: {n}")?;
            }
        }
    }
    Ok(0)
}

fn tempfile_in_static(rt: &Runtime) -> Result<std::path::PathBuf> {
    let dir = rt.config().static_dir.join("storage").join("tmp");
    std::fs::create_dir_all(&dir)?;
    Ok(dir.join(format!("{}-stdin", std::process::id())))
}

/// `save`.
pub fn save(out: &mut impl Write, rt: &Runtime, a: &SaveArgs) -> Result<u8> {
    let format = match a.format.as_str() {
        "docker-archive" => SaveFormat::DockerArchive,
        "oci-archive" => SaveFormat::OciArchive,
        other => bail!("unsupported --format {other:?}: use docker-archive or oci-archive"),
    };
    let mut images = Vec::new();
    for n in &a.images {
        let mut image = rt.images().resolve(n)?;
        // Saved under the name asked for, when it is one of its names.
        if let Some(full) = oxpod_runtime::image::local_candidates(n)
            .into_iter()
            .map(|r| r.to_string())
            .find(|f| image.names.contains(f))
        {
            image.names = vec![full];
        }
        images.push(image);
    }
    match &a.output {
        Some(path) => {
            let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
            let file = std::fs::File::create(&tmp)?;
            let mut w = std::io::BufWriter::new(file);
            let r = rt.images().save(&images, format, &mut w);
            let r = r.map_err(anyhow::Error::from).and_then(|()| {
                let f = w.into_inner().map_err(|e| e.into_error())?;
                f.sync_all()?;
                Ok(())
            });
            match r {
                Ok(()) => std::fs::rename(&tmp, path)?,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e);
                }
            }
        }
        None => {
            if std::io::stdout().is_terminal() {
                bail!(
                    "refusing to write an archive to a terminal: use -o FILE or redirect the output"
                );
            }
            rt.images().save(&images, format, &mut *out)?;
        }
    }
    Ok(0)
}

/// `rmi`: podman's exit codes (1 missing, 2 in use) and lines
/// (`Untagged: NAME`, `Deleted: ID`).
pub fn rmi(out: &mut impl Write, rt: &Runtime, a: &RmiArgs) -> Result<u8> {
    let names: Vec<String> = if a.all {
        rt.images().list()?.into_iter().map(|i| i.id).collect()
    } else {
        if a.images.is_empty() {
            bail!("give at least one image name or id, or --all");
        }
        a.images.clone()
    };
    let mut first: Option<(u8, anyhow::Error)> = None;
    for n in &names {
        let before = rt.images().resolve(n).ok();
        match rt.images().remove(n, a.force) {
            Ok(Removed::Untagged(name)) => writeln!(out, "Untagged: {name}")?,
            Ok(Removed::Deleted { id, names }) => {
                for name in names {
                    writeln!(out, "Untagged: {name}")?;
                }
                writeln!(out, "Deleted: {id}")?;
            }
            Err(e) if e.is_image_not_found() && (a.force || a.ignore) => {}
            Err(e) => {
                let code = match &e {
                    e if e.is_image_not_found() => 1,
                    oxpod_runtime::Error::ImageInUse { .. } => 2,
                    _ => 125,
                };
                let _ = before;
                match first {
                    None => first = Some((code, e.into())),
                    Some(_) => crate::print_error(&e.to_string()),
                }
            }
        }
    }
    match first {
        Some((code, e)) => Err(crate::CodedError::new(code, e).into()),
        None => Ok(0),
    }
}

/// `import FILE [NAME]`: prints the new image's id (podman prints
/// `sha256:<id>`).
pub fn import(out: &mut impl Write, rt: &Runtime, a: &ImportArgs) -> Result<u8> {
    let image = if a.file.as_os_str() == "-" {
        let spool = tempfile_in_static(rt)?;
        {
            let mut f = std::fs::File::create(&spool)?;
            std::io::copy(&mut std::io::stdin().lock(), &mut f)?;
            f.sync_all()?;
        }
        let r = rt.images().import(&spool, a.name.as_deref());
        let _ = std::fs::remove_file(&spool);
        r?
    } else {
        rt.images().import(&a.file, a.name.as_deref())?
    };
    if a.quiet {
        writeln!(out, "{}", image.id)?;
    } else {
        writeln!(out, "sha256:{}", image.id)?;
    }
    Ok(0)
}

/// `export -o FILE CONTAINER`.
pub fn export(out: &mut impl Write, rt: &Runtime, a: &ExportArgs) -> Result<u8> {
    let r = rt.containers().resolve(&a.container)?;
    match &a.output {
        Some(path) => {
            let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
            let file = std::fs::File::create(&tmp)?;
            let result = rt.images().export(&r, std::io::BufWriter::new(file));
            match result {
                Ok(()) => std::fs::rename(&tmp, path)?,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e.into());
                }
            }
        }
        None => {
            if std::io::stdout().is_terminal() {
                bail!("refusing to write a tar to a terminal: use -o FILE or redirect the output");
            }
            rt.images().export(&r, &mut *out)?;
        }
    }
    Ok(0)
}

/// `history IMAGE`: the config's history, newest first; each step that made
/// a layer shows that layer's size; the top step carries the image id,
/// older ones `<missing>`, as podman shows them.
pub fn history(out: &mut impl Write, rt: &Runtime, a: &HistoryArgs) -> Result<u8> {
    let image = rt.images().resolve(&a.image)?;
    let config = rt.images().config(&image)?;
    let now = Timestamp::now();
    // (created, created by, comment, made a layer)
    let mut steps: Vec<(Option<Timestamp>, String, String, bool)> = config
        .history
        .iter()
        .map(|h| {
            let text = |k: &str| {
                h.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let created = h
                .get("created")
                .and_then(Value::as_str)
                .and_then(|c| c.parse().ok());
            let empty = h
                .get("empty_layer")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            (created, text("created_by"), text("comment"), !empty)
        })
        .collect();
    if steps.is_empty() {
        steps = image
            .layers
            .iter()
            .map(|_| (created(&image), String::new(), String::new(), true))
            .collect();
    }
    let mut layer_sizes = image.layers.iter().map(|l| l.size);
    let mut rows: Vec<Value> = steps
        .iter()
        .map(|(when, by, comment, layer)| {
            let size = if *layer { layer_sizes.next().unwrap_or(0) } else { 0 };
            let shown_by = if a.no_trunc || by.chars().count() <= 45 {
                by.clone()
            } else {
                let mut t: String = by.chars().take(42).collect();
                t.push_str("...");
                t
            };
            json!({
                "ID": "<missing>",
                "Created": when.map(|t| human::ago(now.duration_since(t).unsigned_abs())).unwrap_or_default(),
                "CreatedAt": views::Times::Go.show(*when),
                "CreatedBy": shown_by,
                "Size": size_text(size),
                "Comment": comment,
            })
        })
        .collect();
    rows.reverse();
    if let Some(top) = rows.first_mut() {
        top["ID"] = json!(if a.no_trunc {
            image.id.clone()
        } else {
            views::short(&image.id, false).to_owned()
        });
    }
    if a.quiet {
        for r in &rows {
            writeln!(out, "{}", r["ID"].as_str().unwrap_or_default())?;
        }
        return Ok(0);
    }
    match Format::parse_list(a.format.as_deref())? {
        Format::Json => print_json(out, &rows)?,
        Format::Template(t) => {
            let sample = rows.first().cloned().unwrap_or(Value::Null);
            let titles = crate::template::titles(&sample, &[("CreatedBy", "CREATED BY")]);
            print_template(out, &t, &rows, &titles)?
        }
        Format::Default => {
            let mut table = vec![
                ["ID", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
                    .map(str::to_owned)
                    .to_vec(),
            ];
            for r in &rows {
                table.push(
                    ["ID", "Created", "CreatedBy", "Size", "Comment"]
                        .iter()
                        .map(|k| r[*k].as_str().unwrap_or_default().to_owned())
                        .collect(),
                );
            }
            print_table(out, &table)?;
        }
    }
    Ok(0)
}

/// `image prune`: images without names (with `all`, any image) that no
/// container uses.
pub fn prune(out: &mut impl Write, rt: &Runtime, all: bool) -> Result<u8> {
    let counts = use_counts(rt)?;
    for i in rt.images().list()? {
        if (all || i.names.is_empty()) && !counts.contains_key(&i.id) {
            match rt.images().remove(&i.id, false) {
                Ok(_) => writeln!(out, "{}", i.id)?,
                Err(e) if e.is_image_not_found() => {}
                Err(oxpod_runtime::Error::ImageInUse { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(0)
}

/// The document `image inspect` shows (podman 4.3's shape).
pub fn inspect_doc(rt: &Runtime, image: &Image, times: views::Times) -> Result<Value> {
    let config = rt.images().config(image)?;
    let when = created_or_loaded(image);
    Ok(json!({
        "Id": image.id,
        "Digest": image.digest(),
        "RepoTags": image.names,
        "RepoDigests": [],
        "Parent": "",
        "Comment": "",
        "Created": times.show(Some(when)),
        "Config": config.config,
        "Version": "",
        "Author": config.author.clone().unwrap_or_default(),
        "Architecture": config.architecture,
        "Os": config.os,
        "Size": image.size,
        "VirtualSize": image.size,
        "GraphDriver": {"Name": rt.config().storage_driver.as_str(), "Data": {}},
        "RootFS": {"Type": "layers", "Layers": config.rootfs.diff_ids},
        "Labels": if image.labels.is_empty() { Value::Null } else { json!(image.labels) },
        "Annotations": {},
        "ManifestType": "application/vnd.oci.image.manifest.v1+json",
        "User": config.config.user,
        "History": config.history,
        "NamesHistory": image.names,
    }))
}

/// `image inspect`.
pub fn inspect(
    out: &mut impl Write,
    rt: &Runtime,
    names: &[String],
    format: Option<&str>,
) -> Result<u8> {
    let format = Format::parse(format)?;
    let times = match format {
        Format::Template(_) => views::Times::Go,
        _ => views::Times::Json,
    };
    let mut docs = Vec::new();
    for n in names {
        docs.push(inspect_doc(rt, &rt.images().resolve(n)?, times)?);
    }
    match format {
        Format::Template(t) => print_template(out, &t, &docs, &Value::Null)?,
        _ => print_json(out, &docs)?,
    }
    Ok(0)
}

/// A per-layer progress display for a pull on a terminal (stderr): one
/// line per layer, `Copying blob <short digest>  <done> / <size>`, redrawn
/// at most ten times a second; nothing when stderr is not a terminal.
pub fn pull_progress() -> Option<oxpod_runtime::Progress> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    struct Board {
        layers: Vec<(String, u64, Option<u64>)>,
        drawn: usize,
        last: Option<std::time::Instant>,
    }
    let board = std::sync::Mutex::new(Board {
        layers: Vec::new(),
        drawn: 0,
        last: None,
    });
    Some(std::sync::Arc::new(
        move |digest: &str, done: u64, size: Option<u64>| {
            let Ok(mut b) = board.lock() else { return };
            match b.layers.iter_mut().find(|l| l.0 == digest) {
                Some(l) => {
                    l.1 = done;
                    l.2 = size;
                }
                None => b.layers.push((digest.to_owned(), done, size)),
            }
            let finished = size.is_some_and(|s| done >= s);
            let now = std::time::Instant::now();
            if !finished
                && b.last
                    .is_some_and(|t| now.duration_since(t) < std::time::Duration::from_millis(100))
            {
                return;
            }
            b.last = Some(now);
            let mut text = String::new();
            if b.drawn > 0 {
                text.push_str(&format!("\x1b[{}A", b.drawn));
            }
            for (d, done, size) in &b.layers {
                let short = d.trim_start_matches("sha256:").get(..12).unwrap_or(d);
                let total = size.map_or_else(|| "?".to_owned(), crate::human::size);
                text.push_str(&format!(
                    "\r\x1b[2KCopying blob {short}  {} / {total}\n",
                    crate::human::size(*done)
                ));
            }
            b.drawn = b.layers.len();
            let mut err = std::io::stderr().lock();
            let _ = std::io::Write::write_all(&mut err, text.as_bytes());
            let _ = std::io::Write::flush(&mut err);
        },
    ))
}
