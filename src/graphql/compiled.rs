//! The compiled read path: a query whose every field the compiler understands (root
//! collections, their pages, columns, relations, `page_info`, `__typename`, with aliases,
//! fragments, `@skip`/`@include` and variables) is answered by one SQL statement
//! ([`crate::service::read::selection`]) and written straight to JSON, without the general
//! executor building a value per field.
//!
//! It is an optimisation only. Anything else — another root field, a computed field, a
//! missing permission, a value the general path would refuse (a `null` in a non-null field, a
//! stored value outside its enum), a database error — returns `None` somewhere below, and the
//! request runs through the general resolvers, which give the same answer or the errors the
//! client must see. The document has passed async-graphql's validation before a plan runs
//! (see `crate::app`), so the values reaching here have their declared types. A differential
//! test (tests/api/compiled.rs) holds both paths to the same JSON.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    Directive, DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType,
    Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, Variables};
use async_graphql_value::ConstValue;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sea_orm::DatabaseConnection;

use super::args;
use super::defs;
use super::entity_def::{EntityDef, RelDef};
use super::scalars;
use crate::auth::CurrentUser;
use crate::service::read::{
    collection,
    selection::{self, ColumnKind, Item, Join, Page, RowShape},
};

/// The extension of the validating schema ([`super::build_validator`]): a request that
/// passed validation stops where execution would begin.
pub struct ValidateOnly;

impl async_graphql::extensions::ExtensionFactory for ValidateOnly {
    fn create(&self) -> std::sync::Arc<dyn async_graphql::extensions::Extension> {
        std::sync::Arc::new(ValidateOnly)
    }
}

#[async_graphql::async_trait::async_trait]
impl async_graphql::extensions::Extension for ValidateOnly {
    async fn execute(
        &self,
        _ctx: &async_graphql::extensions::ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: async_graphql::extensions::NextExecute<'_>,
    ) -> async_graphql::Response {
        async_graphql::Response::new(async_graphql::Value::Null)
    }
}

/// A cached authentication that no longer holds.
struct Stale;

/// A compiled query: the pages one statement reads, and how to write the answer.
pub struct Plan {
    pages: Vec<Page>,
    roots: Vec<RootOut>,
}

enum RootOut {
    Typename(String),
    Connection {
        key: String,
        page: usize,
        out: ConnOut,
    },
}

struct ConnOut {
    page: u64,
    records_per_page: u64,
    fields: Vec<ConnField>,
}

enum ConnField {
    Typename(String, &'static str),
    Entities(String, Vec<Out>),
    PageInfo(String, Vec<PageField>),
}

enum PageField {
    Typename(String),
    Page(String),
    RecordsPerPage(String),
    TotalCount(String),
    TotalPages(String),
}

/// One field of a row.
enum Out {
    Typename(String, &'static str),
    Cell {
        key: String,
        index: usize,
        format: Format,
        non_null: bool,
    },
    SonarId {
        key: String,
        index: usize,
        type_name: &'static str,
    },
    Version {
        key: String,
        index: Option<usize>,
    },
    ToOne {
        key: String,
        index: usize,
        fields: Vec<Out>,
    },
    Many {
        key: String,
        index: usize,
        out: ConnOut,
    },
}

/// The output check of a scalar type that has one ([`scalars::validator`]).
type Check = Option<fn(&async_graphql::Value) -> bool>;

/// How a stored value is written, as [`scalars::to_graphql`] and the scalar's validator
/// would write it.
#[derive(Clone, Copy)]
enum Format {
    /// An integer column as `Int64Bit`: a string.
    IdString,
    Integer(Check),
    Float(Check),
    Bool,
    /// A string, checked by the output type's validator when it has one.
    Text(Check),
    /// A string that must be one of the enum's values.
    Enum(&'static [(&'static str, &'static str)]),
    Date,
    Datetime,
}

/// What the compiler knows of each entity type, gathered once.
struct TypeInfo {
    def: &'static EntityDef,
    relations: Vec<RelDef>,
}

struct Index {
    types: HashMap<&'static str, TypeInfo>,
    roots: HashMap<&'static str, &'static str>,
    connections: HashMap<String, &'static str>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = Index {
            types: HashMap::new(),
            roots: HashMap::new(),
            connections: HashMap::new(),
        };
        for def in defs::all() {
            index.types.insert(
                def.name,
                TypeInfo {
                    def,
                    relations: (def.relations)(),
                },
            );
            if !def.plural.is_empty() {
                index.roots.insert(def.plural, def.name);
                index.connections.insert(def.connection_name(), def.name);
            }
        }
        index
    })
}

