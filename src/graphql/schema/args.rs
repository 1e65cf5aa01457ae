//! The collection arguments every collection takes (at the root and as a relation), their
//! input types, and their parsing into [`CollectionArgs`], checking every attribute against
//! the entity's allowlist.

use async_graphql::dynamic::{InputObject, InputValue, ObjectAccessor, TypeRef};
use async_graphql::indexmap::IndexMap;
use async_graphql::Name;
use async_graphql::Value;

use crate::error::{AppError, AppResult};
use crate::graphql::schema::{
    entity_def::EntityDef,
    scalars::{kind_of, to_filter, Kind},
};
use crate::service::read::collection::{
    Clause, CollectionArgs, Op, DEFAULT_RECORDS_PER_PAGE, MAX_RECORDS_PER_PAGE, MAX_SEARCHES,
    MAX_SEARCH_FIELDS, MAX_SEARCH_TEXT, MAX_SORTERS,
};

/// Fields every entity has besides its own: `(name, GraphQL type)`.
pub const BASE_FIELDS: &[(&str, &str)] = &[
    ("id", "Int64Bit!"),
    ("created_at", "Datetime!"),
    ("updated_at", "Datetime!"),
];

/// The type of attribute `name` of `def`, if `name` is in its allowlist.
pub fn attribute_type(def: &EntityDef, name: &str) -> Option<(&'static str, &'static str)> {
    if let Some((n, t)) = BASE_FIELDS
        .iter()
        .filter(|_| def.base)
        .find(|(n, _)| *n == name)
    {
        return Some((n, t.trim_end_matches('!')));
    }
    def.field(name).map(|f| (f.name, f.base_type()))
}

fn unknown(def: &EntityDef, field: &str, name: &str) -> AppError {
    AppError::validation(field, format!("{name} is not an attribute of {}", def.name))
}

/// The arguments of a collection field of `def`.
pub fn collection_arguments(def: &EntityDef) -> Vec<InputValue> {
    let mut args = Vec::new();
    if def.base {
        args.push(InputValue::new("id", TypeRef::named("Int64Bit")));
    }
    for f in def.fields {
        args.push(InputValue::new(f.name, TypeRef::named(f.base_type())));
    }
    args.push(InputValue::new("paginator", TypeRef::named("Paginator")).description(format!(
        "Page to return; records_per_page defaults to {DEFAULT_RECORDS_PER_PAGE}, at most {MAX_RECORDS_PER_PAGE}."
    )));
    args.push(
        InputValue::new("sorter", TypeRef::named_list("Sorter"))
            .description(format!("At most {MAX_SORTERS} entries, applied in order.")),
    );
    args.push(
        InputValue::new("search", TypeRef::named_list("Search")).description(format!(
            "Fields inside one Search must all match; separate Search objects are alternatives. \
             At most {MAX_SEARCHES} Search objects of at most {MAX_SEARCH_FIELDS} fields each."
        )),
    );
    args.push(
        InputValue::new("general_search", TypeRef::named(TypeRef::STRING)).description(format!(
            "Case-insensitive text (at most {MAX_SEARCH_TEXT} characters) found in any of: {}.",
            def.general_search.join(", ")
        )),
    );
    args
}

