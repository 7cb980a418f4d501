//! oxpod-config: the configuration model of oxpod, its defaults for root and
//! rootless users, layered loading (defaults, system files, user file,
//! `OXPOD_CONFIG`, an explicit file, flags) with the origin of every key, and
//! validation.
//!
//! It refuses to touch anything but the files it is told to read: every path
//! is injectable, it creates no directory and starts no process.
#![forbid(unsafe_code)]