/// What the walk over the document needs besides the selection.
struct Walk<'d> {
    doc: &'d ExecutableDocument,
    operation: &'d OperationDefinition,
    variables: &'d Variables,
    user: &'d CurrentUser,
}

/// The plan for the operation `operation_name` of `doc`, when every field of it compiles.
pub fn plan(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    user: &CurrentUser,
) -> Option<Plan> {
    let operation = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => &op.node,
        (DocumentOperations::Multiple(ops), Some(name)) => &ops.get(name)?.node,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => &ops.values().next()?.node,
        _ => return None,
    };
    if operation.ty != OperationType::Query || !operation.directives.is_empty() {
        return None;
    }
    let walk = Walk {
        doc,
        operation,
        variables,
        user,
    };
    let index = index();
    let mut plan = Plan {
        pages: Vec::new(),
        roots: Vec::new(),
    };
    for (key, fields) in walk.collect(&operation.selection_set.node, "Query", &[])? {
        let field = fields[0];
        let name = field.name.node.as_str();
        if name == "__typename" {
            plan.roots.push(RootOut::Typename(key));
            continue;
        }
        let info = index.types.get(index.roots.get(name)?)?;
        let def = info.def;
        user.require(def.read).ok()?;
        let arguments = walk.arguments(field)?;
        let table = def.ops.table().name;
        let shown_by = collection::hiding(table).and_then(|h| h.shown_by);
        let mut shown = false;
        for name in arguments.keys() {
            match name.as_str() {
                name if Some(name) == shown_by => {}
                name if is_collection_argument(def, name) => {}
                _ => return None,
            }
        }
        if let Some(&ConstValue::Boolean(b)) = shown_by.and_then(|name| arguments.get(name)) {
            shown = b;
        }
        let collection_args = args::parse_map(def, &arguments).ok()?;
        let hidden = collection::hidden_unless_null(table, true, shown);
        let mut page = Page {
            table: def.ops.table(),
            args: collection_args,
            hidden_unless_null: hidden,
            count: false,
            rows: None,
        };
        let out = walk.connection(info, &mut page, &fields)?;
        plan.roots.push(RootOut::Connection {
            key,
            page: plan.pages.len(),
            out,
        });
        plan.pages.push(page);
    }
    Some(plan)
}

fn is_collection_argument(def: &EntityDef, name: &str) -> bool {
    matches!(name, "paginator" | "sorter" | "search" | "general_search")
        || (def.base && name == "id")
        || def.field(name).is_some()
}

