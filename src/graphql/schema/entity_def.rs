//! The per-entity descriptions every generic part of the schema is built from: the GraphQL
//! type and its root collection, the scalar fields (which double as the allowlist for filters,
//! `search` and `sorter`), the relations, and the read permission.

use std::any::Any;
use std::collections::HashMap;
use std::marker::PhantomData;

use futures_util::future::BoxFuture;
use sea_orm::{Condition, DatabaseConnection, EntityTrait, IdenStatic, ModelTrait, Value};

use crate::auth::Permission;
use crate::error::AppResult;
use crate::service::{
    base::{store, values::Page},
    read::{
        collection::{self, CollectionArgs},
        selection::{ColumnKind, Table},
    },
};

/// A model of any entity, with its type erased; what object types resolve their fields from.
pub struct Row(pub Box<dyn Any + Send + Sync>);

impl Row {
    pub fn new<M: Any + Send + Sync>(model: M) -> Self {
        Row(Box::new(model))
    }
    pub fn downcast<M: Any>(&self) -> Option<&M> {
        self.0.downcast_ref::<M>()
    }
}

pub type AnyModel = Row;

/// A scalar field backed by a column of the same name.
pub struct F {
    /// The field's name, which is also its column's.
    pub name: &'static str,
    /// Its GraphQL type, `!` included when it is non-null.
    pub graphql_type: &'static str,
    /// Its description; empty for self-explanatory fields.
    pub description: &'static str,
}

impl F {
    /// The GraphQL type without `!`.
    pub fn base_type(&self) -> &'static str {
        self.graphql_type.trim_end_matches('!')
    }
    pub fn non_null(&self) -> bool {
        self.graphql_type.ends_with('!')
    }
}

/// The scalar fields of an entity backed by columns of the same name, as a `&'static [F]`:
/// `fields!(account::Model; name: "String!" => "", r#type as "type": "AccountTypeEnum!" => "")`.
/// Each name must be a field of the model, checked by the compiler: a misspelled column does
/// not build. (Sonar fields fathom does not use are nullable columns too, always null.)
macro_rules! fields {
    ($model:ty; $($entries:tt)*) => {{
        #[allow(dead_code)]
        fn columns_exist(model: &$model) {
            fields!(@check model; $($entries)*);
        }
        fields!(@list []; $($entries)*)
    }};
    (@check $m:ident;) => {};
    (@check $m:ident; $name:ident $(as $r:literal)? : $ty:literal => $desc:expr $(, $($rest:tt)*)?) => {
        let _ = &$m.$name;
        fields!(@check $m; $($($rest)*)?);
    };
    (@list [$($out:expr,)*];) => { &[$($out),*] };
    (@list [$($out:expr,)*]; $name:ident as $r:literal : $ty:literal => $desc:expr $(, $($rest:tt)*)?) => {
        fields!(@list [$($out,)* $crate::graphql::schema::entity_def::F { name: $r, graphql_type: $ty, description: $desc },]; $($($rest)*)?)
    };
    (@list [$($out:expr,)*]; $name:ident : $ty:literal => $desc:expr $(, $($rest:tt)*)?) => {
        fields!(@list [$($out,)* $crate::graphql::schema::entity_def::F { name: stringify!($name), graphql_type: $ty, description: $desc },]; $($($rest)*)?)
    };
}
pub(crate) use fields;

/// Column names of an entity (`general_search`), each checked by the compiler to be a field
/// of the model: `columns!(account::Model; name, city)`.
macro_rules! columns {
    ($model:ty; $($name:ident),* $(,)?) => {{
        #[allow(dead_code)]
        fn columns_exist(model: &$model) {
            $(let _ = &model.$name;)*
        }
        &[$(stringify!($name)),*]
    }};
}
pub(crate) use columns;

/// How a relation finds its rows: rows of `target` whose `target_column` equals the parent's
/// `source_column` (and, optionally, whose `fixed.0` column equals `fixed.1`).
pub struct RelDef {
    pub name: &'static str,
    pub target: &'static EntityDef,
    pub many: bool,
    pub source_column: &'static str,
    pub target_column: &'static str,
    pub fixed: Option<(&'static str, &'static str)>,
    pub description: &'static str,
}

pub struct EntityDef {
    /// GraphQL object type, e.g. `Account`.
    pub name: &'static str,
    /// Root collection field, e.g. `accounts`; empty for types without one.
    pub plural: &'static str,
    pub description: &'static str,
    pub fields: &'static [F],
    /// Columns `general_search` looks in.
    pub general_search: &'static [&'static str],
    pub relations: fn() -> Vec<RelDef>,
    pub read: Permission,
    pub ops: &'static (dyn EntityOps + Sync),
    /// Fields that are not columns (computed, or shown only once).
    pub extra: fn() -> Vec<async_graphql::dynamic::Field>,
    /// Interfaces the type implements.
    pub interfaces: &'static [&'static str],
    /// Whether the type has the fields every record has (`id`, `sonar_unique_id`,
    /// `created_at`, `updated_at`, `_version`); report rows do not.
    pub base: bool,
}

