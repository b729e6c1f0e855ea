//! `#[derive(Key)]`: parse ([`ast`]), validate ([`check`]), generate
//! ([`expand`]).
//!
//! The derive takes no attributes: a key's encoding is fully determined by its
//! shape, so that it always agrees with the derived `Ord`.

mod ast;
mod check;
mod expand;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ctxt::Ctxt;

/// Expands `#[derive(Key)]` on `input`, or returns every problem found.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let Some(container) = ast::Container::from_ast(&cx, input) else {
        cx.check()?;
        return Ok(TokenStream::new());
    };
    check::check(&cx, &container);
    cx.check()?;
    Ok(expand::expand(&container))
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::derive;
    use crate::test_util::flatten;

    fn inputs() -> Vec<syn::DeriveInput> {
        vec![
            parse_quote!(
                struct UserId(u64);
            ),
            parse_quote!(
                struct Unit;
            ),
            parse_quote!(
                struct Named {
                    a: String,
                    b: Option<Blob>,
                }
            ),
            parse_quote!(
                struct Generic<'a, T: Clone, const N: usize>
                where
                    T: Copy,
                {
                    t: T,
                    n: [Octet; N],
                    p: &'a (),
                }
            ),
            parse_quote!(
                enum Shape {
                    Empty,
                    Circle(u32),
                    Rect { w: u32, h: u32 },
                }
            ),
            parse_quote!(
                enum Never {}
            ),
            parse_quote!(
                enum Level {
                    Low = -3,
                    Mid = (5),
                    High,
                }
            ),
        ]
    }

    #[test]
    fn output_is_wrapped_and_names_only_skiff_private() {
        const RUNTIME: [&str; 10] = [
            "Vec",
            "u8",
            "Result",
            "Ok",
            "Key",
            "KeyDecodeError",
            "encode_variant",
            "decode_variant",
            "decode_uninhabited",
            "skiff",
        ];
        for input in inputs() {
            let output = derive(&input).expect("valid input");
            let text = output.to_string();
            assert!(
                text.starts_with("const _ : () = {") && text.ends_with("} ;"),
                "{text}"
            );
            let mut tokens = Vec::new();
            flatten(output, &mut tokens);
            for (i, token) in tokens.iter().enumerate() {
                assert!(!["core", "std", "alloc"].contains(&token.as_str()), "{tokens:?}");
                if token == "skiff" {
                    assert_eq!(
                        tokens[i - 2..i + 4],
                        [":", ":", "skiff", ":", ":", "__private"],
                        "{tokens:?}"
                    );
                } else if RUNTIME.contains(&token.as_str()) {
                    assert_eq!(tokens[i - 3..i], ["__private", ":", ":"], "{token} in {tokens:?}");
                }
            }
        }
    }

    #[test]
    fn type_parameters_get_a_key_bound() {
        let input: syn::DeriveInput = parse_quote!(
            struct Pair<A, B>(A, B);
        );
        let output = derive(&input).unwrap().to_string();
        assert!(output.contains("A : :: skiff :: __private :: Key"), "{output}");
        assert!(output.contains("B : :: skiff :: __private :: Key"), "{output}");
    }

    #[test]
    fn every_problem_is_reported() {
        let input: syn::DeriveInput = parse_quote!(
            enum E {
                A = 3,
                B = 2,
                C = X,
                D = 9,
                F = 1,
            }
        );
        let errors: Vec<String> = derive(&input)
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("`B` (2) must be greater than the previous variant's (3)"));
        assert!(errors[1].contains("integer literal"));
        assert!(errors[2].contains("`F` (1) must be greater than the previous variant's (9)"));
    }

    #[test]
    fn unions_are_rejected() {
        let input: syn::DeriveInput = parse_quote!(union U { a: u8 });
        let error = derive(&input).unwrap_err();
        assert!(error.to_string().contains("does not support unions"));
    }
}
