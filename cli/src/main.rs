//! oxpod: the command line over `oxpod-runtime`, with podman's flags,
//! output formats and exit codes.
#![forbid(unsafe_code)]

fn main() {}
