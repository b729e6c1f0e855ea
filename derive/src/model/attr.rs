//! The derive input as `#[derive(Model)]` sees it: a struct with named fields,
//! its `#[model(…)]` attributes and the `#[serde(…)]` attributes that matter to
//! the codec.
//!
//! Parsing records syntax problems (unknown or duplicate attributes, malformed
//! values, a shape that cannot be a model) in the [`Ctxt`] and carries on;
//! everything that needs the whole container is left to `check`.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::{
    Attribute, Data, DeriveInput, Expr, ExprLit, Fields, Ident, Lit, LitInt, LitStr, Path, Token, Type,
};

use crate::ctxt::Ctxt;

/// A struct deriving `Model`.
pub(crate) struct Container<'a> {
    /// The struct's name.
    pub(crate) ident: &'a Ident,
    /// Its visibility, given to the index constants.
    pub(crate) vis: &'a syn::Visibility,
    /// `name = "…"`.
    pub(crate) name: Option<LitStr>,
    /// `version = N`, with its value.
    pub(crate) version: Option<(LitInt, u32)>,
    /// `from = Path`.
    pub(crate) from: Option<Path>,
    /// `change_log = N`, with its value.
    pub(crate) change_log: Option<(LitInt, u64)>,
    /// Struct-level `index(…)`s in attribute order.
    pub(crate) indexes: Vec<StructIndex>,
    /// The named fields in declaration order.
    pub(crate) fields: Vec<Field<'a>>,
    /// Struct-level serde attributes the codec cannot round-trip.
    pub(crate) serde_problems: Vec<(TokenStream, &'static str)>,
}

/// One field.
pub(crate) struct Field<'a> {
    /// Its name.
    pub(crate) ident: &'a Ident,
    /// Its type; errors about the type point here.
    pub(crate) ty: &'a Type,
    /// The `key` word, if the field is (part of) the primary key.
    pub(crate) key: Option<Path>,
    /// The `auto` word.
    pub(crate) auto: Option<Path>,
    /// `unique`, `index`, or either with `(multi)`.
    pub(crate) index: Option<FieldIndex>,
    /// Field-level serde attributes the codec cannot round-trip.
    pub(crate) serde_problems: Vec<(TokenStream, &'static str)>,
    /// The `skip` (or one-way skip) attribute, if serde does not store the field.
    pub(crate) serde_skip: Option<TokenStream>,
}

/// A field index: `#[model(unique)]`, `#[model(index)]`, `#[model(index(multi))]`.
pub(crate) struct FieldIndex {
    /// Whether it was `unique`.
    pub(crate) unique: bool,
    /// The `multi` word, for one entry per element of a `Vec`.
    pub(crate) multi: Option<Path>,
}

/// A struct-level `index(name = "…", fields(…) | with = f, ty = T, unique)`.
pub(crate) struct StructIndex {
    /// The `index` word.
    pub(crate) word: Path,
    /// `name = "…"`.
    pub(crate) name: Option<LitStr>,
    /// `fields(a, b)`: the word and the names.
    pub(crate) fields: Option<(Path, Vec<Ident>)>,
    /// `with = path`.
    pub(crate) with: Option<Path>,
    /// `ty = Type`.
    pub(crate) ty: Option<Type>,
    /// The `unique` word.
    pub(crate) unique: Option<Path>,
    /// Whether a value was malformed (already reported), so the shape checks
    /// would only repeat it.
    pub(crate) malformed: bool,
}

