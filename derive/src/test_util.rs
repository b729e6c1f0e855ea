//! Helpers shared by the derive crate's unit tests.

use proc_macro2::{TokenStream, TokenTree};

/// The tokens of `stream`, groups flattened, one string per token: lets
/// tests check what generated code names without caring about layout.
pub(crate) fn flatten(stream: TokenStream, out: &mut Vec<String>) {
    for tree in stream {
        match tree {
            TokenTree::Group(group) => flatten(group.stream(), out),
            TokenTree::Ident(ident) => out.push(ident.to_string()),
            TokenTree::Punct(punct) => out.push(punct.as_char().to_string()),
            TokenTree::Literal(literal) => out.push(literal.to_string()),
        }
    }
}
