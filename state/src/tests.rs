//! Conformance tests run against both backends.
