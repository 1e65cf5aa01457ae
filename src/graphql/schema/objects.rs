//! Object types, connections, root collections and relation fields, generated from the
//! entity descriptions in [`crate::graphql::schema::defs`].

use std::sync::Arc;

use crate::service::{
    base::values::Page,
    read::collection::{self, CollectionArgs},
    read::counts,
    read::filter::Filter,
};
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, TypeRef,
};
use async_graphql::Value;

use crate::graphql::{
    execution::{
        loader::{Loader, RelKey},
        resolver::{db, gql, require},
    },
    schema::{
        args::{self, collection_arguments},
        entity_def::{EntityDef, RelDef, Row},
        scalars::to_graphql,
    },
};

/// A page of rows, the value behind every `…Connection`.
pub struct Connection(pub Arc<Page<Row>>);

/// The type reference for a field type written like `Int64Bit!` or `[Debit!]!`.
pub fn type_ref(ty: &str) -> TypeRef {
    if let Some(inner) = ty.strip_suffix('!') {
        return TypeRef::NonNull(Box::new(type_ref(inner)));
    }
    if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return TypeRef::List(Box::new(type_ref(inner)));
    }
    TypeRef::Named(ty.to_owned().into())
}

fn row<'a>(ctx: &ResolverContext<'a>) -> async_graphql::Result<&'a Row> {
    ctx.parent_value.try_downcast_ref::<Row>()
}

/// A field resolved from the column `column` of the parent row.
pub fn column_field(
    def: &'static EntityDef,
    name: &'static str,
    column: &'static str,
    ty: &'static str,
) -> Field {
    let base = ty.trim_end_matches('!');
    crate::graphql::execution::resolver::field(name, type_ref(ty), move |ctx| {
        FieldFuture::new(async move {
            let row = row(&ctx)?;
            let value = def
                .ops
                .get(&*row.0, column)
                .map(|v| to_graphql(base, v))
                .unwrap_or(Value::Null);
            // Null is "no value", never handed to a scalar's validator.
            Ok((value != Value::Null).then(|| FieldValue::value(value)))
        })
    })
}

pub fn row_id(def: &EntityDef, row: &Row) -> Option<i64> {
    match def.ops.get(&*row.0, "id") {
        Some(sea_orm::Value::BigInt(Some(id))) => Some(id),
        _ => None,
    }
}

/// The fields every record has: `id`, `sonar_unique_id`, `created_at`, `updated_at`, `_version`.
fn base_fields(def: &'static EntityDef, mut obj: Object) -> Object {
    obj = obj.field(column_field(def, "id", "id", "Int64Bit!"));
    obj = obj.field(
        crate::graphql::execution::resolver::field(
            "sonar_unique_id",
            TypeRef::named_nn(TypeRef::ID),
            move |ctx| {
                FieldFuture::new(async move {
                    let id = row_id(def, row(&ctx)?).unwrap_or_default();
                    Ok(Some(FieldValue::value(Value::String(format!(
                        "{}:{id}",
                        def.name
                    )))))
                })
            },
        )
        .description("An id unique across all types: the type name and the id."),
    );
    obj = obj.field(column_field(def, "created_at", "created_at", "Datetime!"));
    obj = obj.field(column_field(def, "updated_at", "updated_at", "Datetime!"));
    obj = obj.field(
        crate::graphql::execution::resolver::field(
            "_version",
            TypeRef::named_nn(TypeRef::STRING),
            move |ctx| {
                FieldFuture::new(async move {
                    let version = match def.ops.get(&*row(&ctx)?.0, "version") {
                        Some(sea_orm::Value::BigInt(Some(v))) => v,
                        _ => 0,
                    };
                    Ok(Some(FieldValue::value(Value::String(version.to_string()))))
                })
            },
        )
        .description("Incremented on every change of the record."),
    );
    obj
}

pub fn object_type(def: &'static EntityDef) -> Object {
    let mut obj = Object::new(def.name).description(def.description);
    if def.base {
        obj = base_fields(def, obj);
    }
    for f in def.fields {
        let mut field = column_field(def, f.name, f.name, f.graphql_type);
        if !f.description.is_empty() {
            field = field.description(f.description);
        }
        obj = obj.field(field);
    }
    for rel in (def.relations)() {
        obj = obj.field(relation_field(def, rel));
    }
    for field in (def.extra)() {
        obj = obj.field(field);
    }
    for interface in def.interfaces {
        obj = obj.implement(*interface);
    }
    obj
}

