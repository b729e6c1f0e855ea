//! Validation of a parsed `#[derive(Model)]` input. Every problem is recorded
//! in the [`Ctxt`] at the item it is about; nothing stops at the first one.
//!
//! Trait implementations are not checked here — a derive cannot see them. The
//! generated code names each key and index type in a `Key` (or `AutoKey`,
//! `Model`) bound spanned on that type, so the compiler reports a field whose
//! type is not a key at the field.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::Type;

use super::attr::{Container, Field};
use crate::ctxt::Ctxt;

/// Most components a key tuple can have.
const MAX_TUPLE: usize = 8;

/// Records every problem with `container`.
pub(crate) fn check(cx: &Ctxt, container: &Container<'_>) {
    check_key(cx, container);
    check_field_indexes(cx, container);
    check_struct_indexes(cx, container);
    check_index_names(cx, container);
    check_settings(cx, container);
    check_serde(cx, container);
}

/// Exactly the fields marked `key` make the key; `auto` needs one of them alone.
fn check_key(cx: &Ctxt, container: &Container<'_>) {
    let keys: Vec<&Field<'_>> = container.fields.iter().filter(|f| f.key.is_some()).collect();
    if keys.is_empty() {
        cx.error_spanned_by(
            container.ident,
            "#[derive(Model)] needs a primary key: mark a field with #[model(key)] \
             (several `key` fields make a tuple key)",
        );
    }
    if let Some(extra) = keys.get(MAX_TUPLE).and_then(|f| f.key.as_ref()) {
        cx.error_spanned_by(extra, "a key has at most 8 fields (it is a tuple of them)");
    }
    for field in &container.fields {
        if let Some(auto) = &field.auto {
            if field.key.is_none() {
                cx.error_spanned_by(auto, "`auto` goes with `key`: #[model(key, auto)]");
            } else if keys.len() > 1 {
                cx.error_spanned_by(
                    auto,
                    format!(
                        "`auto` needs a single key field, but `{}` has {} key fields",
                        container.ident,
                        keys.len()
                    ),
                );
            }
        }
        if let (Some(_), Some(skip)) = (&field.key, &field.serde_skip) {
            skipped(cx, skip, field, "the key field");
        }
    }
}

/// `multi` needs a `Vec`; indexed fields must be stored.
fn check_field_indexes(cx: &Ctxt, container: &Container<'_>) {
    for field in &container.fields {
        let Some(index) = &field.index else { continue };
        if index.multi.is_some() && vec_inner(field.ty).is_none() {
            cx.error_spanned_by(
                field.ty,
                format!(
                    "`{}(multi)` needs a `Vec<T>` field (one index entry per element); `{}` is not a `Vec`",
                    if index.unique { "unique" } else { "index" },
                    field.name()
                ),
            );
        }
        if let Some(skip) = &field.serde_skip {
            skipped(cx, skip, field, "the indexed field");
        }
    }
}

/// A struct-level index is named, and is either composite or computed.
fn check_struct_indexes(cx: &Ctxt, container: &Container<'_>) {
    for index in &container.indexes {
        if index.name.is_none() && !index.malformed {
            cx.error_spanned_by(&index.word, "a struct-level index needs `name = \"…\"`");
        }
        match (&index.fields, &index.with) {
            (Some(_), Some(with)) => cx.error_spanned_by(
                with,
                "conflicting attributes: an index takes `fields(…)` (composite) or `with` (computed), not both",
            ),
            (None, None) if !index.malformed => cx.error_spanned_by(
                &index.word,
                "a struct-level index needs `fields(a, b)` (composite) or `with = path, ty = KeyType` (computed)",
            ),
            _ => {}
        }
        match (&index.with, &index.ty) {
            (Some(with), None) => cx.error_spanned_by(
                with,
                "`with` needs `ty = KeyType` too: a derive cannot see the function's return type",
            ),
            (None, Some(ty)) if index.fields.is_some() => cx.error_spanned_by(
                ty,
                "`ty` is only for computed indexes (`with = path`); a composite index's key type \
                 is the tuple of its fields' types",
            ),
            _ => {}
        }
        let Some((word, names)) = &index.fields else {
            continue;
        };
        if names.is_empty() {
            cx.error_spanned_by(word, "`fields(…)` needs at least one field");
        }
        if let Some(extra) = names.get(MAX_TUPLE) {
            cx.error_spanned_by(
                extra,
                "a composite index has at most 8 fields (its key is a tuple of them)",
            );
        }
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                cx.error_spanned_by(name, format!("field `{name}` appears twice in `fields(…)`"));
                continue;
            }
            match container.fields.iter().find(|f| f.ident == name) {
                None => cx.error_spanned_by(name, format!("`{}` has no field `{name}`", container.ident)),
                Some(field) => {
                    if let Some(skip) = &field.serde_skip {
                        skipped(cx, skip, field, "the indexed field");
                    }
                }
            }
        }
    }
}

