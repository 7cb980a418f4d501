//! `exec` end to end (issue #17) with conmon's exec mode and runc: exit
//! codes, stdin and separate stderr, a terminal from a pty this test opens
//! (its size at the first start, a resize, raw mode restored, the detach
//! keys), sessions in `inspect`, `rm -f` and a killed `oxpod exec` leaving
//! nothing running, and concurrent sessions.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use oxpod_tests::{TestEnv, require_containers};

fn running(env: &TestEnv, name: &str) {
    let rootfs = env.rootfs().display().to_string();
    env.ok([
        "run", "-d", "--name", name, "--rootfs", &rootfs, "sleep", "1000",
    ]);
}

fn sessions(env: &TestEnv, name: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&env.ok(["inspect", name])).unwrap_or_default();
    v[0]["ExecIDs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Processes whose command line mentions `needle` (the marker of one test).
fn processes_with(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                out.push(cmd);
            }
        }
    }
    out
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn exit_codes_stdin_and_stderr_as_podmans() {
    require_containers!();
    let env = TestEnv::new();
    running(&env, "s");
    assert_eq!(env.run(["exec", "s", "true"]).status.code(), Some(0));
    assert_eq!(
        env.run(["exec", "s", "sh", "-c", "exit 3"]).status.code(),
        Some(3)
    );
    let err = env.fails(126, ["exec", "s", "/etc"]);
    assert!(err.contains("permission denied"), "{err}");
    let err = env.fails(127, ["exec", "s", "nope"]);
    assert!(err.contains("not found"), "{err}");
    let err = env.fails(125, ["exec", "-u", "nobody", "s", "true"]);
    assert!(err.contains("nobody"), "{err}");
    let err = env.fails(125, ["exec", "-w", "rel", "s", "true"]);
    assert!(err.contains("absolute"), "{err}");
    let err = env.fails(125, ["exec", "--detach-keys", "ctrl-1", "s", "true"]);
    assert!(err.contains("detach keys"), "{err}");

    // stdout and stderr stay apart; -e, -w, -u apply.
    let out = env.run([
        "exec",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-u",
        "0",
        "s",
        "sh",
        "-c",
        "echo out $A $(pwd); echo err >&2",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out 1 /tmp\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");

    // stdin through -i, its end seen by the process; without -i none.
    let mut child = env
        .cmd(["exec", "-i", "s", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let big: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let feed = big.clone();
    let feeder = std::thread::spawn(move || stdin.write_all(&feed));
    let out = child.wait_with_output().expect("cat");
    feeder.join().expect("feeder").expect("feed");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout.len(), big.len(), "all of stdin came back");
    assert!(out.stdout == big);
    // stdin closed at once.
    let out = env
        .cmd(["exec", "-i", "s", "cat"])
        .stdin(Stdio::null())
        .output()
        .expect("cat");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());

    // A created, a paused and a stopped container refuse, naming why.
    let rootfs = env.rootfs().display().to_string();
    env.ok(["create", "--name", "c", "--rootfs", &rootfs, "true"]);
    let err = env.fails(125, ["exec", "c", "true"]);
    assert!(err.contains("created") && err.contains("start it"), "{err}");
    env.ok(["pause", "s"]);
    let err = env.fails(125, ["exec", "s", "true"]);
    assert!(err.contains("paused"), "{err}");
    env.ok(["unpause", "s"]);
    env.ok(["stop", "-t", "0", "s"]);
    let err = env.fails(125, ["exec", "s", "true"]);
    assert!(err.contains("start it first"), "{err}");
    let err = env.fails(125, ["exec", "missing", "true"]);
    assert!(err.contains("missing"), "{err}");
    assert_eq!(sessions(&env, "s"), Vec::<String>::new(), "nothing left");
}

#[test]
fn detached_sessions_concurrent_sessions_and_rm_f() {
    require_containers!();
    let env = TestEnv::new();
    running(&env, "s");
    let marker = format!("exec-marker-{}", std::process::id());
    let id = env.ok(["exec", "-d", "s", "sleep", "1001"]);
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 64, "the session id: {id}");
    assert_eq!(sessions(&env, "s"), [id.as_str()]);
    // Several at once, each with its own output and code.
    let children: Vec<(u32, Child)> = (0..6)
        .map(|i| {
            let c = env
                .cmd([
                    "exec",
                    "s",
                    "sh",
                    "-c",
                    &format!("sleep 0.3; echo {i}; exit {i}"),
                ])
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn");
            (i, c)
        })
        .collect();
    for (i, c) in children {
        let out = c.wait_with_output().expect("exec");
        assert_eq!(out.status.code(), Some(i as i32));
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{i}\n"));
    }
    assert_eq!(
        sessions(&env, "s"),
        [id.as_str()],
        "attached sessions are removed"
    );
    // Events: exec when each started, exec_died with its code.
    let died = env.ok([
        "events",
        "--stream=false",
        "--filter",
        "event=exec_died",
        "--format",
        "{{.Attributes.exitCode}}",
    ]);
    let mut codes: Vec<&str> = died.lines().collect();
    codes.sort_unstable();
    assert_eq!(codes, ["0", "1", "2", "3", "4", "5"]);
    let started = env.ok(["events", "--stream=false", "--filter", "event=exec"]);
    assert_eq!(started.lines().count(), 7, "{started}");
    // A long one with a marker, then rm -f: nothing of it is left.
    let mut live = env
        .cmd([
            "exec",
            "s",
            "sh",
            "-c",
            &format!("sleep 1002; echo {marker}"),
        ])
        .spawn()
        .expect("spawn");
    wait_until("the session", || sessions(&env, "s").len() == 2);
    env.ok(["rm", "-f", "s"]);
    let status = live.wait().expect("exec ends with its container");
    assert_ne!(status.code(), Some(0));
    wait_until("no conmon or process of the sessions", || {
        processes_with("sleep 100")
            .iter()
            .all(|p| !p.contains("1001") && !p.contains("1002"))
            && processes_with(&marker)
                .iter()
                .all(|p| p.contains("cargo") || p.contains("exec.rs"))
    });
}

/// SIGKILL of `oxpod exec` at spread moments: the next command on the
/// container kills what the session left running and drops its record.
#[test]
fn a_killed_exec_leaves_no_session_running() {
    require_containers!();
    let env = TestEnv::new();
    running(&env, "s");
    for (i, delay) in [5u64, 20, 40, 80, 150, 400].into_iter().enumerate() {
        let tag = format!("10{i}{}", std::process::id() % 1000);
        let mut c = env
            .cmd(["exec", "s", "sleep", &tag])
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(delay));
        let _ = c.kill();
        let _ = c.wait();
        // The next command on the container repairs.
        let repair = env.run(["--log-level", "debug", "exec", "s", "true"]);
        assert_eq!(repair.status.code(), Some(0));
        assert_eq!(
            sessions(&env, "s"),
            Vec::<String>::new(),
            "delay {delay} ms"
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        while !processes_with(&format!("sleep {tag}")).is_empty() {
            assert!(
                Instant::now() < deadline,
                "delay {delay} ms: the orphan's process is still there: {:?}\nthe repair said:\n{}",
                processes_with(&format!("sleep {tag}")),
                String::from_utf8_lossy(&repair.stderr)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A pty of the test's own: the child gets the slave as its controlling
/// terminal (`setsid -c`), the test reads and writes the master.
struct Pty {
    master: std::fs::File,
    slave: OwnedFd,
    output: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Pty {
    fn open(rows: u16, cols: u16) -> Pty {
        let size = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let p = nix::pty::openpty(Some(&size), None).expect("openpty");
        let master = std::fs::File::from(p.master);
        let mut reader = master.try_clone().expect("dup master");
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Pty {
            master,
            slave: p.slave,
            output,
            seen: Vec::new(),
        }
    }

    fn spawn(&self, env: &TestEnv, args: &[&str]) -> Child {
        let oxpod = env.cmd(args.iter().copied());
        let mut c = std::process::Command::new("setsid");
        c.arg("-c").arg(oxpod.get_program()).args(oxpod.get_args());
        for (k, v) in oxpod.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        let io = || Stdio::from(self.slave.try_clone().expect("dup slave"));
        c.stdin(io()).stdout(io()).stderr(io());
        c.spawn().expect("spawn under setsid")
    }

    fn write(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("write the pty");
    }

    /// Waits until the output holds `needle`; returns what came up to it.
    #[track_caller]
    fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = String::from_utf8_lossy(&self.seen).into_owned();
            if let Some(i) = text.find(needle) {
                self.seen.drain(..i + needle.len());
                return text[..i + needle.len()].to_owned();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(b) => self.seen.extend(b),
                Err(_) => panic!("timed out waiting for {needle:?}; seen {text:?}"),
            }
        }
    }

    fn resize(&self, rows: u16, cols: u16) {
        let w = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(self.master.as_fd(), w).expect("resize the pty");
    }

    fn canonical(&self) -> bool {
        let t = nix::sys::termios::tcgetattr(self.slave.as_fd()).expect("tcgetattr");
        t.local_flags
            .contains(nix::sys::termios::LocalFlags::ICANON)
    }
}

#[track_caller]
fn wait_exit(c: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(st) = c.try_wait().expect("wait") {
            return st.code();
        }
        assert!(Instant::now() < deadline, "oxpod did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_terminal_is_sized_at_once_resized_and_restored() {
    require_containers!();
    let env = TestEnv::new();
    running(&env, "t");
    // The size is right on the first start, every time (podman's race).
    for _ in 0..10 {
        let mut pty = Pty::open(41, 62);
        let mut c = pty.spawn(&env, &["exec", "-t", "t", "busybox", "stty", "size"]);
        pty.expect("41 62");
        assert_eq!(wait_exit(&mut c), Some(0));
    }
    let mut pty = Pty::open(41, 62);
    assert!(pty.canonical());
    let mut c = pty.spawn(&env, &["exec", "-it", "t", "sh"]);
    pty.write(b"tty; busybox stty size\n");
    pty.expect("/dev/pts/");
    pty.expect("41 62");
    pty.resize(30, 100);
    // The resize travels to conmon through ctl; ask until it shows.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        pty.write(b"busybox stty size\n");
        std::thread::sleep(Duration::from_millis(200));
        while let Ok(b) = pty.output.try_recv() {
            pty.seen.extend(b);
        }
        let text = String::from_utf8_lossy(&pty.seen).into_owned();
        if text.contains("30 100") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the resize never showed: {text:?}"
        );
    }
    assert!(!pty.canonical(), "raw while attached");
    pty.write(b"exit 3\n");
    assert_eq!(wait_exit(&mut c), Some(3));
    assert!(pty.canonical(), "the terminal is restored");
}

#[test]
fn the_detach_keys_leave_the_session_running() {
    require_containers!();
    let env = TestEnv::new();
    running(&env, "d");
    // The default ctrl-p,ctrl-q.
    let mut pty = Pty::open(24, 80);
    let mut c = pty.spawn(&env, &["exec", "-it", "d", "sh"]);
    pty.write(b"echo rea\"\"dy\n");
    pty.expect("ready");
    pty.write(b"\x10\x11");
    assert_eq!(wait_exit(&mut c), Some(0), "a detach exits 0");
    assert!(pty.canonical(), "the terminal is restored after a detach");
    let left = sessions(&env, "d");
    assert_eq!(left.len(), 1, "the session still runs: {left:?}");
    // It is not taken for an orphan: still there after another command.
    assert_eq!(env.run(["exec", "d", "true"]).status.code(), Some(0));
    assert_eq!(sessions(&env, "d"), left);

    // Custom keys; a lone ctrl-p passes through to the shell.
    let mut pty = Pty::open(24, 80);
    let mut c = pty.spawn(
        &env,
        &["exec", "-it", "--detach-keys", "ctrl-a,d", "d", "sh"],
    );
    pty.write(b"echo t\"\"wo\n");
    pty.expect("two");
    pty.write(b"\x01d");
    assert_eq!(wait_exit(&mut c), Some(0));

    // "" disables: ctrl-p,ctrl-q reach the shell, which exits as told.
    let mut pty = Pty::open(24, 80);
    let mut c = pty.spawn(&env, &["exec", "-it", "--detach-keys", "", "d", "sh"]);
    pty.write(b"echo th\"\"ree\n");
    pty.expect("three");
    pty.write(b"\x10\x11\x15exit 4\n");
    assert_eq!(wait_exit(&mut c), Some(4));
}

#[test]
fn run_i_passes_stdin_and_its_end() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    let run = |args: &[&str], input: &[u8]| {
        let mut c = env
            .cmd(args.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdin = c.stdin.take().expect("stdin");
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || stdin.write_all(&input));
        let out = c.wait_with_output().expect("run");
        let _ = feeder.join();
        out
    };
    let out = run(
        &["run", "--rm", "-i", "--rootfs", &rootfs, "cat"],
        b"hello\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    let out = run(
        &[
            "run",
            "-i",
            "--name",
            "five",
            "--rootfs",
            &rootfs,
            "sh",
            "-c",
            "cat; exit 5",
        ],
        b"abc",
    );
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "abc");
    assert_eq!(
        env.ok(["ps", "-a", "--format", "{{.Names}}"]),
        "five\n",
        "the --rm one is gone"
    );
    // start -a -i of a container made with -i.
    env.ok([
        "create", "-i", "--name", "later", "--rootfs", &rootfs, "cat",
    ]);
    let out = run(&["start", "-a", "-i", "later"], b"late input\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "late input\n");
    // attach to a container that does not run.
    let err = env.fails(125, ["attach", "five"]);
    assert!(err.contains("not running"), "{err}");
}

#[test]
fn run_it_detach_and_attach_again() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    let mut pty = Pty::open(41, 62);
    let mut c = pty.spawn(
        &env,
        &["run", "-it", "--name", "it", "--rootfs", &rootfs, "sh"],
    );
    pty.write(b"busybox stty size; tty\n");
    pty.expect("41 62");
    pty.expect("/dev/pts/");
    pty.write(b"\x10\x11");
    assert_eq!(wait_exit(&mut c), Some(0), "a detach exits 0");
    assert!(pty.canonical(), "the terminal is restored");
    assert_eq!(
        env.ok(["ps", "--format", "{{.Names}} {{.Status}}"])
            .split_whitespace()
            .next(),
        Some("it"),
        "still running"
    );
    // attach: the same shell, our input reaches it, its exit code is ours.
    let mut pty = Pty::open(30, 100);
    let mut a = pty.spawn(&env, &["attach", "it"]);
    pty.write(b"echo ag\"\"ain; busybox stty size\n");
    pty.expect("again");
    pty.expect("30 100");
    pty.write(b"exit 9\n");
    assert_eq!(wait_exit(&mut a), Some(9));
    assert!(pty.canonical());
    let status = env.ok(["ps", "-a", "--format", "{{.Status}}"]);
    assert!(status.starts_with("Exited (9)"), "{status}");
    let events = env.ok(["events", "--stream=false", "--filter", "event=attach"]);
    assert_eq!(events.lines().count(), 2, "{events}");
}

#[test]
fn a_killed_attach_leaves_the_container_running_and_attachable() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    env.ok([
        "run", "-d", "-i", "-t", "--name", "ka", "--rootfs", &rootfs, "sh",
    ]);
    for i in 0..3 {
        let mut pty = Pty::open(24, 80);
        let mut a = pty.spawn(&env, &["attach", "ka"]);
        pty.write(format!("echo mark\"\"{i}\n").as_bytes());
        pty.expect(&format!("mark{i}"));
        a.kill().expect("SIGKILL attach");
        let _ = a.wait();
        let status = env.ok(["ps", "--format", "{{.Names}} {{.Status}}"]);
        assert!(status.starts_with("ka Up"), "still running: {status}");
        wait_until("no attach client left", || {
            processes_with(&env.lock_name)
                .iter()
                .all(|p| !p.contains(" attach "))
        });
        let check = env.ok(["system", "check"]);
        assert!(check.contains("no problems found"), "{check}");
    }
    // The shell survived every kill and still takes input and exits.
    let mut pty = Pty::open(24, 80);
    let mut a = pty.spawn(&env, &["attach", "ka"]);
    pty.write(b"echo last\"\"one\n");
    pty.expect("lastone");
    pty.write(b"exit 3\n");
    assert_eq!(wait_exit(&mut a), Some(3));
}

