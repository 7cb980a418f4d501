//! Test helpers of this crate, from `oxpod-test-support` (one copy for
//! the workspace): the CI gate, the real binaries' paths, a busybox rootfs.

pub(crate) use oxpod_test_support::{CONMON, RUNC, skip_or_fail};

/// Whether root + runc + conmon + busybox are present; prints the skip
/// reason (or fails under CI) when not.
pub(crate) fn have_real_tools() -> bool {
    match oxpod_test_support::missing_container_tools() {
        None => true,
        Some(reason) => {
            eprintln!("skipped: {reason}");
            false
        }
    }
}

/// Builds `<dir>/rootfs` with busybox and a few applet links; returns it.
pub(crate) fn busybox_rootfs(dir: &std::path::Path) -> std::path::PathBuf {
    oxpod_test_support::busybox_rootfs(dir).expect("busybox rootfs")
}
