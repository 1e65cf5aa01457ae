//! The cost and depth of an operation, computed before anything executes.
//!
//! Every selected field costs 1; a field that returns a page (it selects `entities`) costs
//! `records_per_page` × the cost of what is selected inside it, so nested pages multiply; a
//! collection filtered by `id` counts as one row. A root field of a mutation costs
//! [`MUTATION_FIELD_COST`] plus its selection, so one operation cannot carry an unbounded
//! number of writes. A 10,000-row page of scalar fields with to-one relations passes the
//! default limit; a page of pages of pages does not.
//!
//! The computation is linear in the document: each fragment is measured once and its
//! measure reused at every spread (a fragment's cost does not depend on where it is spread),
//! so fragments that spread each other twice over can describe an exponential query without
//! costing exponential time to refuse.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    ExecutableDocument, Field, OperationDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::Variables;
use async_graphql_value::{ConstValue, Value};

use crate::service::read::collection::{DEFAULT_RECORDS_PER_PAGE, MAX_RECORDS_PER_PAGE};

/// What one root field of a mutation costs besides its selection: a write, with its audit row
/// and transaction, weighs about as much as a page of ten thousand cells. With the default
/// limit of 1,000,000, one operation holds at most 99 mutation fields.
pub const MUTATION_FIELD_COST: u128 = 10_000;

/// The measure of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measure {
    pub cost: u128,
    /// Nesting of fields, fragments seen through (`{ a { b } }` is 2).
    pub depth: usize,
    /// Fields selected at the root, fragments seen through (each mutation field is one write).
    pub root_fields: usize,
}

/// The measure of `operation` in `doc`.
pub fn measure(
    doc: &ExecutableDocument,
    operation: &OperationDefinition,
    variables: &Variables,
) -> Measure {
    let mut walker = Walker {
        doc,
        variables,
        fragments: HashMap::new(),
        visiting: HashSet::new(),
    };
    let info = walker.set(&operation.selection_set.node);
    let cost = if operation.ty == OperationType::Mutation {
        info.cost
            .saturating_add((info.fields as u128).saturating_mul(MUTATION_FIELD_COST - 1))
    } else {
        info.cost
    };
    Measure {
        cost,
        depth: info.depth,
        root_fields: info.fields,
    }
}

/// What is known of a selection set.
#[derive(Debug, Clone, Copy, Default)]
struct Info {
    cost: u128,
    depth: usize,
    /// Fields at its top level (through fragments).
    fields: usize,
    /// Whether its top level selects `entities`: the mark of a page.
    entities: bool,
}

struct Walker<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    fragments: HashMap<&'a str, Info>,
    /// Fragments being measured: a cycle counts as nothing (validation refuses it later).
    visiting: HashSet<&'a str>,
}

impl<'a> Walker<'a> {
    fn set(&mut self, set: &'a SelectionSet) -> Info {
        let mut out = Info::default();
        for selection in &set.items {
            let info = match &selection.node {
                Selection::Field(field) => self.field(&field.node),
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str())
                }
                Selection::InlineFragment(inline) => self.set(&inline.node.selection_set.node),
            };
            out.cost = out.cost.saturating_add(info.cost);
            out.depth = out.depth.max(info.depth);
            out.fields = out.fields.saturating_add(info.fields);
            out.entities |= info.entities;
        }
        out
    }

    fn field(&mut self, field: &'a Field) -> Info {
        let children = self.set(&field.selection_set.node);
        let cost = if children.entities {
            page_size(field, self.variables)
                .saturating_mul(children.cost.max(1))
                .saturating_add(1)
        } else {
            children.cost.saturating_add(1)
        };
        Info {
            cost,
            depth: children.depth + 1,
            fields: 1,
            entities: field.name.node == "entities",
        }
    }

    fn fragment(&mut self, name: &'a str) -> Info {
        if let Some(info) = self.fragments.get(name) {
            return *info;
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            return Info::default();
        };
        if !self.visiting.insert(name) {
            return Info::default();
        }
        let info = self.set(&fragment.node.selection_set.node);
        self.visiting.remove(name);
        self.fragments.insert(name, info);
        info
    }
}