impl<'d> Walk<'d> {
    /// The fields of `sets` selected on an object of type `on`, grouped by response key in
    /// the order they first appear (GraphQL's CollectFields); `None` when something in them
    /// is not understood.
    fn collect(
        &self,
        set: &'d SelectionSet,
        on: &str,
        interfaces: &[&str],
    ) -> Option<Vec<(String, Vec<&'d Field>)>> {
        let mut out: Vec<(String, Vec<&'d Field>)> = Vec::new();
        self.collect_into(set, on, interfaces, &mut out, 0)?;
        Some(out)
    }

    fn collect_into(
        &self,
        set: &'d SelectionSet,
        on: &str,
        interfaces: &[&str],
        out: &mut Vec<(String, Vec<&'d Field>)>,
        depth: usize,
    ) -> Option<()> {
        if depth > super::guard::MAX_NESTING {
            return None;
        }
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if !self.included(&field.directives)? {
                        continue;
                    }
                    let key = field.alias.as_ref().unwrap_or(&field.name).node.to_string();
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, fields)) => fields.push(field),
                        None => out.push((key, vec![field])),
                    }
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    if !self.included(&inline.directives)? {
                        continue;
                    }
                    let applies = inline.type_condition.as_ref().is_none_or(|c| {
                        let name = c.node.on.node.as_str();
                        name == on || interfaces.contains(&name)
                    });
                    if applies {
                        self.collect_into(
                            &inline.selection_set.node,
                            on,
                            interfaces,
                            out,
                            depth + 1,
                        )?;
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    if !self.included(&spread.directives)? {
                        continue;
                    }
                    let fragment = &self.doc.fragments.get(&spread.fragment_name.node)?.node;
                    let name = fragment.type_condition.node.on.node.as_str();
                    if !fragment.directives.is_empty() {
                        return None;
                    }
                    if name == on || interfaces.contains(&name) {
                        self.collect_into(
                            &fragment.selection_set.node,
                            on,
                            interfaces,
                            out,
                            depth + 1,
                        )?;
                    }
                }
            }
        }
        Some(())
    }

    /// Whether `@skip`/`@include` keep a selection; `None` for any other directive.
    fn included(&self, directives: &[Positioned<Directive>]) -> Option<bool> {
        let mut keep = true;
        for directive in directives {
            let directive = &directive.node;
            let skip = match directive.name.node.as_str() {
                "skip" => true,
                "include" => false,
                _ => return None,
            };
            let (_, value) = directive
                .arguments
                .iter()
                .find(|(name, _)| name.node == "if")?;
            let ConstValue::Boolean(condition) = self.value(&value.node)? else {
                return None;
            };
            if condition == skip {
                keep = false;
            }
        }
        Some(keep)
    }

    /// A value with its variables replaced, as the general resolvers see it.
    fn value(&self, value: &async_graphql_value::Value) -> Option<ConstValue> {
        value
            .clone()
            .into_const_with(|name| {
                self.operation
                    .variable_definitions
                    .iter()
                    .find(|d| d.node.name.node == name)
                    .and_then(|d| {
                        self.variables
                            .get(&d.node.name.node)
                            .or_else(|| d.node.default_value())
                    })
                    .cloned()
                    .ok_or(())
            })
            .ok()
    }

    fn arguments(&self, field: &Field) -> Option<IndexMap<Name, ConstValue>> {
        let mut out = IndexMap::new();
        for (name, value) in &field.arguments {
            out.insert(name.node.clone(), self.value(&value.node)?);
        }
        Some(out)
    }

    /// The selection of a `…Connection` of `info`'s type, read into `page`.
    fn connection(
        &self,
        info: &TypeInfo,
        page: &mut Page,
        fields: &[&'d Field],
    ) -> Option<ConnOut> {
        let connection_name = info.def.connection_name();
        let mut out = ConnOut {
            page: page.args.page,
            records_per_page: page.args.records_per_page,
            fields: Vec::new(),
        };
        let mut row = RowShape::default();
        let mut wants_rows = false;
        for (key, selected) in self.merged(fields, &connection_name, &[])? {
            match selected[0].name.node.as_str() {
                "__typename" => out.fields.push(ConnField::Typename(
                    key,
                    index()
                        .connections
                        .get_key_value(&connection_name)?
                        .0
                        .as_str(),
                )),
                "entities" => {
                    wants_rows = true;
                    let fields = self.row(info, &mut row, &selected)?;
                    out.fields.push(ConnField::Entities(key, fields));
                }
                "page_info" => {
                    let mut page_fields = Vec::new();
                    for (key, selected) in self.merged(&selected, "PageInfo", &[])? {
                        page_fields.push(match selected[0].name.node.as_str() {
                            "__typename" => PageField::Typename(key),
                            "page" => PageField::Page(key),
                            "records_per_page" => PageField::RecordsPerPage(key),
                            "total_count" => {
                                page.count = true;
                                PageField::TotalCount(key)
                            }
                            "total_pages" => {
                                page.count = true;
                                PageField::TotalPages(key)
                            }
                            _ => return None,
                        });
                    }
                    out.fields.push(ConnField::PageInfo(key, page_fields));
                }
                _ => return None,
            }
        }
        if wants_rows {
            page.rows = Some(row);
        }
        Some(out)
    }

    /// The sub-selections of `fields` (all with one response key) merged, on type `on`.
    fn merged(
        &self,
        fields: &[&'d Field],
        on: &str,
        interfaces: &[&str],
    ) -> Option<Vec<(String, Vec<&'d Field>)>> {
        if let [field] = fields {
            return self.collect(&field.selection_set.node, on, interfaces);
        }
        let mut out: Vec<(String, Vec<&'d Field>)> = Vec::new();
        for field in fields {
            self.collect_into(&field.selection_set.node, on, interfaces, &mut out, 0)?;
        }
        Some(out)
    }

    /// The fields of a row of `info`'s type, their columns and relations added to `row`.
    fn row(&self, info: &TypeInfo, row: &mut RowShape, fields: &[&'d Field]) -> Option<Vec<Out>> {
        let def = info.def;
        let table = def.ops.table();
        let mut out = Vec::new();
        for (key, selected) in self.merged(fields, def.name, def.interfaces)? {
            let field = selected[0];
            let name = field.name.node.as_str();
            if !field.arguments.is_empty() && !info.relations.iter().any(|r| r.name == name) {
                return None;
            }
            let base = def.base;
            out.push(match name {
                "__typename" => Out::Typename(key, def.name),
                "id" if base => Out::Cell {
                    key,
                    index: row.column("id"),
                    format: format("Int64Bit", (table.column)("id")?)?,
                    non_null: true,
                },
                "sonar_unique_id" if base => Out::SonarId {
                    key,
                    index: row.column("id"),
                    type_name: def.name,
                },
                "created_at" | "updated_at" if base => {
                    let column = if name == "created_at" {
                        "created_at"
                    } else {
                        "updated_at"
                    };
                    Out::Cell {
                        key,
                        index: row.column(column),
                        format: format("Datetime", (table.column)(column)?)?,
                        non_null: true,
                    }
                }
                "_version" if base => Out::Version {
                    key,
                    index: (table.column)("version").map(|_| row.column("version")),
                },
                _ => {
                    if let Some(f) = def.field(name) {
                        let kind = (table.column)(f.name())?;
                        Out::Cell {
                            key,
                            index: row.column(f.name()),
                            format: format(f.base_type(), kind)?,
                            non_null: f.non_null(),
                        }
                    } else {
                        let rel = info.relations.iter().find(|r| r.name == name)?;
                        self.relation(rel, row, key, &selected)?
                    }
                }
            });
        }
        if row.items.len() > selection::MAX_ROW_ITEMS {
            return None;
        }
        Some(out)
    }

    fn relation(
        &self,
        rel: &RelDef,
        row: &mut RowShape,
        key: String,
        selected: &[&'d Field],
    ) -> Option<Out> {
        let target = index().types.get(rel.target.name)?;
        self.user.require(rel.target.read).ok()?;
        let join = Join {
            source_column: rel.source_column,
            target_column: rel.target_column,
            fixed: rel.fixed,
        };
        if !rel.many {
            let mut shape = RowShape::default();
            let fields = self.row(target, &mut shape, selected)?;
            let index = row.push(Item::ToOne {
                table: rel.target.ops.table(),
                join,
                hidden_unless_null: collection::hidden_unless_null(
                    rel.target.ops.table().name,
                    false,
                    false,
                ),
                row: shape,
            });
            return Some(Out::ToOne { key, index, fields });
        }
        let arguments = self.arguments(selected[0])?;
        if arguments
            .keys()
            .any(|name| !is_collection_argument(rel.target, name.as_str()))
        {
            return None;
        }
        let mut page = Page {
            table: rel.target.ops.table(),
            args: args::parse_map(rel.target, &arguments).ok()?,
            hidden_unless_null: collection::hidden_unless_null(
                rel.target.ops.table().name,
                false,
                false,
            ),
            count: false,
            rows: None,
        };
        let out = self.connection(target, &mut page, selected)?;
        let index = row.push(Item::ToMany { join, page });
        Some(Out::Many { key, index, out })
    }
}

/// The format of a field of GraphQL type `base` stored in a column of `kind`, when the
/// compiled path can write it exactly as the general one does.
fn format(base: &str, kind: ColumnKind) -> Option<Format> {
    // Known scalars (GraphQL's and fathom's); anything else here is an enum.
    let scalar = scalars::is_builtin_scalar(base);
    let check = scalars::validator(base);
    Some(match kind {
        ColumnKind::Int | ColumnKind::BigInt => match base {
            "Int64Bit" => Format::IdString,
            _ if !scalar => return None,
            _ => Format::Integer(check),
        },
        ColumnKind::Double if scalar => Format::Float(check),
        ColumnKind::Bool if scalar && check.is_none() => Format::Bool,
        ColumnKind::Text if !scalar => Format::Enum(super::enums::values_of(base)?),
        ColumnKind::Text => Format::Text(check),
        ColumnKind::Date if matches!(base, "Date" | "String") => Format::Date,
        ColumnKind::DateTimeUtc if matches!(base, "Datetime" | "String") => Format::Datetime,
        _ => return None,
    })
}

/// What running a plan came to.
pub enum Outcome {
    /// The whole response body (`{"data":…}`).
    Answer(String),
    /// The general resolvers must answer.
    Fallback,
    /// The cached authentication the plan was made for is no longer current.
    Stale,
}

impl Plan {
    /// Runs the plan. `check` is a cached authentication to confirm in the same statement:
    /// the token's hash and the stamp it had.
    pub async fn run(&self, db: &DatabaseConnection, check: Option<(&str, &str)>) -> Outcome {
        match self.answer(db, check).await {
            Ok(Some(body)) => Outcome::Answer(body),
            Ok(None) => Outcome::Fallback,
            Err(Stale) => Outcome::Stale,
        }
    }

    async fn answer(
        &self,
        db: &DatabaseConnection,
        check: Option<(&str, &str)>,
    ) -> Result<Option<String>, Stale> {
        let json = match (self.pages.is_empty(), check) {
            (true, None) => Ok("[null]".to_owned()),
            _ => selection::read(db, check.map(|(hash, _)| hash), &self.pages).await,
        };
        let json = match json {
            Ok(json) => json,
            Err(err) => {
                tracing::debug!(error = %err, "compiled read fell back to the resolvers");
                return Ok(None);
            }
        };
        let Ok(serde_json::Value::Array(mut pages)) = serde_json::from_str(&json) else {
            return Ok(None);
        };
        if pages.is_empty() {
            return Ok(None);
        }
        let stamp = pages.remove(0);
        if let Some((_, expected)) = check {
            if stamp.as_str() != Some(expected) {
                return Err(Stale);
            }
        }
        Ok(self.write(&pages))
    }

    fn write(&self, pages: &[serde_json::Value]) -> Option<String> {
        // A page of 100 short rows fits without growing.
        let mut w = String::with_capacity(8 * 1024);
        w.push_str("{\"data\":{");
        for (i, root) in self.roots.iter().enumerate() {
            if i > 0 {
                w.push(',');
            }
            match root {
                RootOut::Typename(key) => {
                    write_key(&mut w, key);
                    w.push_str("\"Query\"");
                }
                RootOut::Connection { key, page, out } => {
                    write_key(&mut w, key);
                    write_connection(&mut w, out, pages.get(*page)?)?;
                }
            }
        }
        w.push_str("}}");
        Some(w)
    }
}

fn write_key(w: &mut String, key: &str) {
    // Response keys are GraphQL names: nothing to escape.
    w.push('"');
    w.push_str(key);
    w.push_str("\":");
}

fn write_str(w: &mut String, s: &str) {
    // serde_json escapes exactly as the general path's serializer does.
    w.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn write_connection(w: &mut String, out: &ConnOut, page: &serde_json::Value) -> Option<()> {
    let page = page.as_array()?;
    let total = page.first().and_then(|t| t.as_u64());
    let rows = page.get(1).and_then(|r| r.as_array());
    w.push('{');
    for (i, field) in out.fields.iter().enumerate() {
        if i > 0 {
            w.push(',');
        }
        match field {
            ConnField::Typename(key, name) => {
                write_key(w, key);
                write_str(w, name);
            }
            ConnField::Entities(key, fields) => {
                write_key(w, key);
                w.push('[');
                for (j, row) in rows?.iter().enumerate() {
                    if j > 0 {
                        w.push(',');
                    }
                    write_row(w, fields, row.as_array()?)?;
                }
                w.push(']');
            }
            ConnField::PageInfo(key, fields) => {
                write_key(w, key);
                w.push('{');
                for (j, field) in fields.iter().enumerate() {
                    if j > 0 {
                        w.push(',');
                    }
                    match field {
                        PageField::Typename(key) => {
                            write_key(w, key);
                            w.push_str("\"PageInfo\"");
                        }
                        PageField::Page(key) => {
                            write_key(w, key);
                            let _ = write!(w, "{}", out.page);
                        }
                        PageField::RecordsPerPage(key) => {
                            write_key(w, key);
                            let _ = write!(w, "{}", out.records_per_page);
                        }
                        PageField::TotalCount(key) => {
                            write_key(w, key);
                            let _ = write!(w, "{}", total?);
                        }
                        PageField::TotalPages(key) => {
                            write_key(w, key);
                            let _ = write!(w, "{}", total?.div_ceil(out.records_per_page.max(1)));
                        }
                    }
                }
                w.push('}');
            }
        }
    }
    w.push('}');
    Some(())
}

fn write_row(w: &mut String, fields: &[Out], row: &[serde_json::Value]) -> Option<()> {
    w.push('{');
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            w.push(',');
        }
        match field {
            Out::Typename(key, name) => {
                write_key(w, key);
                write_str(w, name);
            }
            Out::Cell {
                key,
                index,
                format,
                non_null,
            } => {
                write_key(w, key);
                let value = row.get(*index)?;
                if value.is_null() {
                    if *non_null {
                        return None;
                    }
                    w.push_str("null");
                } else {
                    write_cell(w, *format, value)?;
                }
            }
            Out::SonarId {
                key,
                index,
                type_name,
            } => {
                write_key(w, key);
                let id = row.get(*index)?.as_i64().unwrap_or_default();
                write_str(w, &format!("{type_name}:{id}"));
            }
            Out::Version { key, index } => {
                write_key(w, key);
                let version = index
                    .and_then(|i| row.get(i))
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0);
                let _ = write!(w, "\"{version}\"");
            }
            Out::ToOne { key, index, fields } => {
                write_key(w, key);
                match row.get(*index)? {
                    serde_json::Value::Null => w.push_str("null"),
                    value => write_row(w, fields, value.as_array()?)?,
                }
            }
            Out::Many { key, index, out } => {
                write_key(w, key);
                write_connection(w, out, row.get(*index)?)?;
            }
        }
    }
    w.push('}');
    Some(())
}

fn write_cell(w: &mut String, format: Format, value: &serde_json::Value) -> Option<()> {
    use serde_json::Value as J;
    match (format, value) {
        (Format::IdString, J::Number(n)) => {
            let _ = write!(w, "\"{}\"", n.as_i64()?);
        }
        (Format::Integer(check), J::Number(n)) => {
            let n = n.as_i64()?;
            checked(check, || async_graphql::Value::from(n))?;
            let _ = write!(w, "{n}");
        }
        (Format::Float(check), J::Number(n)) => {
            let n = n.as_f64()?;
            checked(check, || async_graphql::Value::from(n))?;
            let _ = write!(w, "{}", serde_json::Number::from_f64(n)?);
        }
        (Format::Bool, J::Bool(b)) => w.push_str(if *b { "true" } else { "false" }),
        (Format::Bool, J::Number(n)) => w.push_str(if n.as_i64()? != 0 { "true" } else { "false" }),
        (Format::Text(check), J::String(s)) => {
            checked(check, || async_graphql::Value::String(s.clone()))?;
            write_str(w, s);
        }
        (Format::Enum(values), J::String(s)) => {
            if !values.iter().any(|(v, _)| v == s) {
                return None;
            }
            write_str(w, s);
        }
        (Format::Date, J::String(s)) => {
            let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            let _ = write!(w, "\"{}\"", date.format("%Y-%m-%d"));
        }
        (Format::Datetime, J::String(s)) => {
            write_str(w, &scalars::format_datetime(&stored_instant(s)?));
        }
        _ => return None,
    }
    Some(())
}

/// `Some` when the output type has no check or `value` passes it.
fn checked(check: Check, value: impl FnOnce() -> async_graphql::Value) -> Option<()> {
    match check {
        Some(check) if !check(&value()) => None,
        _ => Some(()),
    }
}

/// An instant as the databases hand it over in JSON: RFC 3339 from PostgreSQL (in the
/// session's time zone) and from what sqlx stores in SQLite; a few other forms SQLite may hold.
fn stored_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(s) {
        return Some(at.with_timezone(&Utc));
    }
    for form in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(at) = DateTime::parse_from_str(s, form) {
            return Some(at.with_timezone(&Utc));
        }
    }
    for form in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(s, form) {
            return Some(at.and_utc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(query: &str, permissions: Vec<crate::auth::Permission>) -> bool {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        let user = CurrentUser {
            user_id: 1,
            token_id: 1,
            permissions,
        };
        plan(&doc, None, &Variables::default(), &user).is_some()
    }

    #[test]
    fn a_caller_without_the_read_permission_is_left_to_the_resolvers() {
        use crate::auth::Permission::{AccountsRead, BillingRead};
        let accounts = "{ accounts { entities { name } } }";
        let invoices = "{ accounts { entities { name invoices { entities { id } } } } }";
        assert!(planned(accounts, vec![AccountsRead]));
        assert!(!planned(accounts, vec![]));
        assert!(!planned(invoices, vec![AccountsRead]));
        assert!(planned(invoices, vec![AccountsRead, BillingRead]));
        // Mutations, introspection and computed fields are never compiled.
        assert!(!planned("mutation { __typename }", vec![AccountsRead]));
        assert!(!planned(
            "{ __schema { types { name } } }",
            vec![AccountsRead]
        ));
        assert!(!planned(
            "{ roles { entities { applied_permissions } } }",
            vec![AccountsRead]
        ));
    }

    #[test]
    fn stored_instants_in_every_form_read_back_as_the_same_utc_instant() {
        let expected = "2026-03-01T17:30:05+00:00";
        for stored in [
            "2026-03-01T17:30:05+00:00",
            "2026-03-01T11:30:05-06:00",
            "2026-03-01T17:30:05.25+00:00",
            "2026-03-01 17:30:05",
            "2026-03-01 17:30:05+00:00",
        ] {
            let at = stored_instant(stored).expect(stored);
            assert_eq!(scalars::format_datetime(&at), expected, "{stored}");
        }
        assert!(stored_instant("yesterday").is_none());
    }

    #[test]
    fn formats_follow_the_general_resolvers() {
        assert!(matches!(
            format("Int64Bit", ColumnKind::BigInt),
            Some(Format::IdString)
        ));
        assert!(matches!(
            format("Int", ColumnKind::Int),
            Some(Format::Integer(None))
        ));
        // An enum stored as a number is not guessed at.
        assert!(format("Country", ColumnKind::BigInt).is_none());
        assert!(format("Datetime", ColumnKind::Other).is_none());
        let mut w = String::new();
        write_cell(&mut w, Format::Float(None), &serde_json::json!(2)).unwrap();
        assert_eq!(w, "2.0");
        // A value its scalar's check refuses is left to the general path (which reports it).
        let latitude = format("Latitude", ColumnKind::Double).unwrap();
        assert!(write_cell(&mut w, latitude, &serde_json::json!(91.5)).is_none());
        assert!(write_cell(&mut w, latitude, &serde_json::json!(41.5)).is_some());
    }
}
