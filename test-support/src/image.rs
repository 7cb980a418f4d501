//! A test image built from busybox-static, written as archives by code of
//! its own (not oxpod's writers), so loading it checks oxpod against an
//! independent producer.
//!
//! Three layers: busybox with applet links, a hard link, `/etc/passwd`
//! (`app` is 1000:1000), `/etc/motd` and `/data/x`; then a whiteout of
//! `/etc/motd` and `/data/x2`; then `/data` made opaque with only
//! `/data/y`. The config has an Entrypoint (`/bin/sh -c`), a Cmd (`echo
//! default-cmd`), Env, WorkingDir `/work`, User `app`, a label, a stop
//! signal and a volume (`/vol/data`).

use std::io::Write;

use sha2::{Digest, Sha256};

/// The applets the image links to busybox.
pub const APPLETS: &[&str] = &[
    "sh", "echo", "sleep", "true", "cat", "ls", "id", "pwd", "test", "env", "printf", "touch",
];

fn sha256(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::from("sha256:");
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn header(name: &str, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_path(name).expect("fixture name");
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    h
}

/// A tar of entries: `(name, contents)` files (a trailing `/` is a
/// directory), plus symlinks and hard links.
fn layer(files: &[(&str, &[u8])], links: &[(&str, &str, bool)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        if name.ends_with('/') {
            b.append(&header(name, tar::EntryType::Directory, 0o755, 0), &[][..])
                .expect("dir");
        } else {
            let mode = if name.starts_with("bin/") {
                0o755
            } else {
                0o644
            };
            b.append(
                &header(name, tar::EntryType::Regular, mode, data.len() as u64),
                *data,
            )
            .expect("file");
        }
    }
    for (name, target, hard) in links {
        let kind = if *hard {
            tar::EntryType::Link
        } else {
            tar::EntryType::Symlink
        };
        let mut h = header(name, kind, 0o777, 0);
        b.append_link(&mut h, name, target).expect("link");
    }
    b.into_inner().expect("tar")
}

/// The test image's parts: its layer tars (uncompressed) and its config.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The layer tars, bottom first.
    pub layers: Vec<Vec<u8>>,
    /// The config JSON.
    pub config: Vec<u8>,
}

impl Fixture {
    /// Builds the image from the busybox binary at `busybox`.
    pub fn new(busybox: &std::path::Path) -> std::io::Result<Fixture> {
        let bb = std::fs::read(busybox)?;
        let passwd = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n";
        let group = b"root:x:0:\napp:x:1000:\n";
        let links: Vec<(String, String, bool)> = APPLETS
            .iter()
            .map(|a| (format!("bin/{a}"), "busybox".to_owned(), false))
            .chain(std::iter::once((
                "bin/busybox.hard".to_owned(),
                "bin/busybox".to_owned(),
                true,
            )))
            .collect();
        let links: Vec<(&str, &str, bool)> = links
            .iter()
            .map(|(a, b, h)| (a.as_str(), b.as_str(), *h))
            .collect();
        let l1 = layer(
            &[
                ("bin/", b""),
                ("bin/busybox", &bb),
                ("etc/", b""),
                ("etc/passwd", passwd),
                ("etc/group", group),
                ("etc/motd", b"welcome\n"),
                ("data/", b""),
                ("data/x", b"x\n"),
                ("tmp/", b""),
                ("proc/", b""),
                ("dev/", b""),
                ("sys/", b""),
            ],
            &links,
        );
        let l2 = layer(
            &[
                ("etc/", b""),
                ("etc/.wh.motd", b""),
                ("data/", b""),
                ("data/x2", b"x2\n"),
            ],
            &[],
        );
        let l3 = layer(
            &[
                ("data/", b""),
                ("data/.wh..wh..opq", b""),
                ("data/y", b"y\n"),
            ],
            &[],
        );
        let diff_ids: Vec<String> = [&l1, &l2, &l3].iter().map(|l| sha256(l)).collect();
        let config = format!(
            r#"{{"architecture":"{arch}","os":"linux","created":"2024-01-02T03:04:05Z","config":{{"Entrypoint":["/bin/sh","-c"],"Cmd":["echo default-cmd"],"Env":["PATH=/bin","FROM_IMAGE=yes"],"WorkingDir":"/work","User":"app","Labels":{{"org.test":"fixture"}},"StopSignal":"SIGINT","Volumes":{{"/vol/data":{{}}}}}},"rootfs":{{"type":"layers","diff_ids":["{}","{}","{}"]}},"history":[{{"created_by":"fixture"}}]}}"#,
            diff_ids[0],
            diff_ids[1],
            diff_ids[2],
            arch = go_arch()
        );
        Ok(Fixture {
            layers: vec![l1, l2, l3],
            config: config.into_bytes(),
        })
    }