impl<'a> Container<'a> {
    /// Models `input`, or records why it cannot be a model and returns `None`
    /// (not a struct with named fields). Generic structs are reported here but
    /// still modelled, so their other problems are reported too.
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        const SHAPE: &str = "#[derive(Model)] needs a struct with named fields";
        let fields = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => &named.named,
                Fields::Unnamed(_) => {
                    cx.error_spanned_by(&data.fields, format!("{SHAPE}, not a tuple struct"));
                    return None;
                }
                Fields::Unit => {
                    cx.error_spanned_by(&input.ident, format!("{SHAPE}, not a unit struct"));
                    return None;
                }
            },
            Data::Enum(data) => {
                cx.error_spanned_by(data.enum_token, format!("{SHAPE}; enums are not supported"));
                return None;
            }
            Data::Union(data) => {
                cx.error_spanned_by(data.union_token, format!("{SHAPE}; unions are not supported"));
                return None;
            }
        };
        if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
            cx.error_spanned_by(
                &input.generics,
                "#[derive(Model)] does not support generic structs: a collection stores one concrete type",
            );
        }

        let mut container = Container {
            ident: &input.ident,
            vis: &input.vis,
            name: None,
            version: None,
            from: None,
            change_log: None,
            indexes: Vec::new(),
            fields: Vec::new(),
            serde_problems: Vec::new(),
        };
        for attr in &input.attrs {
            if attr.path().is_ident("model") {
                let result = attr.parse_nested_meta(|meta| container.parse_meta(cx, &meta));
                record(cx, result);
            } else if attr.path().is_ident("serde") {
                container.serde_problems.extend(serde_problems(attr, true).0);
            }
        }
        container.fields = fields
            .iter()
            .filter_map(|field| Some(Field::from_ast(cx, field.ident.as_ref()?, field)))
            .collect();
        Some(container)
    }

    /// One item of a struct-level `#[model(…)]`.
    fn parse_meta(&mut self, cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        let path = &meta.path;
        if path.is_ident("name") {
            if let Some(lit) = string_value(cx, meta)? {
                set_once(cx, &mut self.name, path, lit);
            }
        } else if path.is_ident("version") {
            if let Some(value) = int_value(cx, meta)? {
                set_once(cx, &mut self.version, path, value);
            }
        } else if path.is_ident("from") {
            if let Some(from) = path_value(cx, meta)? {
                set_once(cx, &mut self.from, path, from);
            }
        } else if path.is_ident("change_log") {
            if let Some(value) = int_value(cx, meta)? {
                set_once(cx, &mut self.change_log, path, value);
            }
        } else if path.is_ident("index") {
            if meta.input.is_empty() || meta.input.peek(Token![,]) {
                cx.error_spanned_by(
                    path,
                    "a struct-level index needs `index(name = \"…\", fields(a, b))` or \
                     `index(name = \"…\", with = path, ty = KeyType)`; to index one field, put \
                     #[model(index)] on the field",
                );
                return Ok(());
            }
            let mut index = StructIndex {
                word: path.clone(),
                name: None,
                fields: None,
                with: None,
                ty: None,
                unique: None,
                malformed: false,
            };
            meta.parse_nested_meta(|inner| index.parse_meta(cx, &inner))?;
            self.indexes.push(index);
        } else {
            let hint = if ["key", "auto", "unique"].iter().any(|word| path.is_ident(word)) {
                " (it goes on a field)"
            } else {
                ""
            };
            unknown(
                cx,
                meta,
                &format!("on a struct{hint}; expected `name`, `version`, `from`, `change_log` or `index(…)`"),
            )?;
        }
        Ok(())
    }
}

impl StructIndex {
    /// One item inside a struct-level `index(…)`.
    fn parse_meta(&mut self, cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        let path = &meta.path;
        if path.is_ident("name") {
            match string_value(cx, meta)? {
                Some(lit) => set_once(cx, &mut self.name, path, lit),
                None => self.malformed = true,
            }
        } else if path.is_ident("fields") {
            let content;
            syn::parenthesized!(content in meta.input);
            let names = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
            set_once(
                cx,
                &mut self.fields,
                path,
                (path.clone(), names.into_iter().collect()),
            );
        } else if path.is_ident("with") {
            match path_value(cx, meta)? {
                Some(with) => set_once(cx, &mut self.with, path, with),
                None => self.malformed = true,
            }
        } else if path.is_ident("ty") {
            let ty: Type = meta.value()?.parse()?;
            set_once(cx, &mut self.ty, path, ty);
        } else if path.is_ident("unique") {
            set_once(cx, &mut self.unique, path, path.clone());
        } else {
            unknown(
                cx,
                meta,
                "in a struct-level `index(…)`; expected `name`, `fields(…)`, `with`, `ty` or `unique`",
            )?;
        }
        Ok(())
    }
}

