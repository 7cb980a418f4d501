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
