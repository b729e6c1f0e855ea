//! Code generation for `#[derive(Model)]`.
//!
//! The output sits in one `const _: () = { … };` and names the runtime crate
//! only through `::skiff::__private`: an inherent impl with one typed index
//! constant per index (inherent impls are visible wherever the type is), one
//! private extraction function per index, and `impl Model`. Calls that need a
//! field's type to be a `Key` are spanned on that type, so the compiler
//! reports a type that is not a key at the field; locals are `__`-prefixed.

use proc_macro2::{Literal, Spacing, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{LitStr, Type};

use super::attr::{Container, Field, StructIndex};
use super::check::{option_inner, upper_snake, vec_inner};

/// One secondary index, ready to generate.
struct Plan {
    name: String,
    unique: bool,
    /// The key type lookups take.
    key_ty: TokenStream,
    /// The catalog's definition text.
    definition: String,
    /// What the constant's documentation says the index reads.
    source: String,
    /// The body of `fn(__record: &Model, __sink: &mut dyn FnMut(&[u8]))`.
    body: TokenStream,
}

/// The whole derive output for a checked `container`.
pub(crate) fn expand(container: &Container<'_>) -> TokenStream {
    let ident = container.ident;
    let vis = container.vis;
    let plans = plans(container);
    let key = expand_key(container);

    let name = LitStr::new(
        &container
            .name
            .as_ref()
            .map_or_else(|| ident.to_string(), LitStr::value),
        ident.span(),
    );
    let version = Literal::u32_suffixed(container.version.as_ref().map_or(1, |(_, version)| *version));
    let change_log = match &container.change_log {
        Some((_, entries)) => {
            let entries = Literal::u64_suffixed(*entries);
            quote!(::skiff::__private::Some(#entries))
        }
        None => quote!(::skiff::__private::None),
    };

    let mut constants = Vec::new();
    let mut functions = Vec::new();
    let mut defs = Vec::new();
    for (position, plan) in plans.iter().enumerate() {
        let Plan {
            name,
            unique,
            key_ty,
            definition,
            source,
            body,
        } = plan;
        let constant = format_ident!("{}", upper_snake(name));
        let function = format_ident!("__skiff_index_{}", position);
        let kind = if *unique {
            quote!(Unique)
        } else {
            quote!(NonUnique)
        };
        let doc = format!(
            "{} index `{name}` of [`{ident}`]: {source}; key type `{}`.",
            if *unique { "Unique" } else { "Non-unique" },
            spell(key_ty.clone(), true),
        );
        let position = Literal::usize_unsuffixed(position);
        constants.push(quote! {
            #[doc = #doc]
            #vis const #constant: ::skiff::__private::Index<#ident, #key_ty, ::skiff::__private::#kind> =
                ::skiff::__private::Index::new(#name, #position);
        });
        functions.push(quote! {
            fn #function(
                __record: &#ident,
                __sink: &mut dyn ::skiff::__private::FnMut(&[::skiff::__private::u8]),
            ) {
                #body
            }
        });
        defs.push(quote!(::skiff::__private::IndexDef::new(#name, #unique, #definition, #function)));
    }
    let inherent = (!constants.is_empty()).then(|| {
        quote! {
            #[automatically_derived]
            #[allow(dead_code)]
            impl #ident {
                #(#constants)*
            }
        }
    });
    let indexes = (!defs.is_empty()).then(|| {
        quote! {
            fn indexes() -> &'static [::skiff::__private::IndexDef<Self>] {
                const __INDEXES: &[::skiff::__private::IndexDef<#ident>] = &[#(#defs),*];
                __INDEXES
            }
        }
    });
    let upgrade = container.from.as_ref().map(|from| {
        quote_spanned! {from.span()=>
            fn upgrade_from(
                __version: ::skiff::__private::u32,
                __bytes: &[::skiff::__private::u8],
            ) -> ::skiff::__private::Result<Self, ::skiff::__private::DecodeError> {
                ::skiff::__private::upgrade_via::<Self, #from>(__version, __bytes)
            }
        }
    });
    let older = container.from.as_ref().map(|from| {
        quote_spanned! {from.span()=>
            const _: () = ::skiff::__private::assert_older(
                <#from as ::skiff::__private::Model>::VERSION,
                <#ident as ::skiff::__private::Model>::VERSION,
            );
        }
    });
    let KeyParts {
        ty: key_ty,
        text: key_text,
        items: key_items,
        auto,
    } = key;

    quote! {
        const _: () = {
            #inherent

            #(#functions)*

            #[automatically_derived]
            impl ::skiff::__private::Model for #ident {
                type Key = #key_ty;
                const NAME: &'static ::skiff::__private::str = #name;
                const VERSION: ::skiff::__private::u32 = #version;
                const KEY_TYPE: &'static ::skiff::__private::str = #key_text;
                const AUTO_KEY: ::skiff::__private::bool = #auto;
                const CHANGE_LOG: ::skiff::__private::Option<::skiff::__private::u64> = #change_log;

                #key_items
                #indexes
                #upgrade
            }

            #older
        };
    }
}

/// The primary key's type, catalog text, methods and auto flag.
struct KeyParts {
    ty: TokenStream,
    text: String,
    items: TokenStream,
    auto: bool,
}

fn expand_key(container: &Container<'_>) -> KeyParts {
    let keys: Vec<&Field<'_>> = container.fields.iter().filter(|f| f.key.is_some()).collect();
    let members: Vec<_> = keys.iter().map(|f| f.ident).collect();
    let types: Vec<&Type> = keys.iter().map(|f| f.ty).collect();
    let clones = keys.iter().map(|field| {
        let (ty, member) = (field.ty, field.ident);
        quote_spanned!(ty.span()=> ::skiff::__private::clone_key::<#ty>(&self.#member))
    });
    let (ty, key, set, encode) = if let [field] = keys.as_slice() {
        let member = field.ident;
        (
            field.ty.to_token_stream(),
            quote!(#(#clones)*),
            quote!(self.#member = __key;),
            quote!(::skiff::__private::encode_model_key::<Self>(&self.#member, &mut __out);),
        )
    } else {
        // A tuple's encoding is its components' encodings in order.
        let encodes = keys.iter().map(|field| {
            let (ty, member) = (field.ty, field.ident);
            quote_spanned!(ty.span()=> ::skiff::__private::encode_component::<#ty>(&self.#member, &mut __out);)
        });
        let parts: Vec<_> = (0..keys.len()).map(|i| format_ident!("__k{}", i)).collect();
        (
            tuple(&types),
            quote!((#(#clones,)*)),
            quote! {
                let (#(#parts,)*) = __key;
                #(self.#members = #parts;)*
            },
            quote!(#(#encodes)*),
        )
    };
    let auto_field = keys
        .first()
        .filter(|field| keys.len() == 1 && field.auto.is_some());
    let next = auto_field.map(|field| {
        let ty = field.ty;
        quote_spanned! {ty.span()=>
            fn next_auto_key(
                __last: ::skiff::__private::Option<&Self::Key>,
            ) -> ::skiff::__private::Option<Self::Key> {
                ::skiff::__private::next_auto_key::<#ty>(__last)
            }
        }
    });
    let items = quote! {
        fn key(&self) -> Self::Key {
            #key
        }

        fn key_bytes(&self) -> ::skiff::__private::Vec<::skiff::__private::u8> {
            let mut __out = ::skiff::__private::Vec::new();
            #encode
            __out
        }

        fn set_key(&mut self, __key: Self::Key) {
            #set
        }

        #next
    };
    KeyParts {
        text: spell(ty.clone(), true),
        ty,
        items,
        auto: auto_field.is_some(),
    }
}

/// Every index: field indexes in field order, then struct-level ones.
fn plans(container: &Container<'_>) -> Vec<Plan> {
    let mut plans: Vec<Plan> = container.fields.iter().filter_map(field_plan).collect();
    plans.extend(
        container
            .indexes
            .iter()
            .filter_map(|index| struct_plan(container, index)),
    );
    plans
}

/// `#[model(unique)]`, `#[model(index)]`, `#[model(index(multi))]`.
fn field_plan(field: &Field<'_>) -> Option<Plan> {
    let index = field.index.as_ref()?;
    let member = field.ident;
    let name = field.name();
    let (key_ty, body, source) = if index.multi.is_some() {
        let elem = vec_inner(field.ty).unwrap_or(field.ty);
        let body =
            quote_spanned!(elem.span()=> ::skiff::__private::emit_each::<#elem>(&__record.#member, __sink););
        (elem, body, "multi")
    } else if let Some(value) = option_inner(field.ty) {
        let body = quote_spanned!(value.span()=> ::skiff::__private::emit_optional::<#value>(&__record.#member, __sink););
        (value, body, "optional")
    } else {
        let ty = field.ty;
        let body =
            quote_spanned!(ty.span()=> ::skiff::__private::emit_key::<#ty>(&__record.#member, __sink););
        (ty, body, "field")
    };
    let prefix = if index.unique { "unique " } else { "" };
    let text = spell(key_ty.to_token_stream(), true);
    let described = match source {
        "multi" => format!("each distinct element of field `{name}`"),
        "optional" => format!("field `{name}` when it is `Some`"),
        _ => format!("field `{name}`"),
    };
    Some(Plan {
        definition: format!("{prefix}{source}({name}):{text}"),
        name,
        unique: index.unique,
        key_ty: key_ty.to_token_stream(),
        source: described,
        body,
    })
}

/// `index(name = "…", fields(…))` or `index(name = "…", with = f, ty = T)`.
fn struct_plan(container: &Container<'_>, index: &StructIndex) -> Option<Plan> {
    let name = index.name.as_ref()?.value();
    let unique = index.unique.is_some();
    let prefix = if unique { "unique " } else { "" };
    if let Some((_, names)) = &index.fields {
        // Each component is spanned on its name in `fields(…)`, so a field
        // type that is not a key is reported in the index that uses it.
        let fields: Vec<(&Field<'_>, &syn::Ident)> = names
            .iter()
            .filter_map(|name| Some((container.fields.iter().find(|f| f.ident == name)?, name)))
            .collect();
        let types: Vec<&Type> = fields.iter().map(|(f, _)| f.ty).collect();
        let key_ty = tuple(&types);
        let encodes = fields.iter().map(|(_, name)| {
            quote_spanned!(name.span()=> ::skiff::__private::encode_component(&__record.#name, __out);)
        });
        let fields: Vec<&Field<'_>> = fields.iter().map(|(f, _)| *f).collect();
        let list: Vec<String> = fields.iter().map(|f| f.name()).collect();
        Some(Plan {
            definition: format!(
                "{prefix}fields({}):{}",
                list.join(","),
                spell(key_ty.clone(), true)
            ),
            source: format!(
                "fields {}",
                list.iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            name,
            unique,
            key_ty,
            body: quote! {
                ::skiff::__private::emit_composite(
                    |__out: &mut ::skiff::__private::Vec<::skiff::__private::u8>| { #(#encodes)* },
                    __sink,
                );
            },
        })
    } else {
        let (with, ty) = (index.with.as_ref()?, index.ty.as_ref()?);
        // `Self::f` in the attribute means the model's `f`; these functions are
        // not in an impl, so spell the type out.
        let mut path = with.clone();
        if let Some(first) = path.segments.first_mut() {
            if first.ident == "Self" {
                first.ident = syn::Ident::new(&container.ident.to_string(), first.ident.span());
            }
        }
        let call = quote_spanned!(with.span()=> #path(__record));
        let emit = quote_spanned!(ty.span()=> ::skiff::__private::emit_key::<#ty>(&__key, __sink););
        let path_text = spell(path.to_token_stream(), false);
        Some(Plan {
            definition: format!("{prefix}with({path_text}):{}", spell(ty.to_token_stream(), true)),
            source: format!("computed by `{path_text}`"),
            name,
            unique,
            key_ty: ty.to_token_stream(),
            body: quote! {
                let __key: #ty = #call;
                #emit
            },
        })
    }
}

/// The tuple type of `types`: `(A,)` or `(A, B)`.
fn tuple(types: &[&Type]) -> TokenStream {
    if let [single] = types {
        quote!((#single,))
    } else {
        quote!((#(#types),*))
    }
}

/// `tokens` as compact text: no spaces except between words, and with
/// `drop_paths`, module paths dropped (`std::string::String` is `String`), so
/// the catalog text does not change when only the spelling of a path does.
fn spell(tokens: TokenStream, drop_paths: bool) -> String {
    let mut out = String::new();
    spell_into(tokens, drop_paths, &mut out);
    out
}

fn spell_into(tokens: TokenStream, drop_paths: bool, out: &mut String) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let is_sep = |i: usize| {
        matches!((trees.get(i), trees.get(i + 1)),
            (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':')
    };
    let mut i = 0;
    while let Some(tree) = trees.get(i) {
        if drop_paths {
            // `seg::` and a leading `::` vanish.
            if matches!(tree, TokenTree::Ident(_)) && is_sep(i + 1) {
                i += 3;
                continue;
            }
            let after_word = i > 0 && matches!(trees.get(i - 1), Some(TokenTree::Ident(_)));
            if is_sep(i) && !after_word {
                i += 2;
                continue;
            }
        }
        match tree {
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                    proc_macro2::Delimiter::Bracket => ("[", "]"),
                    proc_macro2::Delimiter::Brace => ("{", "}"),
                    proc_macro2::Delimiter::None => ("", ""),
                };
                out.push_str(open);
                spell_into(group.stream(), drop_paths, out);
                out.push_str(close);
            }
            TokenTree::Ident(_) | TokenTree::Literal(_) => {
                if out.ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '"') {
                    out.push(' ');
                }
                out.push_str(&tree.to_string());
            }
            TokenTree::Punct(punct) => out.push(punct.as_char()),
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::spell;

    #[test]
    fn spelling_drops_paths_and_spaces() {
        let ty: syn::Type = parse_quote!(::std::option::Option<std::string::String>);
        assert_eq!(spell(quote::quote!(#ty), true), "Option<String>");
        let ty: syn::Type = parse_quote!((String, [u8; 4], &'static str, Vec<(u8,)>));
        assert_eq!(
            spell(quote::quote!(#ty), true),
            "(String,[u8;4],&'static str,Vec<(u8,)>)"
        );
        let path: syn::Path = parse_quote!(crate::users::User::domain);
        assert_eq!(spell(quote::quote!(#path), false), "crate::users::User::domain");
    }
}