impl<'a> Field<'a> {
    fn from_ast(cx: &Ctxt, ident: &'a Ident, field: &'a syn::Field) -> Self {
        let mut out = Field {
            ident,
            ty: &field.ty,
            key: None,
            auto: None,
            index: None,
            serde_problems: Vec::new(),
            serde_skip: None,
        };
        for attr in &field.attrs {
            if attr.path().is_ident("model") {
                let result = attr.parse_nested_meta(|meta| out.parse_meta(cx, &meta));
                record(cx, result);
            } else if attr.path().is_ident("serde") {
                let (problems, skip) = serde_problems(attr, false);
                out.serde_problems.extend(problems);
                out.serde_skip = out.serde_skip.or(skip);
            }
        }
        out
    }

    /// One item of a field's `#[model(…)]`.
    fn parse_meta(&mut self, cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        let path = &meta.path;
        if path.is_ident("key") {
            set_once(cx, &mut self.key, path, path.clone());
        } else if path.is_ident("auto") {
            set_once(cx, &mut self.auto, path, path.clone());
        } else if path.is_ident("unique") || path.is_ident("index") {
            let mut multi = None;
            if meta.input.peek(syn::token::Paren) {
                meta.parse_nested_meta(|inner| {
                    if inner.path.is_ident("multi") {
                        set_once(cx, &mut multi, &inner.path, inner.path.clone());
                        Ok(())
                    } else {
                        unknown(cx, &inner, "in a field's `index(…)`; expected `multi`")
                    }
                })?;
            }
            let index = FieldIndex {
                unique: path.is_ident("unique"),
                multi,
            };
            match &self.index {
                None => self.index = Some(index),
                Some(first) if first.unique == index.unique => {
                    cx.error_spanned_by(path, format!("duplicate #[model({})] attribute", word(path)));
                }
                Some(_) => cx.error_spanned_by(
                    path,
                    "conflicting attributes: a field takes `unique` or `index`, not both \
                     (a unique index is already an index)",
                ),
            }
        } else {
            let hint = if ["name", "version", "from", "change_log"]
                .iter()
                .any(|w| path.is_ident(w))
            {
                " (it goes on the struct)"
            } else {
                ""
            };
            unknown(
                cx,
                meta,
                &format!("on a field{hint}; expected `key`, `auto`, `unique` or `index`"),
            )?;
        }
        Ok(())
    }
}

/// Records a parse error of a whole attribute.
fn record(cx: &Ctxt, result: syn::Result<()>) {
    if let Err(error) = result {
        cx.syn_error(error);
    }
}