/// `TransactionInterface`: what debits and discounts (the results of a one-time
/// transaction) have in common.
pub fn transaction_interface() -> async_graphql::dynamic::Interface {
    use async_graphql::dynamic::{Interface, InterfaceField};
    let mut interface = Interface::new("TransactionInterface")
        .description("A debit or a discount on an account.")
        .field(InterfaceField::new("id", type_ref("Int64Bit!")))
        .field(InterfaceField::new("sonar_unique_id", type_ref("ID!")))
        .field(InterfaceField::new("created_at", type_ref("Datetime!")))
        .field(InterfaceField::new("updated_at", type_ref("Datetime!")))
        .field(InterfaceField::new("_version", type_ref("String!")));
    for name in [
        "account_id",
        "amount",
        "company_id",
        "description",
        "general_ledger_code",
        "general_ledger_code_description",
        "minutes",
        "prorated_from",
        "prorated_to",
        "quantity",
        "quantity_prorated_from",
        "quantity_prorated_to",
        "reversed",
        "reversed_at",
        "reversed_by_user_id",
        "service_id",
        "service_name",
        "service_transaction_type",
        "type",
        "user_id",
    ] {
        let f = crate::graphql::schema::defs::DEBIT
            .field(name)
            .expect("a debit field");
        interface = interface.field(InterfaceField::new(name, type_ref(f.graphql_type)));
    }
    interface
}

pub fn connection_type(def: &'static EntityDef) -> Object {
    Object::new(def.connection_name())
        .description(format!("A page of {} records.", def.name))
        .field(crate::graphql::execution::resolver::field(
            "entities",
            TypeRef::named_list_nn(def.name),
            move |ctx| {
                FieldFuture::new(async move {
                    let conn = ctx.parent_value.try_downcast_ref::<Connection>()?;
                    prefetch_relations(&ctx, def, &conn.0.items).await;
                    Ok(Some(FieldValue::list(
                        conn.0.items.iter().map(|r| FieldValue::borrowed_any(r)),
                    )))
                })
            },
        ))
        .field(page_info_field())
}

/// A connection's `page_info` (of a [`Connection`]).
pub fn page_info_field() -> Field {
    crate::graphql::execution::resolver::field("page_info", TypeRef::named_nn("PageInfo"), |ctx| {
        FieldFuture::new(async move {
            let conn = ctx.parent_value.try_downcast_ref::<Connection>()?;
            Ok(Some(FieldValue::borrowed_any(conn)))
        })
    })
}

pub fn page_info_type() -> Object {
    let number = |name: &'static str, f: fn(&Page<Row>) -> u64| {
        crate::graphql::execution::resolver::field(
            name,
            TypeRef::named_nn(TypeRef::INT),
            move |ctx| {
                FieldFuture::new(async move {
                    let conn = ctx.parent_value.try_downcast_ref::<Connection>()?;
                    Ok(Some(FieldValue::value(Value::from(f(&conn.0)))))
                })
            },
        )
    };
    Object::new("PageInfo")
        .description("Where a page sits in its collection.")
        .field(number("page", |p| p.page))
        .field(number("records_per_page", |p| p.records_per_page))
        .field(number("total_count", |p| p.total_count))
        .field(number("total_pages", |p| p.total_pages()))
}

fn relation_field(def: &'static EntityDef, rel: RelDef) -> Field {
    let relation = relation_name(def, &rel);
    let target = rel.target;
    let (source_column, target_column, fixed, many) =
        (rel.source_column, rel.target_column, rel.fixed, rel.many);
    let ty = if many {
        TypeRef::named_nn(target.connection_name())
    } else {
        TypeRef::named(target.name)
    };
    let mut field = crate::graphql::execution::resolver::field(rel.name, ty, move |ctx| {
        FieldFuture::new(async move {
            require(&ctx, target.read)?;
            let Some(sea_orm::Value::BigInt(Some(value))) =
                def.ops.get(&*row(&ctx)?.0, source_column)
            else {
                return Ok(if many {
                    Some(FieldValue::owned_any(Connection(Arc::new(empty_page()))))
                } else {
                    None
                });
            };
            let collection_args = if many {
                args::parse(target, &ctx.args).map_err(gql)?
            } else {
                CollectionArgs::default()
            };
            let args_key: Arc<str> = format!("{collection_args:?}").into();
            let key = RelKey {
                relation,
                target,
                target_column,
                fixed,
                args: Arc::new(collection_args),
                args_key,
                value,
            };
            let loader = ctx.data::<Loader>()?;
            let page = loader
                .load_one(key)
                .await
                .map_err(|e| gql(clone_error(&e)))?;
            let page = page.unwrap_or_else(|| Arc::new(empty_page()));
            if many {
                return Ok(Some(FieldValue::owned_any(Connection(page))));
            }
            Ok(page
                .items
                .first()
                .and_then(|r| target.ops.clone_box(&*r.0))
                .map(FieldValue::owned_any))
        })
    });
    if many {
        for arg in collection_arguments(target) {
            field = field.argument(arg);
        }
    }
    if !rel.description.is_empty() {
        field = field.description(rel.description);
    }
    field
}

