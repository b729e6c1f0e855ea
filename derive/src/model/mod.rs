//! `#[derive(Model)]`: parse ([`attr`]), validate ([`check`]), generate
//! ([`expand`]).

mod attr;
mod check;
mod expand;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ctxt::Ctxt;

/// Expands `#[derive(Model)]` on `input`, or returns every problem found.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let Some(container) = attr::Container::from_ast(&cx, input) else {
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

    use super::check::{option_inner, upper_snake, vec_inner};
    use super::derive;
    use crate::test_util::flatten;

    /// The DESIGN §3 example.
    fn user() -> syn::DeriveInput {
        parse_quote! {
            #[model(name = "users", version = 2, from = v1::User)]
            #[model(index(name = "city_age", fields(city, age)))]
            #[model(index(name = "domain", with = Self::domain, ty = Text, unique))]
            pub struct User {
                #[model(key, auto)] id: u64,
                #[model(unique)] email: Text,
                #[model(index)] city: Text,
                #[model(index)] nickname: Option<Text>,
                #[model(index(multi))] tags: Vec<Text>,
                age: u32,
            }
        }
    }

    #[test]
    fn output_is_wrapped_and_names_only_skiff_private() {
        let inputs: Vec<syn::DeriveInput> = vec![
            user(),
            parse_quote!(
                #[model(change_log = 5)]
                struct Line {
                    #[model(key)]
                    order: u64,
                    #[model(key)]
                    no: u16,
                }
            ),
        ];
        for input in inputs {
            let output = derive(&input).expect("valid input");
            let text = output.to_string();
            assert!(
                text.starts_with("const _ : () = {") && text.ends_with("} ;"),
                "{text}"
            );
            let mut tokens = Vec::new();
            flatten(output, &mut tokens);
            for (i, token) in tokens.iter().enumerate() {
                assert!(
                    !["core", "std", "alloc", "serde", "bincode"].contains(&token.as_str()),
                    "{tokens:?}"
                );
                if token == "skiff" {
                    assert_eq!(
                        tokens[i - 2..i + 4],
                        [":", ":", "skiff", ":", ":", "__private"],
                        "{tokens:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn design_example_expands_to_typed_constants_and_definitions() {
        let text = derive(&user()).unwrap().to_string();
        for expected in [
            "pub const EMAIL : :: skiff :: __private :: Index < User , Text , :: skiff :: __private :: Unique >",
            "pub const CITY_AGE : :: skiff :: __private :: Index < User , (Text , u32) , :: skiff :: __private :: NonUnique >",
            "pub const NICKNAME : :: skiff :: __private :: Index < User , Text ,",
            "pub const TAGS : :: skiff :: __private :: Index < User , Text ,",
            "pub const DOMAIN : :: skiff :: __private :: Index < User , Text , :: skiff :: __private :: Unique >",
            "\"unique field(email):Text\"",
            "\"optional(nickname):Text\"",
            "\"multi(tags):Text\"",
            "\"fields(city,age):(Text,u32)\"",
            "\"unique with(User::domain):Text\"",
            "User :: domain (__record)",
            "const NAME : & 'static :: skiff :: __private :: str = \"users\"",
            "const VERSION : :: skiff :: __private :: u32 = 2u32",
            "const AUTO_KEY : :: skiff :: __private :: bool = true",
            "upgrade_via :: < Self , v1 :: User >",
            "assert_older",
        ] {
            assert!(text.contains(expected), "missing {expected} in {text}");
        }
    }

    #[test]
    fn every_problem_is_reported() {
        let input: syn::DeriveInput = parse_quote! {
            #[model(name = "a", name = "b", bogus)]
            #[model(index(name = "x", fields(nope)), index(name = "y", with = f))]
            struct S {
                #[model(auto)]
                id: u64,
                #[model(unique, index)]
                e: String,
                #[model(index(multi))]
                t: String,
                #[serde(flatten)]
                f: Other,
            }
        };
        let errors: Vec<String> = derive(&input)
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        let expected = [
            "duplicate #[model(name)]",
            "unknown #[model] attribute `bogus`",
            "conflicting attributes",
            "needs a primary key",
            "`auto` goes with `key`",
            "`index(multi)` needs a `Vec<T>` field",
            "`S` has no field `nope`",
            "`with` needs `ty = KeyType`",
            "#[serde(flatten)]",
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, expected) in errors.iter().zip(expected) {
            assert!(error.contains(expected), "{error} should contain {expected}");
        }
    }

    #[test]
    fn shapes_that_are_not_models() {
        for input in [
            parse_quote!(
                struct T(u64);
            ),
            parse_quote!(
                struct U;
            ),
            parse_quote!(
                enum E {
                    A,
                }
            ),
            parse_quote!(union N { a: u8 }),
        ] {
            let input: syn::DeriveInput = input;
            let error = derive(&input).unwrap_err().to_string();
            assert!(error.contains("needs a struct with named fields"), "{error}");
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(upper_snake("city_age"), "CITY_AGE");
        assert_eq!(upper_snake("cityAge"), "CITY_AGE");
        assert_eq!(upper_snake("tags2"), "TAGS2");
        assert_eq!(upper_snake("v2Name"), "V2_NAME");
        let ty: syn::Type = parse_quote!(std::option::Option<u8>);
        assert!(option_inner(&ty).is_some() && vec_inner(&ty).is_none());
        let ty: syn::Type = parse_quote!(Vec<String>);
        assert!(vec_inner(&ty).is_some());
        let ty: syn::Type = parse_quote!(Option<u8, u8>);
        assert!(option_inner(&ty).is_none());
    }
}