/// The path as text, for messages.
fn word(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// Stores `value` in `slot`, or reports a duplicate at `path`.
fn set_once<T>(cx: &Ctxt, slot: &mut Option<T>, path: &Path, value: T) {
    if slot.is_some() {
        cx.error_spanned_by(path, format!("duplicate #[model({})] attribute", word(path)));
    } else {
        *slot = Some(value);
    }
}

/// Reports an unknown attribute and skips its value, so parsing goes on.
fn unknown(cx: &Ctxt, meta: &ParseNestedMeta<'_>, expected: &str) -> syn::Result<()> {
    cx.error_spanned_by(
        &meta.path,
        format!("unknown #[model] attribute `{}` {expected}", word(&meta.path)),
    );
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// The value of `key = "…"`, or `None` after reporting why not.
fn string_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<LitStr>> {
    let expr: Expr = meta.value()?.parse()?;
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = &expr
    {
        return Ok(Some(lit.clone()));
    }
    cx.error_spanned_by(
        &expr,
        format!("expected a string: `{} = \"…\"`", word(&meta.path)),
    );
    Ok(None)
}

/// The value of `key = 123` as a `T`, or `None` after reporting why not.
fn int_value<T>(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<(LitInt, T)>>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let expr: Expr = meta.value()?.parse()?;
    if let Expr::Lit(ExprLit {
        lit: Lit::Int(lit), ..
    }) = &expr
    {
        match lit.base10_parse::<T>() {
            Ok(value) => return Ok(Some((lit.clone(), value))),
            Err(error) => cx.error_spanned_by(lit, format!("`{}`: {error}", word(&meta.path))),
        }
    } else {
        cx.error_spanned_by(
            &expr,
            format!("expected an integer: `{} = 123`", word(&meta.path)),
        );
    }
    Ok(None)
}

/// The value of `key = some::path`, or `None` after reporting why not.
fn path_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Path>> {
    let expr: Expr = meta.value()?.parse()?;
    if let Expr::Path(path) = &expr {
        if path.qself.is_none() && path.attrs.is_empty() {
            return Ok(Some(path.path.clone()));
        }
    }
    cx.error_spanned_by(
        &expr,
        format!("expected a path: `{} = some::path`", word(&meta.path)),
    );
    Ok(None)
}

/// The problems with one `#[serde(…)]` attribute for a codec that is not
/// self-describing, and (on a field) the attribute that keeps the field out of
/// storage. Malformed serde attributes are left for serde to report.
fn serde_problems(
    attr: &Attribute,
    container: bool,
) -> (Vec<(TokenStream, &'static str)>, Option<TokenStream>) {
    let mut problems = Vec::new();
    let (mut skip, mut skip_ser, mut skip_de) = (None, None, None);
    let _ = attr.parse_nested_meta(|meta| {
        let path = &meta.path;
        let tokens = path.to_token_stream();
        let problem = if container && (path.is_ident("tag") || path.is_ident("untagged")) {
            Some(
                "the codec (bincode) is not self-describing and cannot read tagged or untagged \
                 representations; remove this serde attribute",
            )
        } else if !container && path.is_ident("flatten") {
            Some(
                "the codec (bincode) is not self-describing and cannot read `#[serde(flatten)]`; \
                 nest the struct as a plain field instead",
            )
        } else if !container && path.is_ident("skip_serializing_if") {
            Some(
                "the codec (bincode) is not self-describing: a field left out when writing cannot \
                 be read back; remove `skip_serializing_if`",
            )
        } else {
            None
        };
        if let Some(problem) = problem {
            problems.push((tokens.clone(), problem));
        }
        if path.is_ident("skip") {
            skip = Some(tokens);
        } else if path.is_ident("skip_serializing") {
            skip_ser = Some(tokens);
        } else if path.is_ident("skip_deserializing") {
            skip_de = Some(tokens);
        }
        if meta.input.peek(Token![=]) {
            meta.value()?.parse::<Expr>()?;
        } else if meta.input.peek(syn::token::Paren) {
            meta.input.parse::<TokenTree>()?;
        }
        Ok(())
    });
    if !container {
        match (&skip_ser, &skip_de) {
            (Some(tokens), None) | (None, Some(tokens)) => problems.push((
                tokens.clone(),
                "the codec (bincode) is not self-describing: a field skipped one way only cannot be \
                 read back; use `#[serde(skip)]` to skip it both ways",
            )),
            _ => {}
        }
    }
    (problems, skip.or(skip_ser).or(skip_de))
}

impl Field<'_> {
    /// The field's name without `r#`, as index names and definitions use it.
    pub(crate) fn name(&self) -> String {
        let name = self.ident.to_string();
        name.strip_prefix("r#").map(str::to_string).unwrap_or(name)
    }
}
