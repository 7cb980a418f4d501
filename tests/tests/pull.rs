//! Pulls from a real registry (issue #16, first part): Debian's
//! `docker-registry` started by each test on its own 127.0.0.1 port with a
//! config the test writes, images pushed into it with `skopeo`, then
//! pulled and run by oxpod; registries.conf's insecure, blocked and
//! short-name search; the errors a user meets.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oxpod_tests::{TestEnv, require_containers};

/// A registry of the test's own; killed when dropped.
struct Registry {
    child: Child,
    port: u16,
}

impl Registry {
    fn start(dir: &Path) -> Option<Registry> {
        if !Path::new("/usr/bin/docker-registry").exists() {
            oxpod_test_support::skip_or_fail("docker-registry is not installed");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("addr")
            .port();
        let storage = dir.join("registry-data");
        std::fs::create_dir_all(&storage).expect("mkdir");
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.display()
            ),
        )
        .expect("config");
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Registry { child, port })
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `skopeo copy` of an archive into the registry as `name`.
    fn push(&self, archive: &Path, name: &str) {
        let out = Command::new("skopeo")
            .args(["--insecure-policy", "copy", "--dest-tls-verify=false", "-q"])
            .arg(format!("docker-archive:{}", archive.display()))
            .arg(format!("docker://{}/{name}", self.host()))
            .output()
            .expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo push: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fixture_archive(env: &TestEnv) -> (PathBuf, String) {
    let fx = oxpod_test_support::image::Fixture::new(Path::new(oxpod_test_support::BUSYBOX))
        .expect("the test image");
    let path = env.path().join("fx.tar");
    std::fs::write(&path, fx.docker_archive(&["localhost/fx:1"])).expect("write");
    (path, fx.id())
}

fn with_conf(env: &TestEnv, conf: &Path, args: &[&str]) -> std::process::Output {
    env.cmd(args)
        .env("CONTAINERS_REGISTRIES_CONF", conf)
        .output()
        .expect("run oxpod")
}

#[test]
fn an_image_pushed_with_skopeo_is_pulled_and_run() {
    require_containers!();
    let env = TestEnv::new();
    let Some(reg) = Registry::start(env.path()) else {
        return;
    };
    if !Path::new("/usr/bin/skopeo").exists() {
        oxpod_test_support::skip_or_fail("skopeo is not installed");
        return;
    }
    let (archive, id) = fixture_archive(&env);
    reg.push(&archive, "test/fx:1");
    let name = format!("{}/test/fx:1", reg.host());
    let none = env.path().join("none.conf");
    std::fs::write(&none, "").expect("conf");
    // HTTPS first: a plain-HTTP registry says how to allow it.
    let out = with_conf(&env, &none, &["pull", "-q", &name]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("insecure = true") && err.contains("--tls-verify=false"),
        "{err}"
    );
    // Allowed for this pull: the image, its id the config's digest.
    let out = with_conf(&env, &none, &["pull", "-q", "--tls-verify=false", &name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id);
    assert_eq!(env.ok(["run", "--rm", &name]), "default-cmd\n");
    assert!(
        env.ok(["images"])
            .contains(&format!("{}/test/fx", reg.host()))
    );
    // Piped, stderr carries no progress; on a terminal (script(1)'s pty)
    // each layer's is drawn.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Copying blob"));
    env.ok(["rmi", &name]);
    let pull_cmd = env.cmd(["pull", "--tls-verify=false", &name]);
    let line: Vec<String> = std::iter::once(pull_cmd.get_program().to_string_lossy().into_owned())
        .chain(
            pull_cmd
                .get_args()
                .map(|a| a.to_string_lossy().into_owned()),
        )
        .map(|a| format!("'{a}'"))
        .collect();
    let tty = Command::new("script")
        .args(["-qec", &line.join(" "), "/dev/null"])
        .output()
        .expect("run script");
    let shown = String::from_utf8_lossy(&tty.stdout);
    assert!(tty.status.success(), "{shown}");
    assert!(
        shown.contains("Copying blob") && shown.contains(&id),
        "{shown}"
    );
    // Again: nothing fetched twice, the same image.
    let out = with_conf(&env, &none, &["pull", "-q", "--tls-verify=false", &name]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id);
    // registries.conf: insecure, short names searched, blocked.
    let conf = env.path().join("registries.conf");
    std::fs::write(
        &conf,
        format!(
            "unqualified-search-registries = [\"blocked.example\", \"{host}\"]\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n[[registry]]\nlocation = \"blocked.example\"\nblocked = true\n",
            host = reg.host()
        ),
    )
    .expect("conf");
    env.ok(["rmi", &name]);
    let out = with_conf(&env, &conf, &["pull", "-q", "test/fx:1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id);
    // search: the registry's catalog, filtered by the term.
    let found = env.ok([
        "search",
        "--tls-verify=false",
        &format!("{}/fx", reg.host()),
    ]);
    assert!(
        found.starts_with("NAME") && found.contains(&format!("{}/test/fx", reg.host())),
        "{found}"
    );
    let nothing = env.ok([
        "search",
        "--tls-verify=false",
        "--format",
        "{{.Name}}",
        &format!("{}/nothing", reg.host()),
    ]);
    assert_eq!(nothing, "");
    // A short-name alias from the drop-in directory decides alone.
    let dropins = env.path().join("registries.conf.d");
    std::fs::create_dir_all(&dropins).expect("mkdir");
    std::fs::write(
        dropins.join("aliases.conf"),
        format!("[aliases]\n\"myfx\" = \"{}/test/fx\"\n", reg.host()),
    )
    .expect("alias");
    let out = with_conf(&env, &conf, &["pull", "-q", "myfx:1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id);
    // Mirrors come first; a dead one is passed over for the next, and the
    // image keeps the name it was asked by.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a port")
        .local_addr()
        .expect("addr")
        .port();
    let mirrored = env.path().join("mirrors.conf");
    std::fs::write(
        &mirrored,
        format!(
            "[[registry]]\nprefix = \"origin.example\"\nlocation = \"127.0.0.1:{dead}\"\ninsecure = true\n[[registry.mirror]]\nlocation = \"127.0.0.1:{dead}/gone\"\ninsecure = true\n[[registry.mirror]]\nlocation = \"{host}\"\ninsecure = true\n",
            host = reg.host()
        ),
    )
    .expect("conf");
    let out = with_conf(&env, &mirrored, &["pull", "-q", "origin.example/test/fx:1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id);
    let tags = env.ok(["image", "inspect", "--format", "{{.RepoTags}}", &id]);
    assert!(tags.contains("origin.example/test/fx:1"), "{tags}");
    env.ok(["rmi", "origin.example/test/fx:1"]);
    // Every source failing names each one.
    let out = with_conf(
        &env,
        &mirrored,
        &["pull", "-q", "origin.example/test/none:1"],
    );
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("mirror 127.0.0.1:{dead}/gone/test/none:1"))
            && err.contains(&format!("mirror {}/test/none:1", reg.host()))
            && err.contains("manifest unknown"),
        "{err}"
    );
    let out = with_conf(&env, &conf, &["pull", "-q", "blocked.example/x:1"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("blocked"));
    // What does not exist says so; a short name without search registries
    // says how to name it.
    let out = with_conf(
        &env,
        &conf,
        &["pull", "-q", &format!("{}/test/nothing:1", reg.host())],
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("manifest unknown"));
    let out = with_conf(&env, &none, &["pull", "-q", "fx"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unqualified-search registries"));
    let out = with_conf(
        &env,
        &conf,
        &["pull", "-q", "--platform", "linux/s390x", "test/fx:1"],
    );
    assert!(
        out.status.success(),
        "a single-platform image is what it is"
    );
    // run pulls what is missing (podman's --pull missing), never only
    // when told.
    env.ok(["rmi", "-f", &format!("{}/test/fx:1", reg.host())]);
    let out = env.run(["run", "--rm", "--pull", "never", &name]);
    assert_eq!(out.status.code(), Some(125));
    let out = env.run(["run", "--rm", "--tls-verify=false", &name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "default-cmd\n");
    // The signature policy: a reject for this registry refuses the pull;
    // a requirement oxpod cannot check fails closed.
    for (kind, want) in [
        ("reject", "rejected by the signature policy"),
        ("signedBy", "verifies none yet"),
    ] {
        let policy = env.path().join(format!("policy-{kind}.json"));
        std::fs::write(
            &policy,
            format!(
                r#"{{"default":[{{"type":"insecureAcceptAnything"}}],"transports":{{"docker":{{"{}":[{{"type":"{kind}"}}]}}}}}}"#,
                reg.host()
            ),
        )
        .expect("policy");
        let conf = env.path().join(format!("policy-{kind}.conf"));
        std::fs::write(
            &conf,
            format!("signature_policy_path = \"{}\"\n", policy.display()),
        )
        .expect("conf");
        let out = env
            .cmd([
                "--config",
                &conf.display().to_string(),
                "pull",
                "-q",
                "--tls-verify=false",
                &format!("{}/test/fx:1", reg.host()),
            ])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(125), "{kind}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(want),
            "{kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The pull events, and a store that checks clean.
    let events = env.ok([
        "events",
        "--stream=false",
        "--filter",
        "event=pull",
        "--format",
        "{{.Name}}",
    ]);
    assert!(events.lines().count() >= 3, "{events}");
    let check = env.ok(["system", "check"]);
    assert!(check.contains("no problems found"), "{check}");
}

#[test]
fn a_killed_pull_leaves_a_store_that_checks_clean_and_pulls_again() {
    require_containers!();
    let env = TestEnv::new();
    let Some(reg) = Registry::start(env.path()) else {
        return;
    };
    let (archive, id) = fixture_archive(&env);
    reg.push(&archive, "k/fx:1");
    let name = format!("{}/k/fx:1", reg.host());
    for ms in (0..=60).step_by(6) {
        let mut c = env
            .cmd(["pull", "-q", "--tls-verify=false", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(ms));
        let _ = c.kill();
        let _ = c.wait();
        let check = env.run(["system", "check"]);
        let text = String::from_utf8_lossy(&check.stdout);
        assert!(
            check.status.success() && text.contains("no problems found"),
            "pull killed after {ms} ms: {text}"
        );
        // Whatever it left, the image is whole or absent.
        if env.run(["image", "exists", &name]).status.success() {
            assert_eq!(env.ok(["run", "--rm", &name, "cat /data/y"]), "y\n");
            env.ok(["rmi", &name]);
        }
    }
    let out = env.ok(["pull", "-q", "--tls-verify=false", &name]);
    assert_eq!(out.trim(), id);
    assert_eq!(env.ok(["run", "--rm", &name, "cat /data/y"]), "y\n");
}

/// A registry that misbehaves on purpose, for what the real one will not
/// do here: token authentication, a redirect to another host, a wrong
/// digest, a cut body, 429 then success, schema 1, a multi-platform index.
mod fake {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    use sha2::{Digest, Sha256};

    pub fn sha(b: &[u8]) -> String {
        format!("sha256:{:x}", Sha256::digest(b))
    }

    pub struct Request {
        pub path: String,
        pub headers: HashMap<String, String>,
    }

    pub type Handler = dyn Fn(&Request, u16) -> (u16, Vec<(String, String)>, Vec<u8>) + Send + Sync;

    /// Serves `handler` on a free port until the process ends; every
    /// request is also recorded.
    pub fn serve(handler: Arc<Handler>) -> (u16, Arc<Mutex<Vec<Request>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let handler = handler.clone();
                let log = log.clone();
                std::thread::spawn(move || answer(stream, &*handler, port, &log));
            }
        });
        (port, seen)
    }

    fn answer(mut stream: TcpStream, handler: &Handler, port: u16, log: &Mutex<Vec<Request>>) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let req = Request { path, headers };
        let (status, extra, body) = handler(&req, port);
        log.lock().expect("log").push(req);
        let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
        let mut has_len = false;
        for (k, v) in &extra {
            has_len |= k.eq_ignore_ascii_case("content-length");
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !has_len {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&body);
        let _ = stream.flush();
        // One request per connection; a cut body ends with the connection.
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
}

#[test]
fn a_registry_that_lies_or_challenges_is_met_with_clear_errors_and_a_clean_store() {
    require_containers!();
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let env = TestEnv::new();
    let fx = oxpod_test_support::image::Fixture::new(Path::new(oxpod_test_support::BUSYBOX))
        .expect("the test image");
    let config_digest = fake::sha(&fx.config);
    let fx_id = fx.id();
    let config_bytes = fx.config.clone();
    let layers: Vec<(String, Vec<u8>)> = fx
        .layers
        .iter()
        .map(|l| (fake::sha(l), l.clone()))
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": fx.config.len(), "digest": config_digest},
        "layers": layers.iter().map(|(d, b)| serde_json::json!({
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar", "size": b.len(), "digest": d})).collect::<Vec<_>>(),
    })
    .to_string()
    .into_bytes();
    let manifest_digest = fake::sha(&manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": manifest_digest, "size": manifest.len(), "platform": {"os": "linux", "architecture": oxpod_arch()}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": manifest_digest, "size": manifest.len(), "platform": {"os": "linux", "architecture": "riscv64"}},
        ],
    })
    .to_string()
    .into_bytes();
    // The second host a blob redirect leads to: it must see no credentials.
    let blobs: Arc<Vec<(String, Vec<u8>)>> = Arc::new(layers.clone());
    let blobs2 = blobs.clone();
    let (port2, seen2) = fake::serve(Arc::new(move |r: &fake::Request, _| {
        match blobs2.iter().find(|(d, _)| r.path.ends_with(d.as_str())) {
            Some((_, b)) => (200, vec![], b.clone()),
            None => (404, vec![], Vec::new()),
        }
    }));
    let busy = Arc::new(AtomicU32::new(0));
    let busy2 = busy.clone();
    let handler = move |r: &fake::Request, port: u16| -> (u16, Vec<(String, String)>, Vec<u8>) {
        let json = |t: &str| vec![("Content-Type".to_owned(), t.to_owned())];
        if let Some(q) = r.path.strip_prefix("/token?") {
            // user:pass is dXNlcjpwYXNz.
            let ok = r
                .headers
                .get("authorization")
                .is_some_and(|a| a == "Basic dXNlcjpwYXNz");
            return if ok
                && (!q.contains("scope=") || q.contains("scope=repository%3Asecret%2Ffx%3Apull"))
            {
                (
                    200,
                    json("application/json"),
                    br#"{"token":"good-token"}"#.to_vec(),
                )
            } else {
                (401, vec![], Vec::new())
            };
        }
        let repo_ok = |repo: &str| r.path.starts_with(&format!("/v2/{repo}/"));
        // The login check: the base endpoint, behind the same token.
        if r.path == "/v2/" {
            return if r.headers.get("authorization").map(String::as_str)
                == Some("Bearer good-token")
            {
                (200, json("application/json"), b"{}".to_vec())
            } else {
                (
                    401,
                    vec![(
                        "WWW-Authenticate".to_owned(),
                        format!("Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake\""),
                    )],
                    Vec::new(),
                )
            };
        }
        if repo_ok("secret/fx")
            && r.headers.get("authorization").map(String::as_str) != Some("Bearer good-token")
        {
            return (
                401,
                vec![(
                    "WWW-Authenticate".to_owned(),
                    format!(
                        "Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake\",scope=\"repository:secret/fx:pull\""
                    ),
                )],
                Vec::new(),
            );
        }
        if repo_ok("busy/fx") && busy2.fetch_add(1, Ordering::SeqCst) < 2 {
            return (429, vec![], Vec::new());
        }
        if repo_ok("old/fx") && r.path.contains("/manifests/") {
            return (
                200,
                json("application/vnd.docker.distribution.manifest.v1+prettyjws"),
                br#"{"schemaVersion":1,"name":"old/fx","tag":"1","fsLayers":[]}"#.to_vec(),
            );
        }
        if r.path.contains("/manifests/") {
            if repo_ok("multi/fx") && !r.path.ends_with(&manifest_digest) {
                return (
                    200,
                    json("application/vnd.oci.image.index.v1+json"),
                    index.clone(),
                );
            }
            return (
                200,
                json("application/vnd.docker.distribution.manifest.v2+json"),
                manifest.clone(),
            );
        }
        if r.path.ends_with(&config_digest) {
            return (200, vec![], config_bytes.clone());
        }
        if let Some((d, b)) = blobs.iter().find(|(d, _)| r.path.ends_with(d.as_str())) {
            if repo_ok("liar/fx") {
                let mut bad = b.clone();
                bad[600] ^= 0xff;
                return (200, vec![], bad);
            }
            if repo_ok("resumable/fx") {
                // Cut at half on a plain GET; the rest given to a Range.
                let from = r
                    .headers
                    .get("range")
                    .and_then(|v| v.strip_prefix("bytes="))
                    .and_then(|v| v.strip_suffix('-'))
                    .and_then(|v| v.parse::<usize>().ok());
                return match from {
                    Some(from) if from < b.len() => (
                        206,
                        vec![(
                            "Content-Range".to_owned(),
                            format!("bytes {from}-{}/{}", b.len() - 1, b.len()),
                        )],
                        b[from..].to_vec(),
                    ),
                    _ => (
                        200,
                        vec![("Content-Length".to_owned(), b.len().to_string())],
                        b[..b.len() / 2].to_vec(),
                    ),
                };
            }
            if repo_ok("short/fx") {
                return (
                    200,
                    vec![("Content-Length".to_owned(), b.len().to_string())],
                    b[..b.len() / 2].to_vec(),
                );
            }
            if repo_ok("moved/fx") {
                return (
                    307,
                    vec![(
                        "Location".to_owned(),
                        format!("http://127.0.0.1:{port2}/elsewhere/{d}"),
                    )],
                    Vec::new(),
                );
            }
            return (200, vec![], b.clone());
        }
        (404, vec![], Vec::new())
    };
    let (port, seen) = fake::serve(Arc::new(handler));
    let host = format!("127.0.0.1:{port}");
    let pull = |name: &str, extra: &[&str]| {
        let mut args = vec!["pull", "-q", "--tls-verify=false"];
        args.extend_from_slice(extra);
        let full = format!("{host}/{name}");
        args.push(&full);
        env.run(&args)
    };
    let clean = |what: &str| {
        let check = env.run(["system", "check"]);
        let text = String::from_utf8_lossy(&check.stdout);
        assert!(text.contains("no problems found"), "{what}: {text}");
    };
    // Token authentication: refused without credentials, pulled with.
    let out = pull("secret/fx:1", &[]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--creds"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = pull("secret/fx:1", &["--creds", "user:wrong"]);
    assert_eq!(out.status.code(), Some(125));
    let out = pull("secret/fx:1", &["--creds", "user:pass"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), fx_id);
    env.ok(["rmi", "-f", &format!("{host}/secret/fx:1")]);
    // login checks the credentials, keeps them; pull then needs no --creds.
    let authfile = env.path().join("auth.json").display().to_string();
    let login = |pass: &str| {
        let mut c = env
            .cmd([
                "login",
                "--tls-verify=false",
                "--authfile",
                &authfile,
                "-u",
                "user",
                "--password-stdin",
                &host,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        std::io::Write::write_all(
            &mut c.stdin.take().expect("stdin"),
            format!("{pass}\n").as_bytes(),
        )
        .expect("feed");
        c.wait_with_output().expect("wait")
    };
    let out = login("wrong");
    assert_eq!(
        out.status.code(),
        Some(125),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !Path::new(&authfile).exists(),
        "nothing kept from a refused login"
    );
    let out = login("pass");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Login Succeeded!\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = pull("secret/fx:1", &["--authfile", &authfile]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(["rmi", "-f", &format!("{host}/secret/fx:1")]);
    assert_eq!(
        env.ok(["logout", "--authfile", &authfile, &host]),
        format!("Removed login credentials for {host}\n")
    );
    let out = env.run(["logout", "--authfile", &authfile, &host]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not logged into"));
    let out = pull("secret/fx:1", &["--authfile", &authfile]);
    assert_eq!(out.status.code(), Some(125));
    // 429 twice, then the answer.
    let out = pull("busy/fx:1", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(["rmi", "-f", &format!("{host}/busy/fx:1")]);
    // A redirect to another host: followed, without our credentials.
    let out = pull("moved/fx:1", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        seen2
            .lock()
            .expect("log")
            .iter()
            .all(|r| !r.headers.contains_key("authorization"))
    );
    assert!(
        !seen2.lock().expect("log").is_empty(),
        "the blobs came from the second host"
    );
    env.ok(["rmi", "-f", &format!("{host}/moved/fx:1")]);
    // A multi-platform index: the host's platform, or a list of the others.
    let out = pull("multi/fx:1", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = pull("multi/fx:1", &["--platform", "linux/ppc64le"]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("linux/riscv64") && err.contains("ppc64le"),
        "{err}"
    );
    env.ok(["rmi", "-f", &format!("{host}/multi/fx:1")]);
    // --arch picks another platform of the index; with --platform it is
    // refused with podman's message.
    let out = pull("multi/fx:1", &["--arch", "riscv64"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(["rmi", "-f", &format!("{host}/multi/fx:1")]);
    let out = pull("multi/fx:1", &["--os", "windows"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("windows/"));
    let out = pull(
        "multi/fx:1",
        &["--platform", "linux/amd64", "--arch", "arm64"],
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--platform option can not be specified with --arch or --os")
    );
    // A body that breaks off is resumed with a Range request where the
    // server honours one (a server that does not is the "short" case).
    let out = pull("resumable/fx:1", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), fx_id);
    assert!(
        seen.lock()
            .expect("log")
            .iter()
            .any(|r| r.path.starts_with("/v2/resumable/fx/blobs/")
                && r.headers.get("range").is_some_and(|v| v != "bytes=0-")),
        "the rest was asked for by range"
    );
    clean("resumable");
    env.ok(["rmi", "-f", &format!("{host}/resumable/fx:1")]);
    // Lies: a wrong digest and a cut body fail, and leave nothing.
    for (repo, want) in [
        ("liar/fx:1", "digest"),
        ("short/fx:1", ""),
        ("old/fx:1", "schema 1"),
    ] {
        let out = pull(repo, &[]);
        assert_eq!(out.status.code(), Some(125), "{repo}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{repo}: {err}");
        assert_eq!(
            env.run(["image", "exists", &format!("{host}/{repo}")])
                .status
                .code(),
            Some(1)
        );
        clean(repo);
    }
    assert_eq!(env.ok(["images", "-q"]), "");
}

fn oxpod_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[test]
fn what_oxpod_pushes_podman_pulls_and_oxpod_pulls_back() {
    require_containers!();
    let env = TestEnv::new();
    let Some(reg) = Registry::start(env.path()) else {
        return;
    };
    let (archive, id) = fixture_archive(&env);
    env.ok(["load", "-q", "-i", &archive.display().to_string()]);
    let dest = format!("{}/pushed/fx:2", reg.host());
    let out = env.run([
        "push",
        "--tls-verify=false",
        "localhost/fx:1",
        &format!("docker://{dest}"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Copied 4 blobs"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Again: the registry has every blob, nothing is sent.
    let out = env.run([
        "push",
        "--tls-verify=false",
        "--format",
        "oci",
        "localhost/fx:1",
        &format!("{dest}-oci"),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Copied 0 blobs"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // podman pulls both, with the same image id.
    if Path::new("/usr/bin/podman").exists() {
        let pm = env.path().join("podman");
        for name in [dest.clone(), format!("{dest}-oci")] {
            let out = Command::new("podman")
                .arg("--root")
                .arg(pm.join("root"))
                .arg("--runroot")
                .arg(pm.join("runroot"))
                .arg("--tmpdir")
                .arg(pm.join("tmp"))
                .args([
                    "--cgroup-manager=cgroupfs",
                    "--runtime",
                    "runc",
                    "--events-backend=none",
                ])
                .args(["pull", "-q", "--tls-verify=false", &name])
                .output()
                .expect("run podman");
            assert!(
                out.status.success(),
                "podman pull {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id, "{name}");
        }
        let _ = Command::new("podman")
            .arg("--root")
            .arg(pm.join("root"))
            .arg("--runroot")
            .arg(pm.join("runroot"))
            .arg("--tmpdir")
            .arg(pm.join("tmp"))
            .args(["system", "reset", "-f"])
            .output();
    }
    // And oxpod pulls them back into another store.
    let other = TestEnv::new();
    let out = other.run(["pull", "-q", "--tls-verify=false", &format!("{dest}-oci")]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        id,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        other.ok(["run", "--rm", &format!("{dest}-oci")]),
        "default-cmd\n"
    );
    // --all-tags: every tag of the repository.
    let third = TestEnv::new();
    let repo = format!("{}/pushed/fx", reg.host());
    env.ok([
        "push",
        "-q",
        "--tls-verify=false",
        "localhost/fx:1",
        &format!("{repo}:3"),
    ]);
    let ids = third.ok(["pull", "-q", "--all-tags", "--tls-verify=false", &repo]);
    assert_eq!(
        ids.lines().collect::<Vec<_>>(),
        [id.as_str(); 3],
        "fx:2, fx:2-oci, fx:3"
    );
    let names = third.ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    for tag in ["2", "2-oci", "3"] {
        assert!(names.contains(&format!("{repo}:{tag}")), "{names}");
    }
    third.fails(
        125,
        [
            "pull",
            "--all-tags",
            "--tls-verify=false",
            &format!("{repo}:3"),
        ],
    );
    let err = env.fails(
        125,
        ["push", "--tls-verify=false", "localhost/fx:1", "nohost/x:1"],
    );
    assert!(err.contains("give the registry"), "{err}");
}