impl EntityDef {
    pub fn field(&self, name: &str) -> Option<&'static F> {
        self.fields.iter().find(|f| f.name == name)
    }
    pub fn connection_name(&self) -> String {
        format!("{}Connection", self.name)
    }
}

pub fn no_extra() -> Vec<async_graphql::dynamic::Field> {
    Vec::new()
}

pub fn no_relations() -> Vec<RelDef> {
    Vec::new()
}

/// What the generic schema needs from a sea-orm entity, with its model type erased.
pub trait EntityOps: Send + Sync {
    /// The table, with its columns' kinds (for reads compiled to SQL).
    fn table(&self) -> Table;
    fn get(&self, model: &(dyn Any + Send + Sync), column: &str) -> Option<Value>;
    fn clone_box(&self, model: &(dyn Any + Send + Sync)) -> Option<AnyModel>;
    fn list<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        args: &'a CollectionArgs,
        extra: Condition,
        total: Option<u64>,
    ) -> BoxFuture<'a, AppResult<Page<AnyModel>>>;
    fn list_grouped<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        match_column: &'static str,
        keys: &'a [i64],
        args: &'a CollectionArgs,
        extra: Condition,
    ) -> BoxFuture<'a, AppResult<HashMap<i64, Page<AnyModel>>>>;
}

pub struct Ops<E>(PhantomData<fn() -> E>);

/// A freshly created record with a secret shown only in the response that created it
/// (a personal access token).
pub struct WithSecret<M> {
    pub model: M,
    pub secret: String,
}

fn model_of<M: Any>(model: &(dyn Any + Send + Sync)) -> Option<&M> {
    model
        .downcast_ref::<M>()
        .or_else(|| model.downcast_ref::<WithSecret<M>>().map(|w| &w.model))
}

impl<E> Default for Ops<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Ops<E> {
    /// `const`, so that entity descriptions can be statics.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Ops(PhantomData)
    }
}

/// The table of `E`, its name interned once.
fn table_name<E: EntityTrait>() -> &'static str {
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let name = E::default().table_name().to_owned();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    names
        .entry(name.clone())
        .or_insert_with(|| Box::leak(name.into_boxed_str()))
}

/// How column `name` of `E` is stored, read from its sea-orm definition.
fn column_kind<E: EntityTrait>(name: &str) -> Option<ColumnKind> {
    use sea_orm::sea_query::ColumnType as T;
    use sea_orm::{ColumnTrait, Iterable};
    let column = E::Column::iter().find(|c| c.as_str() == name)?;
    Some(match column.def().get_column_type() {
        T::Integer | T::SmallInteger | T::TinyInteger => ColumnKind::Int,
        T::BigInteger => ColumnKind::BigInt,
        T::Boolean => ColumnKind::Bool,
        T::Double => ColumnKind::Double,
        T::String(_) | T::Text | T::Char(_) => ColumnKind::Text,
        T::Date => ColumnKind::Date,
        T::TimestampWithTimeZone => ColumnKind::DateTimeUtc,
        _ => ColumnKind::Other,
    })
}

fn erase<M: Send + Sync + 'static>(page: Page<M>) -> Page<AnyModel> {
    Page {
        items: page.items.into_iter().map(Row::new).collect(),
        page: page.page,
        records_per_page: page.records_per_page,
        total_count: page.total_count,
    }
}

impl<E> EntityOps for Ops<E>
where
    E: EntityTrait,
    E::Model: Clone + Send + Sync + 'static,
{
    fn table(&self) -> Table {
        Table {
            name: table_name::<E>(),
            column: column_kind::<E>,
        }
    }

    fn get(&self, model: &(dyn Any + Send + Sync), column: &str) -> Option<Value> {
        let model = model_of::<E::Model>(model)?;
        let col = store::column::<E>(column).ok()?;
        Some(model.get(col))
    }

    fn clone_box(&self, model: &(dyn Any + Send + Sync)) -> Option<AnyModel> {
        model_of::<E::Model>(model).map(|m| Row::new(m.clone()))
    }

    fn list<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        args: &'a CollectionArgs,
        extra: Condition,
        total: Option<u64>,
    ) -> BoxFuture<'a, AppResult<Page<AnyModel>>> {
        Box::pin(async move {
            collection::list::<E, _>(db, args, extra, total)
                .await
                .map(erase)
        })
    }

    fn list_grouped<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        match_column: &'static str,
        keys: &'a [i64],
        args: &'a CollectionArgs,
        extra: Condition,
    ) -> BoxFuture<'a, AppResult<HashMap<i64, Page<AnyModel>>>> {
        Box::pin(async move {
            let grouped =
                collection::list_grouped::<E, _>(db, match_column, keys, args, extra).await?;
            Ok(grouped.into_iter().map(|(k, p)| (k, erase(p))).collect())
        })
    }
}
