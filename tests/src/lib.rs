//! oxpod-tests: helpers for the end-to-end tests in `tests/tests/`, which
//! drive the built `oxpod` binary with real runc and conmon, each test in its
//! own directories with its own lock-segment name.
#![forbid(unsafe_code)]
