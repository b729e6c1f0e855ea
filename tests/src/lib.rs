//! Shared helpers for Skiff's integration tests.
