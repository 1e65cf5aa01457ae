//! The complexity limit. Every selected field costs 1; a field that returns a page costs
//! `records_per_page` × the cost of what is selected inside it, so nested pages multiply. A
//! 10,000-row page of scalar fields with to-one relations passes the default limit; a page of
//! pages of pages does not. A collection filtered by `id` counts as one row.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, ServerError, ServerResult, Value, Variables};

use crate::service::collection::{DEFAULT_RECORDS_PER_PAGE, MAX_RECORDS_PER_PAGE};

pub struct ComplexityLimit {
    limit: usize,
}

impl ComplexityLimit {
    pub fn new(limit: usize) -> Self {
        ComplexityLimit { limit }
    }
}

impl ExtensionFactory for ComplexityLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ComplexityLimit { limit: self.limit })
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ComplexityLimit {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let cost = document_cost(&doc, variables);
        if cost > self.limit as u128 {
            let mut err = ServerError::new(
                format!(
                    "the query is too complex: cost {cost}, limit {} (smaller pages help)",
                    self.limit
                ),
                None,
            );
            let mut ext = async_graphql::ErrorExtensionValues::default();
            ext.set("code", "QUERY_TOO_COMPLEX");
            err.extensions = Some(ext);
            return Err(err);
        }
        Ok(doc)
    }
}

/// The cost of the costliest operation of `doc`.
pub fn document_cost(doc: &ExecutableDocument, variables: &Variables) -> u128 {
    doc.operations
        .iter()
        .map(|(_, op)| {
            set_cost(
                doc,
                &op.node.selection_set.node,
                variables,
                &mut HashSet::new(),
            )
        })
        .max()
        .unwrap_or(0)
}

fn set_cost(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    vars: &Variables,
    seen: &mut HashSet<Name>,
) -> u128 {
    let mut total: u128 = 0;
    for selection in &set.items {
        let cost = match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                let children = set_cost(doc, &field.selection_set.node, vars, seen);
                match page_size(doc, field, vars) {
                    Some(per_page) => per_page.saturating_mul(children.max(1)).saturating_add(1),
                    None => children.saturating_add(1),
                }
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                // A fragment that spreads itself is refused by validation; never recurse twice.
                if !seen.insert(name.clone()) {
                    0
                } else {
                    let cost = doc
                        .fragments
                        .get(name)
                        .map(|f| set_cost(doc, &f.node.selection_set.node, vars, seen))
                        .unwrap_or(0);
                    seen.remove(name);
                    cost
                }
            }
            Selection::InlineFragment(inline) => {
                set_cost(doc, &inline.node.selection_set.node, vars, seen)
            }
        };
        total = total.saturating_add(cost);
    }
    total
}

/// Whether `set` selects `entities` (directly or through fragments): the mark of a page.
fn selects_entities(doc: &ExecutableDocument, set: &SelectionSet, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    set.items.iter().any(|s| match &s.node {
        Selection::Field(f) => f.node.name.node == "entities",
        Selection::InlineFragment(inline) => {
            selects_entities(doc, &inline.node.selection_set.node, depth + 1)
        }
        Selection::FragmentSpread(spread) => doc
            .fragments
            .get(&spread.node.fragment_name.node)
            .is_some_and(|f| selects_entities(doc, &f.node.selection_set.node, depth + 1)),
    })
}

/// The page size a field asks for, if it is a page (it has a selection with `entities`).
fn page_size(
    doc: &ExecutableDocument,
    field: &async_graphql::parser::types::Field,
    vars: &Variables,
) -> Option<u128> {
    if !selects_entities(doc, &field.selection_set.node, 0) {
        return None;
    }
    // Filtering by id returns one row at most, whatever the page size.
    // (A variable is resolved first: `id: $id` with `$id` null filters nothing.)
    let id_given = field.arguments.iter().any(|(name, value)| {
        name.node == "id"
            && value
                .node
                .clone()
                .into_const_with(|var| vars.get(&var).cloned().ok_or(()))
                .is_ok_and(|v| v != Value::Null)
    });
    if id_given {
        return Some(1);
    }
    let paginator = field
        .arguments
        .iter()
        .find(|(name, _)| name.node == "paginator")
        .map(|(_, v)| &v.node);
    let per_page = paginator
        .and_then(|v| {
            v.clone()
                .into_const_with(|name| vars.get(&name).cloned().ok_or(()))
                .ok()
        })
        .and_then(|v| match v {
            Value::Object(map) => map.get("records_per_page").and_then(|n| match n {
                Value::Number(n) => n.as_u64(),
                _ => None,
            }),
            _ => None,
        })
        .unwrap_or(DEFAULT_RECORDS_PER_PAGE)
        .clamp(1, MAX_RECORDS_PER_PAGE);
    Some(per_page as u128)
}