/// The input types the collection arguments use.
pub fn input_types() -> Vec<InputObject> {
    let field = |name: &str, ty: TypeRef| InputValue::new(name, ty);
    vec![
        InputObject::new("Paginator")
            .field(field("page", TypeRef::named_nn(TypeRef::INT)))
            .field(field("records_per_page", TypeRef::named_nn(TypeRef::INT))),
        InputObject::new("Sorter")
            .field(field("attribute", TypeRef::named_nn(TypeRef::STRING)))
            .field(field("direction", TypeRef::named_nn("SortDirection"))),
        InputObject::new("Search")
            .field(field(
                "string_fields",
                TypeRef::named_list("SearchStringField"),
            ))
            .field(field(
                "integer_fields",
                TypeRef::named_list("SearchIntegerField"),
            ))
            .field(field(
                "float_fields",
                TypeRef::named_list("SearchFloatField"),
            ))
            .field(field(
                "datetime_fields",
                TypeRef::named_list("SearchDatetimeField"),
            ))
            .field(field("date_fields", TypeRef::named_list("SearchDateField")))
            .field(field(
                "boolean_fields",
                TypeRef::named_list("SearchBooleanField"),
            ))
            .field(
                field("unset_fields", TypeRef::named_list(TypeRef::STRING))
                    .description("Attributes that must have no value."),
            )
            .field(
                field("exists", TypeRef::named_list(TypeRef::STRING))
                    .description("Attributes that must have a value."),
            ),
        InputObject::new("SearchStringField")
            .field(field("attribute", TypeRef::named_nn(TypeRef::STRING)))
            .field(field("search_value", TypeRef::named_nn(TypeRef::STRING)))
            .field(
                field("match", TypeRef::named_nn(TypeRef::BOOLEAN))
                    .description("true: must match; false: must not."),
            )
            .field(
                field("partial_matching", TypeRef::named(TypeRef::BOOLEAN))
                    .description("Match a case-insensitive substring instead of the whole value."),
            ),
        InputObject::new("SearchIntegerField")
            .field(field("attribute", TypeRef::named_nn(TypeRef::STRING)))
            .field(field("search_value", TypeRef::named_nn("Int64Bit")))
            .field(field("operator", TypeRef::named_nn("RangeOperator"))),
        InputObject::new("SearchFloatField")
            .field(field("attribute", TypeRef::named_nn(TypeRef::STRING)))
            .field(field("search_value", TypeRef::named_nn(TypeRef::FLOAT)))
            .field(field("operator", TypeRef::named_nn("RangeOperator"))),
        InputObject::new("SearchDatetimeField")
            .field(field("attribute", TypeRef::named_nn(TypeRef::STRING)))
            .field(field("search_value", TypeRef::named_nn("Datetime")))
            .field(field("operator", TypeRef::named_nn("RangeOperator"))),
        InputObject::new("SearchDateField")
            .field(field("attribute", TypeRef::named_nn(TypeRef::STRING)))
            .field(field("search_value", TypeRef::named_nn("Date")))
            .field(field("operator", TypeRef::named_nn("RangeOperator"))),
        InputObject::new("SearchBooleanField")
            .field(field("attribute", TypeRef::named_nn(TypeRef::STRING)))
            .field(field("search_value", TypeRef::named_nn(TypeRef::BOOLEAN)))
            .field(field("operator", TypeRef::named("BooleanOperator"))),
    ]
}

/// A list argument, accepting a single object where a list is expected (as Sonar does).
fn items(value: &Value) -> Vec<&Value> {
    match value {
        Value::List(list) => list.iter().collect(),
        Value::Null => Vec::new(),
        single => vec![single],
    }
}

fn object<'a>(
    value: &'a Value,
    field: &str,
) -> AppResult<&'a async_graphql::indexmap::IndexMap<async_graphql::Name, Value>> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(AppError::validation(
            field,
            format!("{field} must be an object"),
        )),
    }
}

fn get<'a>(
    map: &'a async_graphql::indexmap::IndexMap<async_graphql::Name, Value>,
    key: &str,
) -> &'a Value {
    map.get(key).unwrap_or(&Value::Null)
}

