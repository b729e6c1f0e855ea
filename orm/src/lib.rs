//! Skiff: a typed embedded database built on `skiff-engine`.
#![forbid(unsafe_code)]

pub use skiff_engine as engine;
