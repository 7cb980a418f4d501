//! oxpod-runtime: the composer. It opens the configuration, the state, the
//! locks, the events log and the OCI runtimes in podman's init order, and
//! offers container and pod operations over them.
//!
//! It parses no arguments and prints nothing; that is the CLI's job.
#![forbid(unsafe_code)]
