//! The derive input as `#[derive(Key)]` sees it: a struct or an enum, its
//! fields in declaration order, each with the member used to access it.
//!
//! Parsing is where unions are rejected, since they have no model here.

use syn::{Data, DeriveInput, Expr, Fields, Generics, Ident, Member, Type};

use crate::ctxt::Ctxt;

/// A struct or enum deriving `Key`.
pub(crate) struct Container<'a> {
    /// The type's name.
    pub(crate) ident: &'a Ident,
    /// The type's generics, as written.
    pub(crate) generics: &'a Generics,
    /// Its shape.
    pub(crate) data: Body<'a>,
}

/// The shape of a container.
pub(crate) enum Body<'a> {
    /// A struct: its field style and fields.
    Struct(Style, Vec<Field<'a>>),
    /// An enum: its variants in declaration order.
    Enum(Vec<Variant<'a>>),
}

/// How fields are written: `{ a: T }`, `(T)` or nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// Named fields.
    Struct,
    /// Positional fields (including newtypes).
    Tuple,
    /// No fields.
    Unit,
}

/// One enum variant.
pub(crate) struct Variant<'a> {
    /// The variant's name.
    pub(crate) ident: &'a Ident,
    /// Its field style.
    pub(crate) style: Style,
    /// Its fields in declaration order.
    pub(crate) fields: Vec<Field<'a>>,
    /// The explicit discriminant (`= expr`), if any.
    pub(crate) discriminant: Option<&'a Expr>,
}

/// One field.
pub(crate) struct Field<'a> {
    /// `name` or the position.
    pub(crate) member: Member,
    /// The field's type; errors about it point here.
    pub(crate) ty: &'a Type,
}

impl<'a> Container<'a> {
    /// Models `input`, or records an error and returns `None` for a union.
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let data = match &input.data {
            Data::Struct(data) => {
                let (style, fields) = fields_of(&data.fields);
                Body::Struct(style, fields)
            }
            Data::Enum(data) => Body::Enum(
                data.variants
                    .iter()
                    .map(|variant| {
                        let (style, fields) = fields_of(&variant.fields);
                        Variant {
                            ident: &variant.ident,
                            style,
                            fields,
                            discriminant: variant.discriminant.as_ref().map(|(_, expr)| expr),
                        }
                    })
                    .collect(),
            ),
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "#[derive(Key)] does not support unions; use a struct or an enum",
                );
                return None;
            }
        };
        Some(Container {
            ident: &input.ident,
            generics: &input.generics,
            data,
        })
    }
}

fn fields_of(fields: &Fields) -> (Style, Vec<Field<'_>>) {
    let style = match fields {
        Fields::Named(_) => Style::Struct,
        Fields::Unnamed(_) => Style::Tuple,
        Fields::Unit => Style::Unit,
    };
    let fields = fields
        .iter()
        .enumerate()
        .map(|(i, field)| Field {
            member: match &field.ident {
                Some(ident) => Member::Named(ident.clone()),
                None => Member::Unnamed(i.into()),
            },
            ty: &field.ty,
        })
        .collect();
    (style, fields)
}
