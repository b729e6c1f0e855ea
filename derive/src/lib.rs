//! Derive macros for Skiff. Use them through the `skiff` crate, which re-exports
//! them.
#![forbid(unsafe_code)]