/// The rows a page field asks for: 1 when filtered by `id`, else `records_per_page` (its
/// default when absent), within the allowed range. Variables are read in place, never copied.
fn page_size(field: &Field, variables: &Variables) -> u128 {
    let argument = |name: &str| {
        field
            .arguments
            .iter()
            .find(|(n, _)| n.node == name)
            .map(|(_, v)| &v.node)
    };
    let id_given = match argument("id") {
        None | Some(Value::Null) => false,
        Some(Value::Variable(var)) => variables
            .get(var)
            .is_some_and(|v| !matches!(v, ConstValue::Null)),
        Some(_) => true,
    };
    if id_given {
        return 1;
    }
    let per_page = match argument("paginator") {
        Some(Value::Object(map)) => match map.get("records_per_page") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::Variable(var)) => match variables.get(var) {
                Some(ConstValue::Number(n)) => n.as_u64(),
                _ => None,
            },
            _ => None,
        },
        Some(Value::Variable(var)) => match variables.get(var) {
            Some(ConstValue::Object(map)) => match map.get("records_per_page") {
                Some(ConstValue::Number(n)) => n.as_u64(),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    per_page
        .unwrap_or(DEFAULT_RECORDS_PER_PAGE)
        .clamp(1, MAX_RECORDS_PER_PAGE) as u128
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;
    use async_graphql::parser::types::DocumentOperations;

    fn measure_of(query: &str) -> Measure {
        let doc = parse_query(query).unwrap();
        let op = match &doc.operations {
            DocumentOperations::Single(op) => op.node.clone(),
            DocumentOperations::Multiple(ops) => ops.values().next().unwrap().node.clone(),
        };
        measure(&doc, &op, &Variables::default())
    }

    #[test]
    fn a_page_costs_its_rows_times_its_selection() {
        let m = measure_of(
            "{ accounts(paginator: {page: 1, records_per_page: 50}) { entities { id name } } }",
        );
        // entities (1 + 2 fields) × 50 rows + the accounts field itself.
        assert_eq!(m.cost, 50 * 3 + 1);
        assert_eq!(m.depth, 3);
    }

    #[test]
    fn a_fragment_is_measured_as_if_written_out() {
        let inline = measure_of("{ accounts { entities { id name } } }");
        let spread = measure_of(
            "{ accounts { ...page } } fragment page on AccountConnection { entities { id name } }",
        );
        assert_eq!(inline, spread);
    }

    #[test]
    fn fragments_that_double_each_level_are_measured_in_linear_time() {
        // 60 levels, each spreading the previous one twice: 2^60 fields written out.
        let mut query = String::from("{ me { ...f60 } } fragment f0 on Me { name }");
        for level in 1..=60 {
            query.push_str(&format!(
                " fragment f{level} on Me {{ ...f{prev} ...f{prev} }}",
                prev = level - 1
            ));
        }
        let started = std::time::Instant::now();
        let m = measure_of(&query);
        assert!(m.cost >= 1 << 60, "{m:?}");
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }

    #[test]
    fn each_mutation_field_weighs_a_write() {
        let m = measure_of(
            "mutation { a: deleteContact(id: 1) { success } b: deleteContact(id: 2) { success } }",
        );
        assert_eq!(m.root_fields, 2);
        assert_eq!(m.cost, 2 * (MUTATION_FIELD_COST + 1));
    }

    #[test]
    fn filtering_by_id_counts_one_row() {
        let m = measure_of(
            "{ accounts(id: 5, paginator: {page: 1, records_per_page: 10000}) { entities { id } } }",
        );
        assert_eq!(m.cost, 3);
    }
}