#[test]
fn logs_of_a_terminal_container_are_its_terminal_output() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    env.ok([
        "run",
        "-d",
        "-t",
        "--name",
        "tl",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "echo hello; echo there >&2; printf 'no newline'",
    ]);
    env.ok(["wait", "tl"]);
    // One terminal: stdout and stderr merged, the line discipline's \r\n,
    // a last line without its newline kept as it came (podman's output).
    assert_eq!(env.ok(["logs", "tl"]), "hello\r\nthere\r\nno newline");
    let tail = env.ok(["logs", "--tail", "1", "tl"]);
    assert_eq!(tail, "no newline");
}

#[test]
fn a_container_whose_conmon_died_execs_and_attach_names_the_cause() {
    require_containers!();
    let env = TestEnv::new();
    running(&env, "cd");
    let pid: i32 = env
        .ok(["inspect", "--format", "{{.State.ConmonPid}}", "cd"])
        .trim()
        .parse()
        .expect("conmon pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL)
        .expect("kill conmon");
    wait_until("conmon gone", || {
        !std::path::Path::new(&format!("/proc/{pid}/comm")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
    });
    // exec has a conmon of its own.
    let out = env.run(["exec", "cd", "sh", "-c", "exit 4"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let out = env.run(["attach", "--no-stdin", "cd"]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("conmon (pid {pid}) is gone")) && err.contains("rm -f cd"),
        "{err}"
    );
    env.ok(["rm", "-f", "cd"]);
    let check = env.ok(["system", "check"]);
    assert!(check.contains("no problems found"), "{check}");
}

#[test]
fn attach_passes_signals_on_without_a_terminal() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    env.ok([
        "run",
        "-d",
        "--name",
        "sp",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done",
    ]);
    wait_until("the trap is set", || {
        env.ok(["logs", "sp"]).contains("ready")
    });
    let a = env
        .cmd(["attach", "--no-stdin", "sp"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("attach");
    // Once attached (its event is written), SIGTERM to oxpod reaches the
    // container's process, and attach ends with its exit code.
    wait_until("attached", || {
        env.ok(["events", "--stream=false", "--filter", "event=attach"])
            .lines()
            .count()
            == 1
    });
    std::thread::sleep(Duration::from_millis(200));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(a.id()).expect("pid")),
        nix::sys::signal::SIGTERM,
    )
    .expect("SIGTERM attach");
    let out = a.wait_with_output().expect("wait attach");
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("got-term"));
    // --sig-proxy=false: the signal is ours; the container keeps running.
    env.ok([
        "run", "-d", "--name", "sq", "--rootfs", &rootfs, "sleep", "1000",
    ]);
    let mut a = env
        .cmd(["attach", "--no-stdin", "--sig-proxy=false", "sq"])
        .spawn()
        .expect("attach");
    wait_until("attached", || {
        env.ok(["events", "--stream=false", "--filter", "event=attach"])
            .lines()
            .count()
            == 2
    });
    std::thread::sleep(Duration::from_millis(200));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(a.id()).expect("pid")),
        nix::sys::signal::SIGTERM,
    )
    .expect("SIGTERM attach");
    let st = a.wait().expect("wait attach");
    assert!(st.code() != Some(0), "attach ended by the signal: {st:?}");
    let status = env.ok(["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        status.starts_with("sq Up"),
        "the container did not get it: {status}"
    );
}