    /// An image of one layer holding the files `files` (`(name,
    /// contents)`), with no command of its own.
    pub fn of_files(files: &[(&str, &[u8])]) -> Fixture {
        let l = layer(files, &[]);
        let config = format!(
            r#"{{"architecture":"{arch}","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
            sha256(&l),
            arch = go_arch()
        );
        Fixture {
            layers: vec![l],
            config: config.into_bytes(),
        }
    }

    /// The image id (the config's sha256 hex).
    pub fn id(&self) -> String {
        sha256(&self.config)["sha256:".len()..].to_owned()
    }

    /// A docker-archive with `tags` (docker's `RepoTags`), layers
    /// uncompressed.
    pub fn docker_archive(&self, tags: &[&str]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let config_name = format!("{}.json", self.id());
        put(&mut b, &config_name, &self.config);
        let mut layers = Vec::new();
        for l in &self.layers {
            let name = format!("{}/layer.tar", &sha256(l)[7..]);
            put(&mut b, &name, l);
            layers.push(name);
        }
        let manifest = format!(
            r#"[{{"Config":"{config_name}","RepoTags":[{}],"Layers":[{}]}}]"#,
            tags.iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(","),
            layers
                .iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        put(&mut b, "manifest.json", manifest.as_bytes());
        b.into_inner().expect("tar")
    }

    /// An oci-archive with gzip-compressed layers, one index entry per
    /// name in `names`.
    pub fn oci_archive(&self, names: &[&str]) -> Vec<u8> {
        let gzip = |l: &[u8]| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(l).expect("gzip");
            gz.finish().expect("gzip")
        };
        self.oci_archive_with(names, "application/vnd.oci.image.layer.v1.tar+gzip", &gzip)
    }

    /// An oci-archive whose layers are `compress`ed, with `media_type`.
    pub fn oci_archive_with(
        &self,
        names: &[&str],
        media_type: &str,
        compress: &dyn Fn(&[u8]) -> Vec<u8>,
    ) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        put(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        let config_digest = sha256(&self.config);
        put(
            &mut b,
            &format!("blobs/sha256/{}", &config_digest[7..]),
            &self.config,
        );
        let mut layers = Vec::new();
        for l in &self.layers {
            let blob = compress(l);
            let d = sha256(&blob);
            put(&mut b, &format!("blobs/sha256/{}", &d[7..]), &blob);
            layers.push(format!(
                r#"{{"mediaType":"{media_type}","digest":"{d}","size":{}}}"#,
                blob.len()
            ));
        }
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{}]}}"#,
            self.config.len(),
            layers.join(",")
        );
        let md = sha256(manifest.as_bytes());
        put(
            &mut b,
            &format!("blobs/sha256/{}", &md[7..]),
            manifest.as_bytes(),
        );
        let entries: Vec<String> = names
            .iter()
            .map(|n| {
                format!(
                    r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{md}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{n}"}}}}"#,
                    manifest.len()
                )
            })
            .collect();
        put(
            &mut b,
            "index.json",
            format!(
                r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
                entries.join(",")
            )
            .as_bytes(),
        );
        b.into_inner().expect("tar")
    }
}

/// A docker-archive of one image whose only layer holds `name` (a hostile
/// tar entry name, written raw into the header).
pub fn hostile_archive(name: &str) -> Vec<u8> {
    let mut lb = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    let raw = &mut h.as_ustar_mut().expect("ustar").name;
    raw[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(2);
    h.set_mode(0o644);
    h.set_cksum();
    lb.append(&h, &b"x\n"[..]).expect("entry");
    let l = lb.into_inner().expect("tar");
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["sh"]}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        sha256(&l)
    );
    let mut b = tar::Builder::new(Vec::new());
    let cname = format!("{}.json", &sha256(config.as_bytes())[7..]);
    put(&mut b, &cname, config.as_bytes());
    put(&mut b, "l/layer.tar", &l);
    put(
        &mut b,
        "manifest.json",
        format!(r#"[{{"Config":"{cname}","RepoTags":["localhost/hostile:1"],"Layers":["l/layer.tar"]}}]"#).as_bytes(),
    );
    b.into_inner().expect("tar")
}

fn put(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    b.append(
        &header(name, tar::EntryType::Regular, 0o644, data.len() as u64),
        data,
    )
    .expect("archive entry");
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
