//! GraphQL's rule for a field that failed (specification, "Handling Field Errors"): its
//! value is `null` and its error carries its `path`; a `null` in a non-null position makes
//! the nearest nullable ancestor `null` instead, up to all of `data`.
//!
//! async-graphql's dynamic schema leaves a failed field out of its object, and its error
//! without a path. [`crate::graphql::execution::resolver::field`] reports every resolver error itself, with its path and
//! location, and leaves a marker error ([`crate::graphql::execution::resolver::FIELD_FAILED`]) for async-graphql; once the
//! request has run, [`apply`] removes the markers and writes the `null`s, finding the type of
//! each position on an error's path from the document and the schema. A field put back as
//! `null` comes after the fields that were answered in its object (JSON objects are
//! unordered; clients read fields by name).

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet, Type,
};
use async_graphql::{Name, PathSegment, Response, Value};

use crate::graphql::execution::{
    guard::{named, Guard},
    resolver::FIELD_FAILED,
};

/// Puts the `null`s that the errors of `response` call for, and drops the markers.
pub fn apply(guard: &Guard, query: &str, operation_name: Option<&str>, response: &mut Response) {
    if response.errors.is_empty() {
        return;
    }
    response.errors.retain(|e| e.message != FIELD_FAILED);
    let paths: Vec<&Vec<PathSegment>> = response
        .errors
        .iter()
        .filter(|e| !e.path.is_empty())
        .map(|e| &e.path)
        .collect();
    if paths.is_empty() {
        return;
    }
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return;
    };
    let Some((root, set)) = operation(&document, operation_name) else {
        return;
    };
    let mut data = std::mem::take(&mut response.data);
    for path in paths {
        match nearest_nullable(guard, &document, root, set, path) {
            Some(Some(len)) => set_null(&mut data, &path[..len]),
            Some(None) => {
                data = Value::Null;
                break;
            }
            // A position the document does not explain: leave the data as it is.
            None => {}
        }
    }
    response.data = data;
}

fn operation<'d>(
    document: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<(&'static str, &'d SelectionSet)> {
    let op = match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => &op.node,
        (DocumentOperations::Multiple(ops), Some(name)) => &ops.get(name)?.node,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => &ops.values().next()?.node,
        _ => return None,
    };
    let root = match op.ty {
        OperationType::Query => "Query",
        OperationType::Mutation => "Mutation",
        OperationType::Subscription => return None,
    };
    Some((root, &op.selection_set.node))
}

/// The length of the path prefix that must become `null` for an error at `path`:
/// `Some(None)` when no position on it is nullable (then `data` is `null`), `None` when the
/// path cannot be followed through the document.
fn nearest_nullable(
    guard: &Guard,
    document: &ExecutableDocument,
    root: &str,
    set: &SelectionSet,
    path: &[PathSegment],
) -> Option<Option<usize>> {
    let typename = Type::new("String!").expect("a type");
    let mut on = root.to_owned();
    let mut sets = vec![set];
    let mut current: Option<Type> = None;
    let mut nullable = Vec::with_capacity(path.len());
    for segment in path {
        match segment {
            PathSegment::Field(key) => {
                let mut found = Vec::new();
                for set in &sets {
                    collect(document, set, key, &on, &mut found, 0);
                }
                let (name, owner) = found
                    .first()
                    .map(|(f, o)| (f.name.node.as_str(), o.clone()))?;
                let ty = if name == "__typename" {
                    typename.clone()
                } else {
                    guard
                        .field_type(&owner, name)
                        .or_else(|| guard.field_type(&on, name))?
                        .clone()
                };
                nullable.push(ty.nullable);
                on = named(&ty).to_owned();
                sets = found.iter().map(|(f, _)| &f.selection_set.node).collect();
                current = Some(ty);
            }
            PathSegment::Index(_) => {
                let BaseType::List(inner) = &current.as_ref()?.base else {
                    return None;
                };
                let inner = (**inner).clone();
                nullable.push(inner.nullable);
                current = Some(inner);
            }
        }
    }
    Some(nullable.iter().rposition(|n| *n).map(|i| i + 1))
}

/// The fields of `set` (through its fragments) answering under `key`, each with the type it
/// is selected on.
fn collect<'d>(
    document: &'d ExecutableDocument,
    set: &'d SelectionSet,
    key: &str,
    on: &str,
    out: &mut Vec<(&'d async_graphql::parser::types::Field, String)>,
    depth: usize,
) {
    // Fragment cycles are refused before execution; this only bounds the walk.
    if depth > crate::graphql::execution::guard::MAX_NESTING {
        return;
    }
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                if field.node.response_key().node.as_str() == key {
                    out.push((&field.node, on.to_owned()));
                }
            }
            Selection::InlineFragment(inline) => {
                let inline = &inline.node;
                let on = inline
                    .type_condition
                    .as_ref()
                    .map(|c| c.node.on.node.as_str())
                    .unwrap_or(on);
                collect(
                    document,
                    &inline.selection_set.node,
                    key,
                    on,
                    out,
                    depth + 1,
                );
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    let fragment = &fragment.node;
                    collect(
                        document,
                        &fragment.selection_set.node,
                        key,
                        fragment.type_condition.node.on.node.as_str(),
                        out,
                        depth + 1,
                    );
                }
            }
        }
    }
}

/// Sets the position at `path` in `data` to `null`, unless an ancestor already is.
fn set_null(data: &mut Value, path: &[PathSegment]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    if parents.is_empty() && matches!(data, Value::Null) {
        // Every root field failed: async-graphql answered `data: null`.
        *data = Value::Object(Default::default());
    }
    let mut at = data;
    for segment in parents {
        at = match (at, segment) {
            (Value::Object(map), PathSegment::Field(key)) => match map.get_mut(key.as_str()) {
                Some(next) => next,
                None => return,
            },
            (Value::List(items), PathSegment::Index(i)) => match items.get_mut(*i) {
                Some(next) => next,
                None => return,
            },
            _ => return,
        };
    }
    match (at, last) {
        (Value::Object(map), PathSegment::Field(key)) => {
            map.insert(Name::new(key), Value::Null);
        }
        (Value::List(items), PathSegment::Index(i)) => {
            if let Some(item) = items.get_mut(*i) {
                *item = Value::Null;
            }
        }
        _ => {}
    }
}
