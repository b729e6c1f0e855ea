//! Derive macros for Skiff. Use them through the `skiff` crate, which re-exports
//! them and documents them (`skiff::Key`, `skiff::Model`).
//!
//! Laid out like `serde_derive`: each derive has a parse step (`ast` or `attr`:
//! the input as a small model), a `check` step (validate, reporting every problem at
//! once through `ctxt::Ctxt`) and an `expand` step (generate code that names
//! only `::skiff::__private` and sits in `const _: () = { … };`).
#![forbid(unsafe_code)]

mod ctxt;
mod key;
mod model;

#[cfg(test)]
mod test_util;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `skiff::Key`: an order-preserving, self-delimiting byte encoding of a
/// newtype, struct (fields in declaration order) or enum (variant index, then
/// the variant's fields). See `skiff::Key` for the full documentation.
#[proc_macro_derive(Key)]
pub fn derive_key(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    key::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `skiff::Model` for a struct with named fields, from its
/// `#[model(...)]` attributes: collection name and version, primary key,
/// secondary indexes (with one typed constant per index) and the `from` chain
/// of older versions. See `skiff::Model` (the derive) for the full documentation.
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    model::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