/// Index names are identifiers, unique, and give distinct constants.
fn check_index_names(cx: &Ctxt, container: &Container<'_>) {
    let mut names: Vec<(String, TokenStream)> = Vec::new();
    for field in &container.fields {
        if field.index.is_some() {
            names.push((field.name(), field.ident.to_token_stream()));
        }
    }
    for index in &container.indexes {
        let Some(lit) = &index.name else { continue };
        let name = lit.value();
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            names.push((name, lit.to_token_stream()));
        } else {
            cx.error_spanned_by(
                lit,
                "an index name is an identifier (letters, digits, `_`): it becomes a constant such as `User::CITY_AGE`",
            );
        }
    }
    let mut by_constant: HashMap<String, &str> = HashMap::new();
    for (name, tokens) in &names {
        let constant = upper_snake(name);
        match by_constant.get(constant.as_str()) {
            Some(&first) if first == name => {
                cx.error_spanned_by(tokens, format!("duplicate index name `{name}`"));
            }
            Some(&first) => cx.error_spanned_by(
                tokens,
                format!(
                    "index names `{first}` and `{name}` both become the constant `{}::{constant}`",
                    container.ident
                ),
            ),
            None => {
                by_constant.insert(constant, name);
            }
        }
    }
}

/// `name`, `version`, `from` and `change_log` values.
fn check_settings(cx: &Ctxt, container: &Container<'_>) {
    if let Some(name) = &container.name {
        if name.value().is_empty() {
            cx.error_spanned_by(name, "a collection name cannot be empty");
        }
    }
    if let Some((lit, 0)) = &container.version {
        cx.error_spanned_by(lit, "model versions start at 1");
    }
    if let Some(from) = &container.from {
        if container.version.as_ref().is_none_or(|(_, version)| *version < 2) {
            cx.error_spanned_by(
                from,
                "`from` names the previous version's type, so this model needs `version = N` with N at least 2",
            );
        }
    }
    if let Some((lit, 0)) = &container.change_log {
        cx.error_spanned_by(
            lit,
            "`change_log = 0` keeps no changes; leave `change_log` out for no persisted change log",
        );
    }
}

/// Serde attributes the codec cannot round-trip.
fn check_serde(cx: &Ctxt, container: &Container<'_>) {
    let problems = container
        .serde_problems
        .iter()
        .chain(container.fields.iter().flat_map(|f| &f.serde_problems));
    for (tokens, message) in problems {
        cx.error_spanned_by(tokens, message);
    }
}

/// A key or indexed field that serde does not store.
fn skipped(cx: &Ctxt, skip: &TokenStream, field: &Field<'_>, what: &str) {
    cx.error_spanned_by(
        skip,
        format!(
            "{what} `{}` is skipped by serde, so records would be read back without it",
            field.name()
        ),
    );
}

/// `T` if `ty` is written `Option<T>` (with any path before `Option`).
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    single_generic(ty, "Option")
}

/// `T` if `ty` is written `Vec<T>` (with any path before `Vec`).
pub(crate) fn vec_inner(ty: &Type) -> Option<&Type> {
    single_generic(ty, "Vec")
}

fn single_generic<'t>(ty: &'t Type, name: &str) -> Option<&'t Type> {
    match ty {
        Type::Group(group) => single_generic(&group.elem, name),
        Type::Paren(paren) => single_generic(&paren.elem, name),
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            match (last.ident == name, args.args.len(), args.args.first()) {
                (true, 1, Some(syn::GenericArgument::Type(inner))) => Some(inner),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The constant an index is named by: `city_age` and `cityAge` are `CITY_AGE`.
pub(crate) fn upper_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        out.extend(c.to_uppercase());
    }
    out
}
