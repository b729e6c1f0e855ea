//! The catalog: what each collection looked like when it was last opened.
//!
//! One system keyspace maps a collection's name to its [`Schema`]: model
//! version, key type, key encoding version and index definitions. Opening a
//! collection compares the model with the stored schema: a changed key type
//! or a changed index definition under the same name is
//! `Error::SchemaMismatch`; an index new to the catalog is built from the
//! records before the collection is handed out; an index the model no longer
//! declares is retired (kept, no longer maintained) and rebuilt if it is ever
//! declared again.
//!
//! The schema is stored with the value codec; `CATALOG_VERSION` versions this
//! layout.

use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::{Error, Result, KEY_ENCODING_VERSION};

/// Version of the catalog entry layout.
pub(crate) const CATALOG_VERSION: u32 = 1;

/// Name of the catalog keyspace.
pub(crate) const CATALOG_SPACE: &str = "skiff.catalog";

/// A collection's stored description.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schema {
    pub catalog_version: u32,
    pub model_version: u32,
    pub key_type: String,
    pub key_encoding: u32,
    /// Indexes maintained by every write.
    pub indexes: Vec<IndexSchema>,
    /// Indexes the model stopped declaring: kept but stale.
    pub retired: Vec<IndexSchema>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexSchema {
    pub name: String,
    pub unique: bool,
    pub definition: String,
    /// False while the index is being built (a crash mid-build rebuilds it).
    pub ready: bool,
}

/// What opening a collection must do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The schema to store once every index in `build` is built.
    pub schema: Schema,
    /// Positions (in `Model::indexes`) of the indexes to build from scratch.
    pub build: Vec<usize>,
}

/// The schema `M` declares, with every index ready.
pub(crate) fn declared<M: Model>() -> Schema {
    Schema {
        catalog_version: CATALOG_VERSION,
        model_version: M::VERSION,
        key_type: M::KEY_TYPE.to_string(),
        key_encoding: KEY_ENCODING_VERSION,
        indexes: M::indexes()
            .iter()
            .map(|i| IndexSchema {
                name: i.name().to_string(),
                unique: i.is_unique(),
                definition: i.definition().to_string(),
                ready: true,
            })
            .collect(),
        retired: Vec::new(),
    }
}

/// Compares the stored schema (if any) of collection `M` with `M`.
pub(crate) fn plan<M: Model>(stored: Option<Schema>) -> Result<Plan> {
    let mut schema = declared::<M>();
    let mismatch = |what: String| Error::SchemaMismatch {
        collection: M::NAME.to_string(),
        what,
    };
    let Some(stored) = stored else {
        // A new collection has no records: its indexes are trivially built.
        return Ok(Plan {
            schema,
            build: Vec::new(),
        });
    };
    if stored.catalog_version > CATALOG_VERSION || stored.key_encoding > KEY_ENCODING_VERSION {
        return Err(mismatch(format!(
            "written by a newer Skiff (catalog {}, key encoding {})",
            stored.catalog_version, stored.key_encoding
        )));
    }
    if stored.key_type != schema.key_type {
        return Err(mismatch(format!(
            "key type is {} in the database but {} in the model",
            stored.key_type, schema.key_type
        )));
    }
    if stored.model_version > M::VERSION {
        return Err(mismatch(format!(
            "records were written by model version {}, newer than this program's {}",
            stored.model_version,
            M::VERSION
        )));
    }
    // Records of an older version stay readable (they upgrade on read).
    schema.model_version = stored.model_version.max(M::VERSION);
    let mut build = Vec::new();
    for (pos, index) in schema.indexes.iter().enumerate() {
        match stored.indexes.iter().find(|s| s.name == index.name) {
            Some(s) if s.definition != index.definition || s.unique != index.unique => {
                return Err(mismatch(format!(
                    "index {:?} is {}{} in the database but {}{} in the model",
                    index.name,
                    if s.unique { "unique " } else { "" },
                    s.definition,
                    if index.unique { "unique " } else { "" },
                    index.definition
                )));
            }
            Some(s) if s.ready => {}
            // Half built, retired (stale) or new: build it from the records.
            _ => build.push(pos),
        }
    }
    schema.retired = stored
        .indexes
        .iter()
        .chain(&stored.retired)
        .filter(|s| !schema.indexes.iter().any(|i| i.name == s.name))
        .cloned()
        .collect();
    Ok(Plan { schema, build })
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(crate::Model, Serialize, Deserialize)]
    #[model(name = "people")]
    struct V1 {
        #[model(key)]
        id: u32,
        #[model(unique)]
        email: String,
    }

    #[derive(crate::Model, Serialize, Deserialize)]
    #[model(name = "people")]
    struct V2 {
        #[model(key)]
        id: u32,
        #[model(index)]
        email: String,
        #[model(index)]
        city: String,
    }

    #[derive(crate::Model, Serialize, Deserialize)]
    #[model(name = "people")]
    struct OtherKey {
        #[model(key)]
        id: String,
    }

    #[test]
    fn a_new_collection_builds_nothing() {
        let plan = plan::<V1>(None).unwrap();
        assert_eq!(
            plan,
            Plan {
                schema: declared::<V1>(),
                build: vec![]
            }
        );
    }

    #[test]
    fn new_indexes_are_built_and_changed_ones_refused() {
        let v1 = declared::<V1>();
        assert!(matches!(
            plan::<V2>(Some(v1.clone())),
            Err(Error::SchemaMismatch { .. })
        ));
        #[derive(crate::Model, Serialize, Deserialize)]
        #[model(name = "people")]
        struct V1City {
            #[model(key)]
            id: u32,
            #[model(unique)]
            email: String,
            #[model(index)]
            city: String,
        }
        let plan = plan::<V1City>(Some(v1)).unwrap();
        assert_eq!(plan.build, vec![1]);
    }

    #[test]
    fn key_type_changes_are_refused_and_removed_indexes_retired() {
        let v1 = declared::<V1>();
        let err = plan::<OtherKey>(Some(v1.clone())).unwrap_err();
        assert!(err.to_string().contains("key type"), "{err}");
        #[derive(crate::Model, Serialize, Deserialize)]
        #[model(name = "people")]
        struct Bare {
            #[model(key)]
            id: u32,
        }
        let plan = plan::<Bare>(Some(v1)).unwrap();
        assert_eq!(plan.schema.retired.len(), 1);
        assert_eq!(plan.schema.retired[0].name, "email");
        // Declared again later: rebuilt, since nobody maintained it meanwhile.
        let again = super::plan::<V1>(Some(plan.schema)).unwrap();
        assert_eq!(again.build, vec![0]);
        assert!(again.schema.retired.is_empty());
    }
}
