//! Networking through netavark (issue #19), end to end. Every test runs
//! its oxpod commands inside a private network namespace it makes
//! (`unshare -n`, loopback up), so bridges, firewall rules and
//! aardvark-dns never touch the machine's; a published port is reached
//! from that namespace, containers reach each other by address and by name
//! (`nc`, `nslookup`: busybox `wget` crashes in containers here).

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use oxpod_tests::{TestEnv, require_containers};

/// A private network namespace held by a `sleep`, and the env whose
/// commands run in it. Dropped, it removes every container from inside
/// the namespace first (a teardown from the host's would be refused).
struct NetEnv {
    env: TestEnv,
    holder: Child,
}

impl NetEnv {
    fn new() -> Option<NetEnv> {
        for tool in [
            "/usr/bin/unshare",
            "/usr/bin/nsenter",
            "/usr/sbin/iptables-save",
        ] {
            if !Path::new(tool).exists() {
                oxpod_test_support::skip_or_fail(&format!("{tool} is missing"));
                return None;
            }
        }
        if oxpod_network_helper("netavark").is_none() {
            oxpod_test_support::skip_or_fail("netavark is not installed");
            return None;
        }
        let holder = Command::new("unshare")
            .args(["-n", "sleep", "infinity"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare -n");
        let env = TestEnv::new();
        let me = NetEnv { env, holder };
        // The namespace exists once the sleep runs in it.
        let ours = std::fs::read_link("/proc/self/ns/net").expect("our netns");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_link(me.ns_path()).ok().as_ref() == Some(&ours) {
            assert!(Instant::now() < deadline, "unshare -n did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        let up = me.host(&["ip", "link", "set", "lo", "up"]);
        assert!(up.status.success(), "lo up: {up:?}");
        Some(me)
    }

    fn ns_path(&self) -> String {
        format!("/proc/{}/ns/net", self.holder.id())
    }

    /// `oxpod ARGS` inside the namespace, with root's default network
    /// (a bridge) instead of the test env's host one.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut inner = self.env.cmd(args);
        let conf = self.env.path().join("oxpod-bridge.conf");
        if !conf.exists() {
            std::fs::write(&conf, "netns = \"bridge\"\n").expect("write config");
        }
        inner.env("OXPOD_CONFIG", &conf);
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.ns_path()))
            .arg("--")
            .arg(inner.get_program())
            .args(inner.get_args())
            .stdin(Stdio::null());
        for (k, v) in inner.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("spawn oxpod")
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "oxpod {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[track_caller]
    fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "oxpod {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// A host program inside the namespace.
    fn host(&self, argv: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net={}", self.ns_path()))
            .arg("--")
            .args(argv)
            .stdin(Stdio::null())
            .output()
            .expect("nsenter")
    }

    fn host_text(&self, argv: &[&str]) -> String {
        String::from_utf8_lossy(&self.host(argv).stdout).into_owned()
    }

    /// An HTTP GET of `path` on 127.0.0.1:`port` from the namespace (at
    /// most 4 s: without its DNAT rule the connection lands on the socket
    /// conmon holds, which never answers).
    fn get(&self, port: u16, path: &str) -> String {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | nsenter --net={} -- timeout 4 busybox nc -w 3 127.0.0.1 {port}",
                self.ns_path()
            ))
            .output()
            .expect("nc");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The firewall and links of the namespace, as one text.
    fn firewall(&self) -> String {
        self.host_text(&["iptables-save"])
    }

    fn links(&self) -> String {
        self.host_text(&["ip", "-br", "link"])
    }

    fn rootfs(&self) -> String {
        self.env.rootfs().display().to_string()
    }

    /// Namespace files of the env's containers.
    fn netns_files(&self) -> Vec<String> {
        std::fs::read_dir(self.env.runroot().join("netns"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for NetEnv {
    fn drop(&mut self) {
        let _ = self
            .cmd(&["rm", "-a", "-f"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn oxpod_network_helper(name: &str) -> Option<std::path::PathBuf> {
    ["/usr/libexec/podman", "/usr/lib/podman"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn networks_are_made_listed_inspected_and_removed_as_podmans() {
    require_containers!();
    let Some(n) = NetEnv::new() else { return };
    assert_eq!(n.ok(&["network", "create", "n1"]), "n1\n");
    let doc: serde_json::Value =
        serde_json::from_str(&n.ok(&["network", "inspect", "n1"])).expect("json");
    let net = &doc[0];
    assert_eq!(net["subnets"][0]["subnet"], "10.89.0.0/24");
    assert_eq!(net["subnets"][0]["gateway"], "10.89.0.1");
    assert_eq!(net["network_interface"], "podman1");
    assert_eq!(net["dns_enabled"], true);
    // The file is netavark's format, named after the network.
    let file = n.env.path().join("networks/n1.json");
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("n1.json")).expect("json");
    assert_eq!(&on_disk, net);
    // Options, and the next free subnet and bridge.
    n.ok(&[
        "network",
        "create",
        "--subnet",
        "10.99.0.0/24",
        "--gateway",
        "10.99.0.254",
        "--ip-range",
        "10.99.0.128/25",
        "--internal",
        "--label",
        "a=b",
        "n2",
    ]);
    let n2 = n.ok(&[
        "network",
        "inspect",
        "--format",
        "{{.Internal}} {{.DNSEnabled}} {{.Labels}} {{.NetworkInterface}}",
        "n2",
    ]);
    // Internal, yet with DNS (podman's: only --disable-dns turns it off).
    assert_eq!(n2.trim(), "true true map[a:b] podman2");
    assert_eq!(n.ok(&["network", "create", "n3"]), "n3\n",);
    assert!(n.ok(&["network", "inspect", "n3"]).contains("10.89.1.0/24"));
    // ls, filters, exists.
    let ls = n.ok(&["network", "ls"]);
    assert!(ls.starts_with("NETWORK ID"), "{ls}");
    for name in ["n1", "n2", "n3", "podman"] {
        assert!(ls.contains(name), "{ls}");
    }
    assert_eq!(
        n.ok(&["network", "ls", "-q", "--filter", "label=a=b"]),
        "n2\n"
    );
    assert_eq!(
        n.ok(&[
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}}",
            "--filter",
            "name=n1"
        ]),
        "n1 bridge\n"
    );
    assert_eq!(n.run(&["network", "exists", "n1"]).status.code(), Some(0));
    assert_eq!(n.run(&["network", "exists", "nope"]).status.code(), Some(1));
    // Bad inputs: each refused with the reason, nothing written.
    for (args, want) in [
        (&["--subnet", "10.89.0.0/16"][..], "already used"),
        (
            &["--subnet", "10.98.0.0/24", "--gateway", "10.97.0.1"],
            "not in subnet",
        ),
        (&["--subnet", "10.98.0.0/31"], "no address"),
        (
            &["--subnet", "10.98.0.0/24", "--ip-range", "10.97.0.0/25"],
            "not inside",
        ),
        (&["--subnet", "banana"], "subnet"),
        (&["-d", "ipvlan"], "unsupported driver"),
    ] {
        let mut all = vec!["network", "create"];
        all.extend_from_slice(args);
        all.push("bad");
        let err = n.fails(125, &all);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let err = n.fails(125, &["network", "create", "a/b"]);
    assert!(err.contains("names must match"), "{err}");
    let err = n.fails(125, &["network", "create", "n1"]);
    assert!(err.contains("already exists"), "{err}");
    assert!(!n.env.path().join("networks/bad.json").exists());
    // A hand-edited file whose name disagrees is refused by name.
    std::fs::copy(&file, n.env.path().join("networks/other.json")).expect("copy");
    let err = n.fails(125, &["network", "inspect", "other"]);
    assert!(err.contains("rename"), "{err}");
    std::fs::remove_file(n.env.path().join("networks/other.json")).expect("rm");
    // In use: refused with podman's code 2, -f removes the user.
    let rootfs = n.rootfs();
    n.ok(&[
        "create",
        "--name",
        "user",
        "--network",
        "n3",
        "--rootfs",
        &rootfs,
        "true",
    ]);
    let err = n.fails(2, &["network", "rm", "n3"]);
    assert!(err.contains("network is being used"), "{err}");
    assert_eq!(n.ok(&["network", "rm", "-f", "n3"]), "n3\n");
    assert_eq!(
        n.run(&["container", "exists", "user"]).status.code(),
        Some(1)
    );
    let err = n.fails(1, &["network", "rm", "n3"]);
    assert!(err.contains("network not found"), "{err}");
    let err = n.fails(125, &["network", "rm", "podman"]);
    assert!(err.contains("cannot be removed"), "{err}");
    // prune keeps the default and the used.
    n.ok(&[
        "create",
        "--name",
        "keeper",
        "--network",
        "n1",
        "--rootfs",
        &rootfs,
        "true",
    ]);
    assert_eq!(n.ok(&["network", "prune", "-f"]), "n2\n");
    let names = n.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(names, "n1\npodman\n");
    let events = n.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "type=network",
        "--format",
        "{{.Status}} {{.Name}}",
    ]);
    assert!(
        events.contains("create n1") && events.contains("remove n2"),
        "{events}"
    );
    // macvlan on a parent interface of the namespace.
    let dummy = n.host(&[
        "ip", "link", "add", "dummy0", "type", "veth", "peer", "name", "dummy1",
    ]);
    assert!(dummy.status.success(), "{dummy:?}");
    let _ = n.host(&["ip", "link", "set", "dummy0", "up"]);
    n.ok(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "-o",
        "parent=dummy0",
        "--subnet",
        "10.66.0.0/24",
        "mv",
    ]);
    assert_eq!(
        n.ok(&[
            "network",
            "inspect",
            "--format",
            "{{.Driver}} {{.NetworkInterface}}",
            "mv"
        ])
        .trim(),
        "macvlan dummy0"
    );
    let o = n.run(&[
        "run",
        "--rm",
        "--network",
        "mv",
        "--rootfs",
        &rootfs,
        "cat",
        "/proc/net/dev",
    ]);
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("eth0"),
        "{o:?}"
    );
    let err = n.fails(125, &["network", "create", "-d", "macvlan", "nope"]);
    assert!(err.contains("parent"), "{err}");
    n.ok(&["network", "rm", "mv"]);
    // podman writes the same definition for the same flags.
    if Path::new("/usr/bin/podman").exists() {
        let pdir = n.env.path().join("podman");
        let out = Command::new("podman")
            .arg("--root")
            .arg(pdir.join("root"))
            .arg("--runroot")
            .arg(pdir.join("run"))
            .arg("--tmpdir")
            .arg(pdir.join("tmp"))
            .arg("--network-config-dir")
            .arg(pdir.join("net"))
            .args([
                "network",
                "create",
                "--subnet",
                "10.99.0.0/24",
                "--gateway",
                "10.99.0.254",
                "--ip-range",
                "10.99.0.128/25",
                "--internal",
                "--label",
                "a=b",
                "n2",
            ])
            .output()
            .expect("podman");
        assert!(out.status.success(), "{out:?}");
        n.ok(&[
            "network",
            "create",
            "--subnet",
            "10.99.0.0/24",
            "--gateway",
            "10.99.0.254",
            "--ip-range",
            "10.99.0.128/25",
            "--internal",
            "--label",
            "a=b",
            "n2",
        ]);
        let read = |p: &Path| -> serde_json::Value {
            let mut v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json");
            for k in ["id", "created", "network_interface"] {
                v.as_object_mut().expect("object").remove(k);
            }
            v
        };
        assert_eq!(
            read(&n.env.path().join("networks/n2.json")),
            read(&pdir.join("net/n2.json")),
        );
    } else {
        oxpod_test_support::skip_or_fail("podman is not installed: no interop check");
    }
}

#[test]
fn containers_reach_each_other_by_name_and_publish_ports_and_leave_nothing() {
    require_containers!();
    let Some(n) = NetEnv::new() else { return };
    let rootfs = n.rootfs();
    let links_before = n.links();
    n.ok(&["network", "create", "n1"]);
    n.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "n1",
        "--network-alias",
        "www",
        "-p",
        "18080:80",
        "-p",
        "8000",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "echo hello > /tmp/i; exec httpd -f -p 80 -h /tmp",
    ]);
    // Its address, inspect and ps as podman's.
    let ip = n
        .ok(&[
            "inspect",
            "web",
            "--format",
            "{{.NetworkSettings.Networks.n1.IPAddress}}",
        ])
        .trim()
        .to_owned();
    assert_eq!(ip, "10.89.0.2");
    assert_eq!(
        n.ok(&["inspect", "web", "--format", "{{.HostConfig.NetworkMode}} {{.NetworkSettings.Networks.n1.Gateway}} {{.NetworkSettings.Networks.n1.IPPrefixLen}}"]).trim(),
        "bridge 10.89.0.1 24"
    );
    let ports = n.ok(&["port", "web"]);
    let random: u16 = ports
        .lines()
        .find_map(|l| l.strip_prefix("8000/tcp -> 0.0.0.0:"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no random port in {ports}"));
    assert!(ports.contains("80/tcp -> 0.0.0.0:18080"), "{ports}");
    assert_eq!(n.ok(&["port", "web", "80"]), "0.0.0.0:18080\n");
    let ps = n.ok(&["ps", "--format", "{{.Names}} {{.Ports}} {{.Networks}}"]);
    assert_eq!(
        ps.trim(),
        format!("web 0.0.0.0:18080->80/tcp, 0.0.0.0:{random}->8000/tcp n1")
    );
    // The published port from the namespace's loopback.
    wait_for("httpd", || n.get(18080, "/i").contains("hello"));
    // Reserved while it runs: conmon holds the host ports, so nothing on
    // the host binds them (podman's enable_port_reservation).
    let listening = n.host_text(&["busybox", "netstat", "-ltn"]);
    assert!(
        listening.contains(":18080 ") && listening.contains(&format!(":{random} ")),
        "{listening}"
    );
    let bind = n.host(&["busybox", "nc", "-l", "-p", "18080"]);
    assert!(
        String::from_utf8_lossy(&bind.stderr).contains("in use"),
        "{bind:?}"
    );
    // Its own counters in stats.
    let net_io = n.ok(&["stats", "--no-stream", "--format", "{{.NetIO}}", "web"]);
    assert!(!net_io.contains("--") && net_io.contains(" / "), "{net_io}");
    // Name, alias and address from another container on the network.
    let (code, out, err) = {
        let o = n.run(&[
            "run", "--rm", "--network", "n1", "--rootfs", &rootfs, "sh", "-c",
            "nslookup web; nslookup www; printf 'GET /i HTTP/1.0\\r\\n\\r\\n' | nc web 80; cat /etc/resolv.conf /etc/hosts",
        ]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out.matches(&format!("Address: {ip}")).count(), 2, "{out}");
    assert!(out.contains("hello"), "{out}");
    assert!(
        out.contains("search dns.podman") && out.contains("nameserver 10.89.0.1"),
        "{out}"
    );
    assert!(out.contains("10.89.0.1\thost.containers.internal"), "{out}");
    assert!(
        out.contains("10.89.0.3\t"),
        "the second one's own line: {out}"
    );
    // A port another container holds, and a bad spec.
    let err = n.fails(
        125,
        &["run", "--rm", "-p", "18080:81", "--rootfs", &rootfs, "true"],
    );
    assert!(err.contains("already in use"), "{err}");
    for (spec, want) in [
        ("70000:80", "1 to 65535"),
        ("8080-8081:80", "same size"),
        ("x", "number"),
    ] {
        let err = n.fails(125, &["create", "-p", spec, "--rootfs", &rootfs, "true"]);
        assert!(err.contains(want), "{spec}: {err}");
    }
    // Something on the host holding the port.
    let mut holder = Command::new("nsenter")
        .arg(format!("--net={}", n.ns_path()))
        .args(["--", "busybox", "nc", "-l", "-p", "18090"])
        .stdout(Stdio::null())
        .spawn()
        .expect("nc -l");
    wait_for("nc -l", || {
        n.host_text(&["busybox", "netstat", "-ltn"])
            .contains(":18090")
    });
    let err = n.fails(
        125,
        &["run", "--rm", "-p", "18090:80", "--rootfs", &rootfs, "true"],
    );
    assert!(err.contains("18090/tcp is already in use"), "{err}");
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(n.firewall().contains("18080"), "a DNAT rule for the port");
    // Stopped: no lease, no namespace, no rule; started again: the same.
    n.ok(&["stop", "-t", "1", "web"]);
    wait_for("the cleanup", || n.netns_files().is_empty());
    assert!(!n.firewall().contains("18080"));
    assert_eq!(
        n.ok(&[
            "inspect",
            "web",
            "--format",
            "{{.NetworkSettings.Networks.n1.IPAddress}}"
        ])
        .trim(),
        ""
    );
    n.ok(&["start", "web"]);
    wait_for("httpd again", || n.get(18080, "/i").contains("hello"));
    n.ok(&["rm", "-f", "web"]);
    // Nothing left: namespace files, rules, links (the bridge went with
    // its last container), aardvark's entries.
    assert_eq!(n.netns_files(), Vec::<String>::new());
    let fw = n.firewall();
    assert!(
        !fw.contains("18080") && !fw.contains(&format!("{random}")),
        "{fw}"
    );
    assert!(!fw.contains("10.89.0.2"), "{fw}");
    assert_eq!(n.links(), links_before);
    assert!(
        !n.host_text(&["busybox", "netstat", "-ltn"])
            .contains(":18080 "),
        "the reservation went too"
    );
    let aardvark = n.env.runroot().join("networks/aardvark-dns/n1");
    let entries = std::fs::read_to_string(&aardvark).unwrap_or_default();
    assert!(!entries.contains("10.89.0.2"), "{entries}");
    assert!(n.ok(&["system", "check"]).contains("no problems found"));
}

#[test]
fn modes_none_host_container_and_ns_join_the_namespace_asked_for() {
    require_containers!();
    let Some(n) = NetEnv::new() else { return };
    let rootfs = n.rootfs();
    let netns_of = |name: &str| -> String {
        let pid = n.ok(&["inspect", name, "--format", "{{.State.Pid}}"]);
        std::fs::read_link(format!("/proc/{}/ns/net", pid.trim()))
            .expect("ns link")
            .display()
            .to_string()
    };
    let namespace = std::fs::read_link(n.ns_path())
        .expect("ns")
        .display()
        .to_string();
    n.ok(&[
        "run", "-d", "--name", "br", "--rootfs", &rootfs, "sleep", "1000",
    ]);
    n.ok(&[
        "run",
        "-d",
        "--name",
        "hostnet",
        "--network",
        "host",
        "--rootfs",
        &rootfs,
        "sleep",
        "1000",
    ]);
    n.ok(&[
        "run",
        "-d",
        "--name",
        "nonet",
        "--network",
        "none",
        "--rootfs",
        &rootfs,
        "sleep",
        "1000",
    ]);
    n.ok(&[
        "run",
        "-d",
        "--name",
        "joiner",
        "--network",
        "container:br",
        "--rootfs",
        &rootfs,
        "sleep",
        "1000",
    ]);
    // The default for root: the default network, podman's 10.88.0.0/16.
    assert_eq!(
        n.ok(&[
            "inspect",
            "br",
            "--format",
            "{{.NetworkSettings.IPAddress}} {{.HostConfig.NetworkMode}}"
        ])
        .trim(),
        "10.88.0.2 bridge"
    );
    assert_eq!(netns_of("hostnet"), namespace);
    let (br, nonet) = (netns_of("br"), netns_of("nonet"));
    assert_ne!(br, namespace);
    assert_ne!(nonet, namespace);
    assert_ne!(nonet, br);
    assert_eq!(netns_of("joiner"), br);
    // `none` has its loopback, up, and nothing else.
    let (code, out, _) = {
        let o = n.run(&[
            "exec",
            "nonet",
            "sh",
            "-c",
            "ls /sys/class/net; cat /sys/class/net/lo/operstate",
        ]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            (),
        )
    };
    assert_eq!(code, Some(0));
    assert_eq!(out, "lo\nunknown\n");
    // ns:PATH joins a bound namespace, never unmounting it.
    let bound = n.env.path().join("bound-ns");
    std::fs::write(&bound, "").expect("file");
    let st = Command::new("mount")
        .args(["--bind", &format!("/proc/{}/ns/net", n.holder.id())])
        .arg(&bound)
        .status()
        .expect("mount");
    assert!(st.success());
    let ns_arg = format!("ns:{}", bound.display());
    n.ok(&[
        "run",
        "-d",
        "--name",
        "inns",
        "--network",
        &ns_arg,
        "--rootfs",
        &rootfs,
        "sleep",
        "1000",
    ]);
    assert_eq!(netns_of("inns"), namespace);
    n.ok(&["rm", "-f", "inns"]);
    assert!(oxpod_network_is_nsfs(&bound), "left bound");
    let _ = Command::new("umount").arg(&bound).status();
    // Bad modes, and a joined container that is not running.
    let err = n.fails(
        125,
        &[
            "create",
            "--network",
            "ns:/etc/hostname",
            "--rootfs",
            &rootfs,
            "true",
        ],
    );
    assert!(err.contains("not a network namespace"), "{err}");
    let err = n.fails(
        125,
        &[
            "create",
            "--network",
            "container:nothere",
            "--rootfs",
            &rootfs,
            "true",
        ],
    );
    assert!(err.contains("nothere"), "{err}");
    n.ok(&[
        "create", "--name", "stopped", "--rootfs", &rootfs, "sleep", "1000",
    ]);
    n.ok(&[
        "create",
        "--name",
        "j2",
        "--network",
        "container:stopped",
        "--rootfs",
        &rootfs,
        "true",
    ]);
    let err = n.fails(125, &["start", "j2"]);
    assert!(err.contains("must be running"), "{err}");
    // The joined one cannot go first.
    n.ok(&["stop", "-t", "0", "br"]);
    let out = n.run(&["rm", "br"]);
    assert_ne!(out.status.code(), Some(0), "a dependent container exists");
    // -p with host or none is dropped with podman's warning; net.* sysctls
    // work in a namespace of its own.
    let out = n.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-p",
        "8080:80",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--rootfs",
        &rootfs,
        "cat",
        "/proc/sys/net/ipv4/ip_forward",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Port mappings have been discarded"));
    let err = n.fails(
        125,
        &[
            "create",
            "--network",
            "none",
            "--ip",
            "10.88.0.9",
            "--rootfs",
            &rootfs,
            "true",
        ],
    );
    assert!(err.contains("need a bridge network"), "{err}");
}

fn oxpod_network_is_nsfs(p: &Path) -> bool {
    let out = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(p)
        .output()
        .expect("stat");
    String::from_utf8_lossy(&out.stdout).trim() == "nsfs"
}

#[test]
fn static_addresses_are_leased_once_and_freed_by_cleanup_rm_and_reboot() {
    require_containers!();
    let Some(n) = NetEnv::new() else { return };
    let rootfs = n.rootfs();
    n.ok(&["network", "create", "--subnet", "10.77.0.0/29", "small"]);
    n.ok(&[
        "run",
        "-d",
        "--name",
        "a",
        "--network",
        "small",
        "--ip",
        "10.77.0.5",
        "--mac-address",
        "92:d0:c6:0a:29:33",
        "--rootfs",
        &rootfs,
        "sleep",
        "1000",
    ]);
    assert_eq!(
        n.ok(&["inspect", "a", "--format", "{{.NetworkSettings.Networks.small.IPAddress}} {{.NetworkSettings.Networks.small.MacAddress}}"]).trim(),
        "10.77.0.5 92:d0:c6:0a:29:33"
    );
    let err = n.fails(
        125,
        &[
            "run",
            "--rm",
            "--network",
            "small",
            "--ip",
            "10.77.0.5",
            "--rootfs",
            &rootfs,
            "true",
        ],
    );
    assert!(err.contains("already allocated"), "{err}");
    for (ip, want) in [
        ("10.77.0.1", "gateway"),
        ("10.77.0.9", "not a host address"),
        ("10.77.0.7", "not a host address"),
    ] {
        let err = n.fails(
            125,
            &[
                "create",
                "--network",
                "small",
                "--ip",
                ip,
                "--rootfs",
                &rootfs,
                "true",
            ],
        );
        assert!(err.contains(want), "{ip}: {err}");
    }
    // A /29 has 5 addresses for containers: the pool runs out, clearly.
    for name in ["b", "c", "d", "e"] {
        n.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "small",
            "--rootfs",
            &rootfs,
            "sleep",
            "1000",
        ]);
    }
    let err = n.fails(
        125,
        &[
            "run",
            "--rm",
            "--network",
            "small",
            "--rootfs",
            &rootfs,
            "true",
        ],
    );
    assert!(err.contains("no free address"), "{err}");
    // The refused one was not left behind (`run --rm`).
    assert_eq!(n.ok(&["ps", "-a", "-q"]).lines().count(), 5);
    // An exit frees its address (conmon's cleanup), a removal too.
    n.ok(&["stop", "-t", "0", "e"]);
    n.ok(&[
        "run",
        "--rm",
        "--network",
        "small",
        "--rootfs",
        &rootfs,
        "true",
    ]);
    n.ok(&["rm", "-f", "d"]);
    n.ok(&[
        "run",
        "-d",
        "--name",
        "d2",
        "--network",
        "small",
        "--rootfs",
        &rootfs,
        "sleep",
        "1000",
    ]);
    // "Reboot": processes and namespaces gone, the firewall flushed, the
    // tmp dir emptied. Leases go with the refresh; --ip works again.
    let pids: Vec<String> = ["a", "b", "c", "d2"]
        .iter()
        .flat_map(|c| {
            let f = n.ok(&[
                "inspect",
                c,
                "--format",
                "{{.State.ConmonPid}} {{.State.Pid}}",
            ]);
            f.split_whitespace().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect();
    for p in &pids {
        let _ = Command::new("kill").args(["-9", p]).status();
    }
    wait_for("the processes to die", || {
        pids.iter()
            .all(|p| !Path::new(&format!("/proc/{p}")).exists())
    });
    let _ = n.host(&["sh", "-c", "pkill -9 -f aardvark-dns; iptables -F; iptables -t nat -F; iptables -X; iptables -t nat -X"]);
    let netns = n.env.runroot().join("netns");
    for f in n.netns_files().iter().filter(|f| !f.ends_with(".json")) {
        let _ = Command::new("umount").arg(netns.join(f)).status();
    }
    std::fs::remove_dir_all(n.env.runroot()).expect("remove runroot");
    let shm = Path::new("/dev/shm").join(n.env.lock_name.trim_start_matches('/'));
    let _ = std::fs::remove_file(shm);
    n.ok(&["ps", "-a"]);
    // Running before the reboot: back to created, as libpod's refresh.
    assert_eq!(
        n.ok(&["inspect", "a", "--format", "{{.State.Status}}"])
            .trim(),
        "created"
    );
    n.ok(&["start", "a"]);
    assert_eq!(
        n.ok(&[
            "inspect",
            "a",
            "--format",
            "{{.NetworkSettings.Networks.small.IPAddress}}"
        ])
        .trim(),
        "10.77.0.5"
    );
    assert!(n.ok(&["system", "check"]).contains("no problems found"));
}

/// Kills `oxpod ARGS` (in the namespace) after `delay`.
fn killed(n: &NetEnv, args: &[&str], delay: Duration) {
    let mut child = n
        .cmd(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(delay);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_killed_run_p_or_rm_leaves_no_namespace_lease_or_rule_behind() {
    require_containers!();
    let Some(n) = NetEnv::new() else { return };
    let rootfs = n.rootfs();
    n.ok(&["network", "create", "n1"]);
    let links_before = n.links();
    // What a leftover is: a namespace file, or a DNAT rule for the port,
    // with no running container holding it.
    let check = |round: usize| {
        let out = n.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
        let running = out.lines().any(|l| l.ends_with(" running"));
        let files = n.netns_files();
        let fw = n.firewall();
        if !running {
            // Its cleanup (conmon's exit command) may still be on its way.
            wait_for("the cleanup", || {
                n.netns_files().is_empty() && !n.firewall().contains("dport 18080")
            });
        } else {
            assert!(
                !files.is_empty(),
                "round {round}: running without a namespace"
            );
            assert!(
                fw.contains("18080"),
                "round {round}: running without its rule"
            );
        }
        let report = n.ok(&["system", "check"]);
        assert!(
            report.contains("no problems found"),
            "round {round}: {report}"
        );
    };
    for round in 0..14 {
        let delay = Duration::from_millis(5 + 9 * round as u64);
        killed(
            &n,
            &[
                "run",
                "-d",
                "--name",
                "k",
                "--network",
                "n1",
                "-p",
                "18080:80",
                "--rootfs",
                &rootfs,
                "sleep",
                "1000",
            ],
            delay,
        );
        check(round);
        killed(&n, &["rm", "-f", "k"], delay);
        check(round);
        let _ = n.run(&["rm", "-f", "k"]);
        check(round);
    }
    // And what a container gets after all that is the first address.
    n.ok(&[
        "run",
        "-d",
        "--name",
        "last",
        "--network",
        "n1",
        "-p",
        "18080:80",
        "--rootfs",
        &rootfs,
        "sleep",
        "1000",
    ]);
    assert_eq!(
        n.ok(&[
            "inspect",
            "last",
            "--format",
            "{{.NetworkSettings.Networks.n1.IPAddress}}"
        ])
        .trim(),
        "10.89.0.2"
    );
    n.ok(&["rm", "-f", "last"]);
    assert_eq!(n.netns_files(), Vec::<String>::new());
    assert_eq!(n.links(), links_before);
}

#[test]
fn connect_disconnect_and_reload_change_a_running_containers_networks() {
    require_containers!();
    let Some(n) = NetEnv::new() else { return };
    let rootfs = n.rootfs();
    n.ok(&["network", "create", "n1"]);
    n.ok(&["network", "create", "n2"]);
    n.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "n1",
        "-p",
        "18082:80",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "echo page > /tmp/i; exec httpd -f -p 80 -h /tmp",
    ]);
    n.ok(&[
        "network",
        "connect",
        "--alias",
        "w2",
        "--ip",
        "10.89.1.9",
        "n2",
        "web",
    ]);
    assert_eq!(
        n.ok(&[
            "inspect",
            "web",
            "--format",
            "{{.NetworkSettings.Networks.n2.IPAddress}}"
        ])
        .trim(),
        "10.89.1.9"
    );
    let on_n2 = |script: &str| {
        let o = n.run(&[
            "run",
            "--rm",
            "--network",
            "n2",
            "--rootfs",
            &rootfs,
            "sh",
            "-c",
            script,
        ]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let out = on_n2("nslookup w2; printf 'GET /i HTTP/1.0\\r\\n\\r\\n' | nc web 80 | tail -1");
    assert!(
        out.contains("Address: 10.89.1.9") && out.contains("page"),
        "{out}"
    );
    let err = n.fails(125, &["network", "connect", "n2", "web"]);
    assert!(err.contains("already connected"), "{err}");
    n.ok(&["network", "disconnect", "n2", "web"]);
    let out = on_n2("nslookup web >/dev/null 2>&1 && echo resolved || echo gone");
    assert_eq!(out, "gone\n");
    let err = n.fails(125, &["network", "disconnect", "n2", "web"]);
    assert!(err.contains("not connected"), "{err}");
    // After a firewall flush the port is dead until reload.
    wait_for("the page", || n.get(18082, "/i").contains("page"));
    let _ = n.host(&["iptables", "-t", "nat", "-F"]);
    assert!(!n.get(18082, "/i").contains("page"));
    let id = n.ok(&["inspect", "web", "--format", "{{.Id}}"]);
    assert_eq!(n.ok(&["network", "reload", "web"]), id);
    wait_for("the page after reload", || {
        n.get(18082, "/i").contains("page")
    });
    let events = n.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "type=network",
        "--format",
        "{{.Status}} {{.Name}}",
    ]);
    assert!(
        events.contains("connect n2") && events.contains("disconnect n2"),
        "{events}"
    );
    // A stopped container is connected in its record, set up at start.
    n.ok(&["stop", "-t", "0", "web"]);
    n.ok(&["network", "connect", "n2", "web"]);
    n.ok(&["start", "web"]);
    assert_eq!(
        n.ok(&[
            "inspect",
            "web",
            "--format",
            "{{.NetworkSettings.Networks.n2.IPAddress}}"
        ])
        .trim(),
        "10.89.1.2"
    );
    n.ok(&[
        "run",
        "-d",
        "--name",
        "h",
        "--network",
        "host",
        "--rootfs",
        &rootfs,
        "sleep",
        "100",
    ]);
    let err = n.fails(125, &["network", "connect", "n1", "h"]);
    assert!(err.contains("only a container on bridge networks"), "{err}");
}

#[test]
fn a_pod_shares_its_infra_containers_network_and_publishes_its_ports() {
    require_containers!();
    let Some(n) = NetEnv::new() else { return };
    let rootfs = n.rootfs();
    n.ok(&["network", "create", "pn"]);
    n.ok(&[
        "pod",
        "create",
        "--name",
        "p",
        "--network",
        "pn",
        "-p",
        "18083:80",
    ]);
    let infra = n
        .ok(&["pod", "inspect", "p", "--format", "{{.InfraContainerID}}"])
        .trim()
        .to_owned();
    assert_eq!(infra.len(), 64);
    assert_eq!(
        n.ok(&[
            "inspect",
            &infra,
            "--format",
            "{{.IsInfra}} {{.Config.Cmd}}"
        ])
        .trim(),
        "true [/catatonit -P]"
    );
    n.ok(&[
        "run",
        "-d",
        "--pod",
        "p",
        "--name",
        "web",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "echo pod-page > /tmp/i; exec httpd -f -p 80 -h /tmp",
    ]);
    // The member started the infra; they share one namespace.
    let ns = |name: &str| {
        let pid = n.ok(&["inspect", name, "--format", "{{.State.Pid}}"]);
        std::fs::read_link(format!("/proc/{}/ns/net", pid.trim())).expect("ns")
    };
    assert_eq!(ns("web"), ns(&infra));
    // Another member reaches it on localhost; the pod's port from outside;
    // a container on the network by the pod's infra name.
    let o = n.run(&[
        "run",
        "--rm",
        "--pod",
        "p",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "printf 'GET /i HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 80 | tail -1",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "pod-page\n", "{o:?}");
    wait_for("the pod's port", || n.get(18083, "/i").contains("pod-page"));
    // Members take no network or ports of their own.
    let err = n.fails(
        125,
        &[
            "create", "--pod", "p", "-p", "9000:80", "--rootfs", &rootfs, "true",
        ],
    );
    assert!(
        err.contains("must be defined when the pod is created"),
        "{err}"
    );
    let err = n.fails(
        125,
        &[
            "create",
            "--pod",
            "p",
            "--network",
            "pn",
            "--rootfs",
            &rootfs,
            "true",
        ],
    );
    assert!(err.contains("shared with a pod"), "{err}");
    // The infra cannot go before its pod.
    assert_ne!(n.run(&["rm", "-f", &infra]).status.code(), Some(0));
    // Stop and start: the infra last down, first up.
    n.ok(&["pod", "stop", "-t", "1", "p"]);
    assert_eq!(n.netns_files(), Vec::<String>::new());
    n.ok(&["pod", "start", "p"]);
    wait_for("the pod's port again", || {
        n.get(18083, "/i").contains("pod-page")
    });
    assert_eq!(
        n.ok(&[
            "pod",
            "ps",
            "--format",
            "{{.Name}} {{.InfraID}} {{.Networks}}",
            "--filter",
            "network=pn"
        ])
        .trim(),
        format!("p {} pn", &infra[..12])
    );
    n.ok(&["pod", "rm", "-f", "p"]);
    assert_eq!(n.netns_files(), Vec::<String>::new());
    assert_eq!(n.ok(&["ps", "-a", "-q"]), "");
    // --infra=false: members are on their own networks.
    n.ok(&["pod", "create", "--infra=false", "--name", "q"]);
    n.ok(&[
        "run",
        "-d",
        "--pod",
        "q",
        "--name",
        "own",
        "--network",
        "pn",
        "--rootfs",
        &rootfs,
        "sleep",
        "100",
    ]);
    assert_eq!(
        n.ok(&[
            "inspect",
            "own",
            "--format",
            "{{.NetworkSettings.Networks.pn.IPAddress}}"
        ])
        .trim(),
        "10.89.0.2"
    );
}

#[test]
fn publish_all_takes_the_images_exposed_ports() {
    require_containers!();
    let Some(n) = NetEnv::new() else { return };
    let mut fx = oxpod_test_support::image::Fixture::new(Path::new(oxpod_test_support::BUSYBOX))
        .expect("the test image");
    let mut config: serde_json::Value = serde_json::from_slice(&fx.config).expect("config");
    config["config"]["ExposedPorts"] = serde_json::json!({"80/tcp": {}, "53/udp": {}});
    fx.config = serde_json::to_vec(&config).expect("json");
    let archive = n.env.path().join("exposed.tar");
    std::fs::write(&archive, fx.docker_archive(&["localhost/exposed:1"])).expect("write");
    n.ok(&["load", "-i", &archive.display().to_string()]);
    n.ok(&[
        "run",
        "-d",
        "--name",
        "pa",
        "-P",
        "localhost/exposed:1",
        "sleep 100",
    ]);
    let ports = n.ok(&["port", "pa"]);
    let lines: Vec<&str> = ports.lines().collect();
    assert_eq!(lines.len(), 2, "{ports}");
    assert!(
        lines.iter().any(|l| l.starts_with("80/tcp -> 0.0.0.0:")),
        "{ports}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("53/udp -> 0.0.0.0:")),
        "{ports}"
    );
    n.ok(&["rm", "-f", "pa"]);
    assert_eq!(n.netns_files(), Vec::<String>::new());
}