#[test]
fn run_it_without_a_terminal_warns_as_podman_and_still_runs() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    let out = env.run([
        "run",
        "--rm",
        "-it",
        "--rootfs",
        &rootfs,
        "sh",
        "-c",
        "tty; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("The input device is not a TTY. The --tty and --interactive flags might not work properly"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("/dev/pts/"));
    // Not for create, or for -t alone (podman's rule).
    let out = env.run(["run", "--rm", "-t", "--rootfs", &rootfs, "true"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not a TTY"));
}

/// Pipes `input` through `oxpod ARGS` (a `cat` in the container) and
/// returns what came out.
fn through(env: &TestEnv, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut c = env
        .cmd(args.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = c.stdin.take().expect("stdin");
    let data = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = c.wait_with_output().expect("wait");
    feeder.join().expect("feeder");
    assert!(out.status.success(), "{:?}", out.status);
    out.stdout
}

#[test]
fn megabytes_of_any_bytes_pass_through_stdin_unchanged() {
    require_containers!();
    let env = TestEnv::new();
    let rootfs = env.rootfs().display().to_string();
    // 8 MiB of every byte value, with the default detach keys (ctrl-p,
    // ctrl-q) all through: without a terminal they are data, as podman
    // passes them. More than conmon's socket buffer (208 KiB) is queued
    // while stdin is still being sent.
    let mut input = Vec::with_capacity(8 << 20);
    let mut x: u32 = 0x9e37_79b9;
    while input.len() < 8 << 20 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        input.extend_from_slice(&x.to_le_bytes());
        if x.is_multiple_of(97) {
            input.extend_from_slice(b"\x10\x11");
        }
    }
    let out = through(
        &env,
        &["run", "--rm", "-i", "--rootfs", &rootfs, "cat"],
        &input,
    );
    assert!(
        out == input,
        "run -i: {} bytes out of {}",
        out.len(),
        input.len()
    );
    running(&env, "thru");
    let out = through(&env, &["exec", "-i", "thru", "cat"], &input);
    assert!(
        out == input,
        "exec -i: {} bytes out of {}",
        out.len(),
        input.len()
    );
    let left = env.ok(["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left.trim(), "thru", "the --rm container is gone");
}
