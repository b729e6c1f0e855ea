//! Error accumulation for the derives, the way `serde_derive` does it: every
//! step records what is wrong and carries on, so the user sees all the problems
//! of one item at once instead of fixing them one compile at a time.

use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

/// Collects errors during `ast` and `check`; [`Ctxt::check`] combines them into
/// one `syn::Error` (rendered as one `compile_error!` per problem).
pub(crate) struct Ctxt {
    /// `None` once `check` has run.
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    /// An empty context; it must be consumed by [`Ctxt::check`].
    pub(crate) fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error spanning the tokens of `obj`.
    pub(crate) fn error_spanned_by<A: ToTokens, T: Display>(&self, obj: A, msg: T) {
        self.push(syn::Error::new_spanned(obj.into_token_stream(), msg));
    }

    /// Records an error syn produced (a malformed attribute).
    pub(crate) fn syn_error(&self, error: syn::Error) {
        self.push(error);
    }

    fn push(&self, error: syn::Error) {
        if let Some(errors) = self.errors.borrow_mut().as_mut() {
            errors.push(error);
        }
    }

    /// All recorded errors combined, or `Ok` if there were none.
    pub(crate) fn check(self) -> syn::Result<()> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        let mut errors = errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for rest in errors {
            combined.combine(rest);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        // A context dropped unchecked would swallow errors; that is a bug in the
        // derive, caught by its own tests.
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("derive bug: Ctxt dropped without calling check()");
        }
    }
}
