//! Secondary index descriptors: what a runtime needs to maintain an index
//! ([`IndexDef`], one per index, listed by [`Model::indexes`]) and what
//! application code names it by ([`Index`], the typed constants such as
//! `User::EMAIL` that `#[derive(Model)]` generates).
//!
//! Invariants:
//!
//! - An [`Index`] constant's `position` is its [`IndexDef`]'s position in
//!   [`Model::indexes`] and its `name` is that definition's name. Positions
//!   belong to the compiled program only and are never stored; the catalog
//!   identifies an index by name.
//! - An index's extraction emits each key of a record once, already in the
//!   [`Key`](crate::Key) encoding of the index's key type `K`.
//! - Uniqueness is in the type: [`Unique`] and [`NonUnique`] are the only
//!   [`IndexKind`]s, so lookups that only make sense on a unique index can be
//!   offered for `Index<M, K, Unique>` alone.

use std::fmt;
use std::marker::PhantomData;

use super::Model;

/// The function that emits the encoded index keys of a record.
///
/// ```
/// use skiff::{model::ExtractFn, Key};
///
/// struct User { email: String }
///
/// fn domain(user: &User, sink: &mut dyn FnMut(&[u8])) {
///     if let Some((_, domain)) = user.email.split_once('@') {
///         sink(&domain.to_string().to_key_bytes());
///     }
/// }
/// let extract: ExtractFn<User> = domain;
/// let mut keys = Vec::new();
/// extract(&User { email: "a@example.com".into() }, &mut |k| keys.push(k.to_vec()));
/// assert_eq!(keys, ["example.com".to_string().to_key_bytes()]);
/// ```
pub type ExtractFn<M> = fn(&M, &mut dyn FnMut(&[u8]));

/// One secondary index of model `M`, as a runtime sees it: its name, whether
/// it is unique, a textual definition for the catalog's schema check, and how
/// to get a record's index keys.
///
/// `#[derive(Model)]` builds these; [`Model::indexes`] lists them.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use skiff::{Key, Model};
///
/// #[derive(Model, Serialize, Deserialize)]
/// struct User {
///     #[model(key)]
///     id: u64,
///     #[model(unique)]
///     email: String,
///     #[model(index(multi))]
///     tags: Vec<String>,
/// }
///
/// let user = User { id: 1, email: "a@x".into(), tags: vec!["b".into(), "a".into(), "b".into()] };
/// let [email, tags] = User::indexes() else { unreachable!() };
/// assert_eq!((email.name(), email.is_unique(), email.definition()), ("email", true, "unique field(email):String"));
/// assert_eq!(email.keys(&user), [String::from("a@x").to_key_bytes()]);
/// // One key per distinct element, in key order.
/// assert_eq!(tags.keys(&user), ["a", "b"].map(|t| t.to_string().to_key_bytes()));
/// ```
pub struct IndexDef<M> {
    name: &'static str,
    unique: bool,
    definition: &'static str,
    extract: ExtractFn<M>,
}

impl<M> IndexDef<M> {
    /// A definition; `extract` must call its sink once per distinct encoded key
    /// of the record (zero times if the record is not indexed).
    ///
    /// `#[derive(Model)]` calls this; a hand-written [`Model`] can too.
    ///
    /// ```
    /// use skiff::{IndexDef, Key};
    ///
    /// struct User { email: String }
    ///
    /// fn domain(user: &User, sink: &mut dyn FnMut(&[u8])) {
    ///     if let Some((_, domain)) = user.email.split_once('@') {
    ///         sink(&domain.to_string().to_key_bytes());
    ///     }
    /// }
    /// const DOMAIN: IndexDef<User> = IndexDef::new("domain", false, "with(domain):String", domain);
    /// let user = User { email: "a@example.com".into() };
    /// assert_eq!(DOMAIN.keys(&user), ["example.com".to_string().to_key_bytes()]);
    /// assert!(DOMAIN.keys(&User { email: "local".into() }).is_empty(), "not indexed");
    /// ```
    pub const fn new(
        name: &'static str,
        unique: bool,
        definition: &'static str,
        extract: ExtractFn<M>,
    ) -> Self {
        IndexDef {
            name,
            unique,
            definition,
            extract,
        }
    }

