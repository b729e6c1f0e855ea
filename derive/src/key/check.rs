//! Validation of a parsed `#[derive(Key)]` input. Every problem is recorded in
//! the [`Ctxt`]; nothing stops at the first one.
//!
//! The field types are not checked here: a derive cannot see trait
//! implementations, so the generated code names each field's type in a
//! `Key` bound spanned on that type, and the compiler reports a field whose type
//! is not a `Key` at the field.

use syn::{Expr, ExprLit, ExprUnary, Lit, UnOp};

use super::ast::{Body, Container};
use crate::ctxt::Ctxt;

/// Records every problem with `container`.
pub(crate) fn check(cx: &Ctxt, container: &Container<'_>) {
    check_variant_count(cx, container);
    check_discriminants(cx, container);
}

/// Variant indexes are `u32`s in the encoding.
fn check_variant_count(cx: &Ctxt, container: &Container<'_>) {
    if let Body::Enum(variants) = &container.data {
        if u32::try_from(variants.len()).is_err() {
            cx.error_spanned_by(
                container.ident,
                "#[derive(Key)] supports at most u32::MAX variants",
            );
        }
    }
}

/// The key orders variants by declaration; derived `Ord` orders them by
/// discriminant. The two agree when explicit discriminants increase in
/// declaration order, which can only be checked for integer literals.
fn check_discriminants(cx: &Ctxt, container: &Container<'_>) {
    let Body::Enum(variants) = &container.data else {
        return;
    };
    // The previous variant's discriminant, when known.
    let mut previous: Option<i128> = None;
    for (i, variant) in variants.iter().enumerate() {
        previous = match variant.discriminant {
            None if i == 0 => Some(0),
            None => previous.and_then(|p| p.checked_add(1)),
            Some(expr) => match literal_value(expr) {
                Some(value) => {
                    if let Some(prev) = previous.filter(|&prev| value <= prev) {
                        cx.error_spanned_by(
                            expr,
                            format!(
                                "#[derive(Key)] orders variants by declaration but `Ord` orders them by \
                                 discriminant: the discriminant of `{}` ({value}) must be greater than the \
                                 previous variant's ({prev})",
                                variant.ident
                            ),
                        );
                    }
                    Some(value)
                }
                None => {
                    cx.error_spanned_by(
                        expr,
                        "#[derive(Key)] needs an integer literal here, to check that declaration order \
                         (the key order) matches discriminant order (the `Ord` order)",
                    );
                    None
                }
            },
        };
    }
}

/// The value of `expr` if it is an integer literal, possibly negated or
/// parenthesized.
fn literal_value(expr: &Expr) -> Option<i128> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse().ok(),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => literal_value(expr)?.checked_neg(),
        Expr::Paren(paren) => literal_value(&paren.expr),
        Expr::Group(group) => literal_value(&group.expr),
        _ => None,
    }
}