/// The name of an enum value: a literal (`DESC`) or, from variables, a JSON string
/// (`"DESC"`), which async-graphql hands over as a string once validation has checked it.
fn enum_name(value: &Value) -> Option<&str> {
    match value {
        Value::Enum(n) => Some(n.as_str()),
        Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

fn range_op(value: &Value) -> Op {
    match enum_name(value) {
        Some("GT") => Op::Gt,
        Some("GTE") => Op::Gte,
        Some("LT") => Op::Lt,
        Some("LTE") => Op::Lte,
        Some("NEQ") => Op::Neq,
        _ => Op::Eq,
    }
}

/// Parses the paginator alone (also used by the report's own tables).
pub fn paginator(value: Option<&Value>) -> AppResult<(u64, u64)> {
    let Some(value) = value.filter(|v| !matches!(v, Value::Null)) else {
        return Ok((1, DEFAULT_RECORDS_PER_PAGE));
    };
    let map = object(value, "paginator")?;
    let page = get(map, "page");
    let per_page = get(map, "records_per_page");
    let page = match page {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    };
    let per_page = match per_page {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    };
    if page < 1 {
        return Err(AppError::validation(
            "paginator.page",
            "page must be 1 or more",
        ));
    }
    if per_page < 1 || per_page as u64 > MAX_RECORDS_PER_PAGE {
        return Err(AppError::validation(
            "paginator.records_per_page",
            format!("records_per_page must be between 1 and {MAX_RECORDS_PER_PAGE}"),
        ));
    }
    Ok((page as u64, per_page as u64))
}

/// Parses every collection argument of `def` from a field's arguments.
pub fn parse(def: &EntityDef, args: &ObjectAccessor<'_>) -> AppResult<CollectionArgs> {
    parse_map(def, args.as_index_map())
}

/// Parses every collection argument of `def` from `args` (names to values).
pub fn parse_map(def: &EntityDef, args: &IndexMap<Name, Value>) -> AppResult<CollectionArgs> {
    let mut out = CollectionArgs::default();
    (out.page, out.records_per_page) = paginator(args.get("paginator"))?;

    for (name, value) in args.iter() {
        let name = name.as_str();
        if matches!(name, "paginator" | "sorter" | "search" | "general_search")
            || matches!(value, Value::Null)
        {
            continue;
        }
        let Some((column, ty)) = attribute_type(def, name) else {
            continue;
        };
        let filter = to_filter(ty, value)
            .ok_or_else(|| AppError::validation(name, format!("{name} is not a valid {ty}")))?;
        out.equals.push(Clause {
            column,
            op: Op::Eq,
            value: Some(filter),
        });
    }

    if let Some(sorter) = args.get("sorter") {
        let sorter = items(sorter);
        if sorter.len() > MAX_SORTERS {
            return Err(AppError::validation(
                "sorter",
                format!("at most {MAX_SORTERS} sorter entries are allowed"),
            ));
        }
        for item in sorter {
            let map = object(item, "sorter")?;
            let attribute = match get(map, "attribute") {
                Value::String(s) => s.as_str(),
                _ => "",
            };
            let (column, _) = attribute_type(def, attribute)
                .ok_or_else(|| unknown(def, "sorter.attribute", attribute))?;
            let descending = enum_name(get(map, "direction")) == Some("DESC");
            out.sort.push((column, descending));
        }
    }

    if let Some(search) = args.get("search") {
        let search = items(search);
        if search.len() > MAX_SEARCHES {
            return Err(AppError::validation(
                "search",
                format!("at most {MAX_SEARCHES} Search objects are allowed"),
            ));
        }
        for item in search {
            out.search.push(parse_search(def, object(item, "search")?)?);
        }
    }

    if let Some(text) = args
        .get("general_search")
        .filter(|v| !matches!(v, Value::Null))
    {
        let Value::String(text) = text else {
            return Err(AppError::validation("general_search", "must be a string"));
        };
        check_search_text("general_search", text)?;
        if !text.trim().is_empty() {
            out.general_search = Some((text.trim().to_owned(), def.general_search.to_vec()));
        }
    }
    Ok(out)
}

fn parse_search(
    def: &EntityDef,
    map: &async_graphql::indexmap::IndexMap<async_graphql::Name, Value>,
) -> AppResult<Vec<Clause>> {
    let mut clauses = Vec::new();
    let lists: [(&str, Kind); 6] = [
        ("string_fields", Kind::String),
        ("integer_fields", Kind::Int),
        ("float_fields", Kind::Float),
        ("datetime_fields", Kind::Datetime),
        ("date_fields", Kind::Date),
        ("boolean_fields", Kind::Bool),
    ];
    for (list, kind) in lists {
        let field_path = format!("search.{list}");
        for item in items(get(map, list)) {
            let item = object(item, &field_path)?;
            let attribute = match get(item, "attribute") {
                Value::String(s) => s.as_str(),
                _ => "",
            };
            let (column, ty) = attribute_type(def, attribute)
                .ok_or_else(|| unknown(def, &field_path, attribute))?;
            if kind_of(ty) != kind {
                return Err(AppError::validation(
                    &field_path,
                    format!("{attribute} is a {ty}, which {list} cannot search"),
                ));
            }
            let raw = get(item, "search_value");
            if let Value::String(text) = raw {
                check_search_text(&field_path, text)?;
            }
            let value = to_filter(ty, raw).ok_or_else(|| {
                AppError::validation(&field_path, format!("search_value is not a valid {ty}"))
            })?;
            let op = match kind {
                Kind::String => {
                    let matching = !matches!(get(item, "match"), Value::Boolean(false));
                    let partial = matches!(get(item, "partial_matching"), Value::Boolean(true));
                    match (matching, partial) {
                        (true, true) => Op::Contains,
                        (false, true) => Op::NotContains,
                        (true, false) => Op::Eq,
                        (false, false) => Op::Neq,
                    }
                }
                Kind::Bool => match get(item, "operator") {
                    value if enum_name(value) == Some("NEQ") => Op::Neq,
                    _ => Op::Eq,
                },
                _ => range_op(get(item, "operator")),
            };
            clauses.push(Clause {
                column,
                op,
                value: Some(value),
            });
        }
    }
    for (list, op) in [("unset_fields", Op::IsNull), ("exists", Op::IsNotNull)] {
        for item in items(get(map, list)) {
            let attribute = match item {
                Value::String(s) => s.as_str(),
                _ => "",
            };
            let (column, _) = attribute_type(def, attribute)
                .ok_or_else(|| unknown(def, &format!("search.{list}"), attribute))?;
            clauses.push(Clause {
                column,
                op,
                value: None,
            });
        }
    }
    if clauses.len() > MAX_SEARCH_FIELDS {
        return Err(AppError::validation(
            "search",
            format!("one Search holds at most {MAX_SEARCH_FIELDS} fields"),
        ));
    }
    Ok(clauses)
}

fn check_search_text(field: &str, text: &str) -> AppResult<()> {
    if text.chars().count() > MAX_SEARCH_TEXT {
        return Err(AppError::validation(
            field,
            format!("a search text is at most {MAX_SEARCH_TEXT} characters"),
        ));
    }
    Ok(())
}