    /// The index's name: the field's name for a field index, the `name = "…"`
    /// of a composite or computed one. Unique within the model.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User {
    /// #     #[model(key)] id: u64,
    /// #     #[model(unique)] email: String,
    /// #     #[model(index)] nickname: Option<String>,
    /// #     #[model(index(multi))] tags: Vec<String>,
    /// #     city: String,
    /// #     age: u32,
    /// # }
    /// use skiff::Model;
    ///
    /// let names: Vec<&str> = User::indexes().iter().map(|d| d.name()).collect();
    /// assert_eq!(names, ["email", "nickname", "tags", "city_age"]);
    /// ```
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Whether two records may not share a key of this index.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User {
    /// #     #[model(key)] id: u64,
    /// #     #[model(unique)] email: String,
    /// #     #[model(index)] nickname: Option<String>,
    /// #     #[model(index(multi))] tags: Vec<String>,
    /// #     city: String,
    /// #     age: u32,
    /// # }
    /// use skiff::Model;
    ///
    /// let unique: Vec<bool> = User::indexes().iter().map(|d| d.is_unique()).collect();
    /// assert_eq!(unique, [true, false, false, false]);
    /// ```
    pub const fn is_unique(&self) -> bool {
        self.unique
    }

    /// A stable text describing what the index contains, for the catalog to
    /// detect a changed definition under the same name. Written by the derive
    /// as `[unique ]<source>:<key type>`, the source being `field(f)`,
    /// `optional(f)`, `multi(f)`, `fields(a,b)` or `with(path)`, and types and
    /// paths spelled as in the code with module paths dropped
    /// (`std::string::String` is `String`).
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User {
    /// #     #[model(key)] id: u64,
    /// #     #[model(unique)] email: String,
    /// #     #[model(index)] nickname: Option<String>,
    /// #     #[model(index(multi))] tags: Vec<String>,
    /// #     city: String,
    /// #     age: u32,
    /// # }
    /// use skiff::Model;
    ///
    /// let defs: Vec<&str> = User::indexes().iter().map(|d| d.definition()).collect();
    /// assert_eq!(defs, [
    ///     "unique field(email):String",
    ///     "optional(nickname):String",
    ///     "multi(tags):String",
    ///     "fields(city,age):(String,u32)",
    /// ]);
    /// ```
    pub const fn definition(&self) -> &'static str {
        self.definition
    }

    /// Calls `sink` with each encoded key `record` has in this index: one for
    /// a plain field, none for a `None` field, one per distinct element of a
    /// multi index (in key order).
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User {
    /// #     #[model(key)] id: u64,
    /// #     #[model(unique)] email: String,
    /// #     #[model(index)] nickname: Option<String>,
    /// #     #[model(index(multi))] tags: Vec<String>,
    /// #     city: String,
    /// #     age: u32,
    /// # }
    /// use skiff::Key;
    ///
    /// let user = User {
    ///     id: 1,
    ///     email: "a@x".into(),
    ///     nickname: None,
    ///     tags: vec!["rust".into(), "db".into(), "rust".into()],
    ///     city: "Oslo".into(),
    ///     age: 30,
    /// };
    /// let mut tags = Vec::new();
    /// User::TAGS.def().for_each_key(&user, &mut |k| tags.push(String::from_key_bytes(k).unwrap()));
    /// assert_eq!(tags, ["db", "rust"]);
    /// User::NICKNAME.def().for_each_key(&user, &mut |_| panic!("None is not indexed"));
    /// ```
    pub fn for_each_key(&self, record: &M, sink: &mut dyn FnMut(&[u8])) {
        (self.extract)(record, sink);
    }

    /// The encoded keys `record` has in this index, in the order
    /// [`for_each_key`](Self::for_each_key) emits them.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User {
    /// #     #[model(key)] id: u64,
    /// #     #[model(unique)] email: String,
    /// #     #[model(index)] nickname: Option<String>,
    /// #     #[model(index(multi))] tags: Vec<String>,
    /// #     city: String,
    /// #     age: u32,
    /// # }
    /// use skiff::Key;
    ///
    /// let user = User {
    ///     id: 1,
    ///     email: "a@x".into(),
    ///     nickname: Some("al".into()),
    ///     tags: Vec::new(),
    ///     city: "Oslo".into(),
    ///     age: 30,
    /// };
    /// assert_eq!(User::NICKNAME.def().keys(&user), ["al".to_string().to_key_bytes()]);
    /// assert_eq!(User::CITY_AGE.def().keys(&user), [("Oslo".to_string(), 30u32).to_key_bytes()]);
    /// assert!(User::TAGS.def().keys(&user).is_empty());
    /// ```
    pub fn keys(&self, record: &M) -> Vec<Vec<u8>> {
        let mut keys = Vec::new();
        self.for_each_key(record, &mut |key| keys.push(key.to_vec()));
        keys
    }
}

impl<M> Clone for IndexDef<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for IndexDef<M> {}

impl<M> fmt::Debug for IndexDef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexDef")
            .field("name", &self.name)
            .field("unique", &self.unique)
            .field("definition", &self.definition)
            .finish_non_exhaustive()
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Unique {}
    impl Sealed for super::NonUnique {}
}

/// Whether an index is unique, as a type: [`Unique`] or [`NonUnique`].
///
/// Sealed: these two are the only kinds.
///
/// Generic code reads the kind from the type:
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// use skiff::{Index, IndexKind};
///
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct User { #[model(key)] id: u64, #[model(unique)] email: String, #[model(index)] city: String }
///
/// fn describe<M, K, Kind: IndexKind>(index: Index<M, K, Kind>) -> String {
///     format!("{}{}", if Kind::UNIQUE { "unique " } else { "" }, index.name())
/// }
/// assert_eq!(describe(User::EMAIL), "unique email");
/// assert_eq!(describe(User::CITY), "city");
/// ```
pub trait IndexKind: sealed::Sealed + Send + Sync + 'static {
    /// `true` for [`Unique`].
    const UNIQUE: bool;
}

/// The kind of an index whose keys identify at most one record
/// (`#[model(unique)]`, or `unique` in a struct-level `index(…)`).
///
/// Lookups by a unique index give at most one record, and writes that would
/// share a key fail:
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// use skiff::{Index, Unique};
///
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct User { #[model(key)] id: u64, #[model(unique)] email: String }
///
/// let _: Index<User, String, Unique> = User::EMAIL;
/// let db = skiff::Db::temporary()?;
/// let users = db.collection::<User>()?;
/// users.insert(&User { id: 1, email: "a@x".into() })?;
/// assert_eq!(users.index(User::EMAIL).get("a@x")?.map(|u| u.id), Some(1));
/// let taken = users.insert(&User { id: 2, email: "a@x".into() });
/// assert!(matches!(taken, Err(skiff::Error::UniqueViolation { .. })));
/// # Ok::<(), skiff::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unique {}

/// The kind of an index whose keys may be shared by many records
/// (`#[model(index)]`).
///
/// Such an index has `get_all`, not `get`:
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// use skiff::{Index, NonUnique};
///
/// #[derive(skiff::Model, Serialize, Deserialize)]
/// struct User { #[model(key)] id: u64, #[model(index)] city: String }
///
/// let _: Index<User, String, NonUnique> = User::CITY;
/// let db = skiff::Db::temporary()?;
/// let users = db.collection::<User>()?;
/// users.insert(&User { id: 1, city: "Oslo".into() })?;
/// users.insert(&User { id: 2, city: "Oslo".into() })?;
/// assert_eq!(users.index(User::CITY).get_all("Oslo")?.count(), 2);
/// # Ok::<(), skiff::Error>(())
/// ```
///
/// ```compile_fail,E0599
/// # use serde::{Deserialize, Serialize};
/// # #[derive(skiff::Model, Serialize, Deserialize)]
/// # struct User { #[model(key)] id: u64, #[model(index)] city: String }
/// # let db = skiff::Db::temporary()?;
/// let one = db.collection::<User>()?.index(User::CITY).get("Oslo")?;
/// # Ok::<(), skiff::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NonUnique {}

impl IndexKind for Unique {
    const UNIQUE: bool = true;
}

impl IndexKind for NonUnique {
    const UNIQUE: bool = false;
}

/// A typed handle on one secondary index of model `M`: its key type `K` (what
/// lookups take; `String` for an `Option<String>` or `Vec<String>` field, the
/// tuple of the fields for a composite index) and its kind ([`Unique`] or
/// [`NonUnique`]).
///
/// `#[derive(Model)]` generates one per index as an associated constant in
/// upper snake case (`User::EMAIL`, `User::CITY_AGE`). It is `Copy` and holds
/// only the index's name and position.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use skiff::{Index, Model, NonUnique, Unique};
///
/// #[derive(Model, Serialize, Deserialize)]
/// #[model(index(name = "city_age", fields(city, age)))]
/// struct User {
///     #[model(key)]
///     id: u64,
///     #[model(unique)]
///     email: String,
///     city: String,
///     age: u32,
/// }
///
/// fn unique_only<M, K>(index: Index<M, K, Unique>) -> &'static str {
///     index.name()
/// }
/// assert_eq!(unique_only(User::EMAIL), "email");
/// let city_age: Index<User, (String, u32), NonUnique> = User::CITY_AGE;
/// assert_eq!((city_age.name(), city_age.position()), ("city_age", 1));
/// assert_eq!(city_age.def().definition(), "fields(city,age):(String,u32)");
/// ```
pub struct Index<M, K, Kind> {
    name: &'static str,
    position: usize,
    marker: PhantomData<Marker<M, K, Kind>>,
}

/// `fn() -> …` keeps an [`Index`] `Send + Sync` whatever the types, without
/// owning any of them.
type Marker<M, K, Kind> = fn() -> (M, K, Kind);

impl<M, K, Kind> Index<M, K, Kind> {
    /// The handle on the index called `name` at `position` in `M`'s
    /// [`Model::indexes`]. `#[derive(Model)]` calls this; the two must agree.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// use skiff::{Index, Unique};
    ///
    /// #[derive(skiff::Model, Serialize, Deserialize)]
    /// struct User { #[model(key)] id: u64, #[model(unique)] email: String }
    ///
    /// const EMAIL: Index<User, String, Unique> = Index::new("email", 0);
    /// assert_eq!(EMAIL.def().definition(), "unique field(email):String");
    /// let wrong: Index<User, String, Unique> = Index::new("email", 1);
    /// assert!(std::panic::catch_unwind(|| wrong.def()).is_err());
    /// ```
    pub const fn new(name: &'static str, position: usize) -> Self {
        Index {
            name,
            position,
            marker: PhantomData,
        }
    }

    /// The index's name.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User {
    /// #     #[model(key)] id: u64,
    /// #     #[model(unique)] email: String,
    /// #     #[model(index)] nickname: Option<String>,
    /// #     #[model(index(multi))] tags: Vec<String>,
    /// #     city: String,
    /// #     age: u32,
    /// # }
    /// assert_eq!((User::EMAIL.name(), User::CITY_AGE.name()), ("email", "city_age"));
    /// ```
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The index's position in [`Model::indexes`].
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User {
    /// #     #[model(key)] id: u64,
    /// #     #[model(unique)] email: String,
    /// #     #[model(index)] nickname: Option<String>,
    /// #     #[model(index(multi))] tags: Vec<String>,
    /// #     city: String,
    /// #     age: u32,
    /// # }
    /// use skiff::Model;
    ///
    /// assert_eq!(User::indexes()[User::TAGS.position()].name(), "tags");
    /// assert_eq!(User::CITY_AGE.position(), 3); // struct-level indexes come after field indexes
    /// ```
    pub const fn position(&self) -> usize {
        self.position
    }
}

impl<M: Model, K, Kind: IndexKind> Index<M, K, Kind> {
    /// The index's definition.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(skiff::Model, Serialize, Deserialize)]
    /// # #[model(index(name = "city_age", fields(city, age)))]
    /// # struct User {
    /// #     #[model(key)] id: u64,
    /// #     #[model(unique)] email: String,
    /// #     #[model(index)] nickname: Option<String>,
    /// #     #[model(index(multi))] tags: Vec<String>,
    /// #     city: String,
    /// #     age: u32,
    /// # }
    /// let def = User::NICKNAME.def();
    /// assert_eq!((def.name(), def.is_unique()), ("nickname", false));
    /// ```
    ///
    /// # Panics
    ///
    /// If the handle was built by hand with a position or name that does not
    /// match `M`'s indexes (never for a derived constant).
    pub fn def(&self) -> &'static IndexDef<M> {
        match M::indexes().get(self.position) {
            Some(def) if def.name == self.name && def.unique == Kind::UNIQUE => def,
            _ => panic!(
                "`{}` has no {} index `{}` at position {}",
                std::any::type_name::<M>(),
                if Kind::UNIQUE { "unique" } else { "non-unique" },
                self.name,
                self.position
            ),
        }
    }
}

impl<M, K, Kind> Clone for Index<M, K, Kind> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, K, Kind> Copy for Index<M, K, Kind> {}

impl<M, K, Kind: IndexKind> fmt::Debug for Index<M, K, Kind> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("name", &self.name)
            .field("position", &self.position)
            .field("unique", &Kind::UNIQUE)
            .finish()
    }
}