fn empty_page() -> Page<Row> {
    Page {
        items: Vec::new(),
        page: 1,
        records_per_page: 100,
        total_count: 0,
    }
}

fn clone_error(e: &crate::error::AppError) -> crate::error::AppError {
    use crate::error::AppError;
    match e {
        AppError::Validation { field, message } => {
            AppError::validation(field.clone(), message.clone())
        }
        AppError::Unavailable(detail) => AppError::Unavailable(detail.clone()),
        other => AppError::Internal(other.to_string()),
    }
}

/// The root collection field of `def` (e.g. `accounts`).
pub fn root_collection(def: &'static EntityDef) -> Field {
    // The argument that lists hidden rows too (`include_archived` on accounts), if any.
    let hiding = collection::hiding(def.ops.table().name);
    let shown_by = hiding.and_then(|h| h.shown_by);
    let mut field = crate::graphql::execution::resolver::field(
        def.plural,
        TypeRef::named_nn(def.connection_name()),
        move |ctx| {
            FieldFuture::new(async move {
                require(&ctx, def.read)?;
                let collection_args = args::parse(def, &ctx.args).map_err(gql)?;
                let shown = shown_by
                    .and_then(|name| ctx.args.get(name))
                    .and_then(|v| v.boolean().ok())
                    .unwrap_or(false);
                let table = def.ops.table().name;
                let extra = collection::listed(table, true, shown);
                // Kept counts answer the total when the filter allows (as the compiled path does).
                let filter = Filter::of(&collection_args).map_err(gql)?;
                let hidden = collection::hidden_unless_null(table, true, shown);
                let total = match counts::of(table, true, hidden, &filter) {
                    Some(counted) => Some(counted.total(db(&ctx)).await.map_err(gql)?),
                    None => None,
                };
                let page = def
                    .ops
                    .list(db(&ctx), &collection_args, extra, total)
                    .await
                    .map_err(gql)?;
                Ok(Some(FieldValue::owned_any(Connection(Arc::new(page)))))
            })
        },
    )
    .description(format!("{} records. {}", def.name, def.description));
    for arg in collection_arguments(def) {
        field = field.argument(arg);
    }
    if let (Some(name), Some(hiding)) = (shown_by, hiding) {
        field = field.argument(
            InputValue::new(name, TypeRef::named(TypeRef::BOOLEAN))
                .description(format!("Include {} (left out by default).", hiding.what)),
        );
    }
    field
}

/// Loads, in one batch, every relation selected on a page's rows before their fields resolve.
/// The executor resolves an object's fields one after another, so without this each relation
/// would wait for its own DataLoader batch; with it they share one, and the fields then find
/// their pages in the loader's cache. Best effort: anything it cannot do, the fields do.
async fn prefetch_relations(ctx: &ResolverContext<'_>, def: &'static EntityDef, rows: &[Row]) {
    if rows.is_empty() {
        return;
    }
    let Ok(loader) = ctx.ctx.data::<Loader>() else {
        return;
    };
    let relations = (def.relations)();
    let mut batches = Vec::new();
    for field in ctx.ctx.field().selection_set() {
        let Some(rel) = relations.iter().find(|r| r.name == field.name()) else {
            continue;
        };
        let args = if rel.many {
            let Ok(given) = field.arguments() else {
                continue;
            };
            let given: async_graphql::indexmap::IndexMap<_, _> = given.into_iter().collect();
            match args::parse_map(rel.target, &given) {
                Ok(parsed) => parsed,
                Err(_) => continue,
            }
        } else {
            CollectionArgs::default()
        };
        let relation: &'static str = relation_name(def, rel);
        let args_key: Arc<str> = format!("{args:?}").into();
        let args = Arc::new(args);
        let keys: Vec<RelKey> = rows
            .iter()
            .filter_map(|row| match def.ops.get(&*row.0, rel.source_column) {
                Some(sea_orm::Value::BigInt(Some(value))) => Some(RelKey {
                    relation,
                    target: rel.target,
                    target_column: rel.target_column,
                    fixed: rel.fixed,
                    args: args.clone(),
                    args_key: args_key.clone(),
                    value,
                }),
                _ => None,
            })
            .collect();
        if !keys.is_empty() {
            batches.push(keys);
        }
    }
    if batches.len() > 1 {
        let _ =
            futures_util::future::join_all(batches.into_iter().map(|keys| loader.load_many(keys)))
                .await;
    }
}

/// The name that identifies a relation in the loader (`Type.relation`), interned once.
fn relation_name(def: &EntityDef, rel: &RelDef) -> &'static str {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashMap<(String, String), &'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    names
        .entry((def.name.to_owned(), rel.name.to_owned()))
        .or_insert_with(|| Box::leak(format!("{}.{}", def.name, rel.name).into_boxed_str()))
}
