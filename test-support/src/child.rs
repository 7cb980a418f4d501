//! Multi-process tests: a parent test runs its own test binary again on
//! one entry-point test, with a role in an environment variable.
//!
//! The entry point is an `#[ignore]`d test, so a normal run lists it as
//! ignored instead of counting an empty pass; run without a role (by hand,
//! with `--ignored`) it fails, saying it is not a test of its own.

use std::process::Command;

/// The environment variable that carries the role.
pub const ROLE: &str = "OXPOD_TEST_ROLE";

/// A command that runs this test binary's entry point `test` (its full
/// path, e.g. `tests::procs::child_entry`) with `role`. Add environment and
/// spawn it.
pub fn command(test: &str, role: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        test,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(ROLE, role);
    cmd
}

/// In the entry point: the role this process was started with. Panics
/// (failing the test) when there is none: the entry point was run on its
/// own.
pub fn role() -> String {
    match std::env::var(ROLE) {
        Ok(r) if !r.is_empty() => r,
        _ => {
            panic!("not a test of its own: a child-process entry point, started by its parent test")
        }
    }
}
