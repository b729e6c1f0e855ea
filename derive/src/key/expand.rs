//! Code generation for `#[derive(Key)]`.
//!
//! The output is one `impl ::skiff::__private::Key` inside
//! `const _: () = { … };`. It names the runtime crate only through
//! `::skiff::__private`, and binds only `__`-prefixed locals so it cannot clash
//! with field names. Each field's encode and decode call is spanned on the
//! field's type, so a type that is not a `Key` is reported at the field.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{parse_quote, GenericParam, Ident, Member};

use super::ast::{Body, Container, Field, Style, Variant};

/// The whole derive output for a checked `container`.
pub(crate) fn expand(container: &Container<'_>) -> TokenStream {
    let ident = container.ident;
    let mut generics = container.generics.clone();
    let type_params: Vec<Ident> = generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Type(ty) => Some(ty.ident.clone()),
            _ => None,
        })
        .collect();
    let where_clause = generics.make_where_clause();
    for param in type_params {
        where_clause
            .predicates
            .push(parse_quote!(#param: ::skiff::__private::Key));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let (encode, decode) = match &container.data {
        Body::Struct(style, fields) => expand_struct(*style, fields),
        Body::Enum(variants) => expand_enum(variants),
    };

    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::skiff::__private::Key for #ident #ty_generics #where_clause {
                type Borrowed = Self;

                fn encode_key(&self, __out: &mut ::skiff::__private::Vec<::skiff::__private::u8>) {
                    #encode
                }

                fn decode_key(
                    __input: &mut &[::skiff::__private::u8],
                ) -> ::skiff::__private::Result<Self, ::skiff::__private::KeyDecodeError> {
                    #decode
                }
            }
        };
    }
}

/// `(encode body, decode body)` of a struct: the fields in order.
fn expand_struct(style: Style, fields: &[Field<'_>]) -> (TokenStream, TokenStream) {
    let encode = fields.iter().map(|field| {
        let member = &field.member;
        encode_field(field, &quote!(&self.#member))
    });
    let construct = construct(&quote!(Self), style, fields);
    (quote!(#(#encode)*), quote!(::skiff::__private::Ok(#construct)))
}

/// `(encode body, decode body)` of an enum: the variant index, then its fields.
fn expand_enum(variants: &[Variant<'_>]) -> (TokenStream, TokenStream) {
    if variants.is_empty() {
        return (
            quote!(match *self {}),
            quote!(::skiff::__private::decode_uninhabited::<Self>(__input)),
        );
    }
    let count = index_literal(variants.len());
    let mut encode_arms = Vec::new();
    let mut decode_arms = Vec::new();
    for (i, variant) in variants.iter().enumerate() {
        let index = index_literal(i);
        let path = {
            let name = variant.ident;
            quote!(Self::#name)
        };
        let bindings: Vec<Ident> = (0..variant.fields.len())
            .map(|i| format_ident!("__f{}", i))
            .collect();
        let pattern = match variant.style {
            Style::Unit => quote!(#path),
            Style::Tuple => quote!(#path(#(#bindings),*)),
            Style::Struct => {
                let members = variant.fields.iter().map(|field| &field.member);
                quote!(#path { #(#members: #bindings),* })
            }
        };
        let encode_fields = variant
            .fields
            .iter()
            .zip(&bindings)
            .map(|(field, binding)| encode_field(field, &quote!(#binding)));
        encode_arms.push(quote! {
            #pattern => {
                ::skiff::__private::encode_variant(#index, __out);
                #(#encode_fields)*
            }
        });
        let construct = construct(&path, variant.style, &variant.fields);
        // The last arm also catches the impossible indexes (decode_variant
        // has checked the range), so no arm can panic.
        let arm_pattern = if i + 1 == variants.len() {
            quote!(_)
        } else {
            quote!(#index)
        };
        decode_arms.push(quote!(#arm_pattern => ::skiff::__private::Ok(#construct),));
    }
    let encode = quote! {
        match self {
            #(#encode_arms)*
        }
    };
    let decode = quote! {
        match ::skiff::__private::decode_variant::<Self>(__input, #count)? {
            #(#decode_arms)*
        }
    };
    (encode, decode)
}

/// Appends the encoding of `value` (an expression of type `&field.ty`).
fn encode_field(field: &Field<'_>, value: &TokenStream) -> TokenStream {
    let ty = field.ty;
    quote_spanned! {ty.span()=>
        <#ty as ::skiff::__private::Key>::encode_key(#value, __out);
    }
}

/// `path { a: decode, … }`, `path(decode, …)` or `path`, decoding the fields in
/// declaration order (struct expressions evaluate their fields in source order).
fn construct(path: &TokenStream, style: Style, fields: &[Field<'_>]) -> TokenStream {
    let decoded = fields.iter().map(|field| {
        let ty = field.ty;
        quote_spanned!(ty.span()=> <#ty as ::skiff::__private::Key>::decode_key(__input)?)
    });
    match style {
        Style::Unit => quote!(#path),
        Style::Tuple => quote!(#path(#(#decoded),*)),
        Style::Struct => {
            let members = fields.iter().map(|field| match &field.member {
                Member::Named(name) => quote!(#name),
                Member::Unnamed(index) => quote!(#index),
            });
            quote!(#path { #(#members: #decoded),* })
        }
    }
}

/// A variant index or count as a `u32` literal; `check` has ensured it fits.
fn index_literal(index: usize) -> Literal {
    Literal::u32_suffixed(u32::try_from(index).unwrap_or(u32::MAX))
}
