//! From a validated document to a [`Plan`]: which pages one statement reads, and how the answer
//! is to be written; `None` for anything the compiler does not understand.

use std::collections::HashMap;
use std::sync::OnceLock;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    Directive, DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType,
    Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, Variables};
use async_graphql_value::ConstValue;

use super::*;
use crate::auth::CurrentUser;
use crate::graphql::schema::{
    args, defs,
    entity_def::{EntityDef, RelDef},
    scalars,
};
use crate::service::read::{
    collection,
    selection::{self, ColumnKind, Item, Join, Page, RowShape},
};

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
        if depth > crate::graphql::execution::guard::MAX_NESTING {
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
                        let kind = (table.column)(f.name)?;
                        Out::Cell {
                            key,
                            index: row.column(f.name),
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
pub(super) fn format(base: &str, kind: ColumnKind) -> Option<Format> {
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
        ColumnKind::Text if !scalar => {
            Format::Enum(crate::graphql::schema::enums::values_of(base)?)
        }
        ColumnKind::Text => Format::Text(check),
        ColumnKind::Date if matches!(base, "Date" | "String") => Format::Date,
        ColumnKind::DateTimeUtc if matches!(base, "Datetime" | "String") => Format::Datetime,
        _ => return None,
    })
}
