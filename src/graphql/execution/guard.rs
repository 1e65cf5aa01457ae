//! What a GraphQL request must pass before async-graphql sees it, in time linear in its size.
//!
//! 1. **Nesting.** The raw text is scanned once: brackets, braces and parentheses nested more
//!    than [`MAX_NESTING`] deep are refused before the (recursive) parser runs, and so are
//!    variables nested as deep. A value nested ~1,600 levels would otherwise overflow a worker's
//!    stack and abort the process.
//! 2. **Parse, once.** The parsed document is handed to async-graphql, which does not parse it
//!    again.
//! 3. **Measure** ([`crate::graphql::execution::complexity`]): cost, depth and root fields, each fragment measured
//!    once. Depth and cost limits apply here, through fragments (async-graphql's own checks
//!    expand fragments at every spread, so they must only ever see a document already known
//!    to be small).
//! 4. **Inputs.** Every argument and variable is checked against its declared type: `Int` is
//!    32 bits, as the GraphQL specification says (`Int64Bit` carries larger numbers); no string
//!    carries a control character other than tab, line feed and carriage return (PostgreSQL
//!    cannot store NUL, and no field of fathom's needs one).

use std::collections::HashMap;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
    Selection, SelectionSet, ServiceDocument, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::Variables;
use async_graphql_value::{ConstValue, Value};

use crate::config::Limits;
use crate::error::AppError;
use crate::graphql::execution::complexity::{measure, Measure};

/// How deep brackets, braces and parentheses may nest in a query, and values in variables.
/// The introspection query GraphiQL sends nests 13 deep; a `search` argument adds 5.
pub const MAX_NESTING: usize = 64;

/// A request that passed: its document, parsed once, and what it will cost.
pub struct Checked {
    pub document: ExecutableDocument,
    /// The type of the operation that will run (`None` when the document holds several and
    /// no `operationName` picks one; async-graphql then refuses it).
    pub operation_type: Option<OperationType>,
    pub measure: Measure,
}

/// The checks, with what they need to know of the schema.
pub struct Guard {
    max_depth: usize,
    max_complexity: u128,
    max_directives: usize,
    types: HashMap<String, TypeShape>,
}

/// The argument and field types of the schema, read from its SDL.
enum TypeShape {
    /// An object or interface: per field, its arguments and the type it returns.
    Output(HashMap<String, (HashMap<String, Type>, Type)>),
    /// An input object: its fields.
    Input(HashMap<String, Type>),
}

impl Guard {
    pub fn new(sdl: &str, limits: &Limits) -> Result<Guard, String> {
        let document: ServiceDocument =
            async_graphql::parser::parse_schema(sdl).map_err(|e| e.to_string())?;
        let mut types = HashMap::new();
        for definition in document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let ty = ty.node;
            let shape = match ty.kind {
                TypeKind::Object(object) => TypeShape::Output(output_fields(object.fields)),
                TypeKind::Interface(interface) => {
                    TypeShape::Output(output_fields(interface.fields))
                }
                TypeKind::InputObject(input) => TypeShape::Input(
                    input
                        .fields
                        .into_iter()
                        .map(|f| (f.node.name.node.to_string(), f.node.ty.node))
                        .collect(),
                ),
                _ => continue,
            };
            types.insert(ty.name.node.to_string(), shape);
        }
        Ok(Guard {
            max_depth: limits.max_depth,
            max_complexity: limits.max_complexity as u128,
            max_directives: limits.max_directives,
            types,
        })
    }

    /// The type a field of an object or interface type returns, as the schema declares it.
    pub fn field_type(&self, on: &str, field: &str) -> Option<&Type> {
        match self.types.get(on) {
            Some(TypeShape::Output(fields)) => fields.get(field).map(|(_, ty)| ty),
            _ => None,
        }
    }

    /// Checks one request; the error is the one the client gets (`QUERY_TOO_COMPLEX` for a
    /// limit, `VALIDATION_FAILED` for a refused value or a document that does not parse).
    pub fn check(
        &self,
        query: &str,
        variables: &Variables,
        operation_name: Option<&str>,
    ) -> Result<Checked, AppError> {
        let nesting = text_nesting(query);
        if nesting > MAX_NESTING {
            return Err(AppError::QueryTooComplex(format!(
                "the query nests brackets {nesting} deep; at most {MAX_NESTING} are allowed"
            )));
        }
        for (name, value) in variables.iter() {
            if value_nesting(value, 1) > MAX_NESTING {
                return Err(AppError::QueryTooComplex(format!(
                    "variable {name} nests values more than {MAX_NESTING} deep"
                )));
            }
        }
        let document = async_graphql::parser::parse_query(query)
            .map_err(|e| AppError::validation("query", e.to_string()))?;
        // Fragments spreading fragments nest too, and every later check (async-graphql's
        // included) follows spreads recursively: bound the nesting they add up to first.
        let nesting = spread_nesting(&document)?;
        if nesting > MAX_NESTING {
            return Err(AppError::QueryTooComplex(format!(
                "selections and the fragments spread in them nest {nesting} deep; at most {MAX_NESTING} are allowed"
            )));
        }

        if let Some((field, count)) = most_directives(&document) {
            if count > self.max_directives {
                return Err(AppError::QueryTooComplex(format!(
                    "the field {field} carries {count} directives; at most {} are allowed",
                    self.max_directives
                )));
            }
        }

        let operations: Vec<&OperationDefinition> = match &document.operations {
            DocumentOperations::Single(op) => vec![&op.node],
            DocumentOperations::Multiple(ops) => ops.values().map(|op| &op.node).collect(),
        };
        let selected: Option<&OperationDefinition> = match (&document.operations, operation_name) {
            (DocumentOperations::Single(op), _) => Some(&op.node),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
                ops.values().next().map(|op| &op.node)
            }
            _ => None,
        };

        // Every operation is measured: the costliest one decides, whichever runs.
        let mut worst = Measure {
            cost: 0,
            depth: 0,
            root_fields: 0,
        };
        let mut chosen = None;
        for op in &operations {
            let m = measure(&document, op, variables);
            if selected.is_some_and(|s| std::ptr::eq(s, *op)) {
                chosen = Some(m);
            }
            worst.cost = worst.cost.max(m.cost);
            worst.depth = worst.depth.max(m.depth);
            worst.root_fields = worst.root_fields.max(m.root_fields);
        }
        if worst.depth > self.max_depth {
            return Err(AppError::QueryTooComplex(format!(
                "the query is nested {} fields deep; the limit is {}",
                worst.depth, self.max_depth
            )));
        }
        if worst.cost > self.max_complexity {
            return Err(AppError::QueryTooComplex(format!(
                "the query is too complex: cost {}, limit {} (smaller pages, or fewer mutations per operation, help)",
                worst.cost, self.max_complexity
            )));
        }

        for op in &operations {
            self.check_operation(op, variables)?;
        }
        for fragment in document.fragments.values() {
            let on = fragment.node.type_condition.node.on.node.as_str();
            self.check_selections(&fragment.node.selection_set.node, on)?;
        }

        Ok(Checked {
            operation_type: selected.map(|op| op.ty),
            measure: chosen.unwrap_or(worst),
            document,
        })
    }

    fn check_operation(
        &self,
        op: &OperationDefinition,
        variables: &Variables,
    ) -> Result<(), AppError> {
        for definition in &op.variable_definitions {
            let definition = &definition.node;
            let name = definition.name.node.as_str();
            let value = variables
                .get(&definition.name.node)
                .or(definition.default_value.as_ref().map(|v| &v.node));
            if let Some(value) = value {
                self.check_value(
                    &value.clone().into_value(),
                    Some(&definition.var_type.node),
                    name,
                )?;
            }
        }
        let root = match op.ty {
            OperationType::Query => "Query",
            OperationType::Mutation => "Mutation",
            OperationType::Subscription => "Subscription",
        };
        self.check_selections(&op.selection_set.node, root)
    }

    /// Checks the literal arguments of every field of `set`, a selection on `on`. Fragments
    /// are not entered here: each fragment definition is checked once, on its own.
    fn check_selections(&self, set: &SelectionSet, on: &str) -> Result<(), AppError> {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let known = match self.types.get(on) {
                        Some(TypeShape::Output(fields)) => fields.get(field.name.node.as_str()),
                        _ => None,
                    };
                    for (name, value) in &field.arguments {
                        let ty = known.and_then(|(args, _)| args.get(name.node.as_str()));
                        self.check_value(&value.node, ty, name.node.as_str())?;
                    }
                    let returns = known.map(|(_, returns)| named(returns)).unwrap_or("");
                    self.check_selections(&field.selection_set.node, returns)?;
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    let on = inline
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str())
                        .unwrap_or(on);
                    self.check_selections(&inline.selection_set.node, on)?;
                }
                Selection::FragmentSpread(_) => {}
            }
        }
        Ok(())
    }

    /// Checks `value` against `ty` (unknown when `None`: only strings are checked). Variables
    /// are skipped here: each is checked once, against its declared type.
    fn check_value(&self, value: &Value, ty: Option<&Type>, path: &str) -> Result<(), AppError> {
        match value {
            Value::String(s) => check_text(s, path),
            Value::Number(n) => {
                if ty.is_some_and(|t| named(t) == "Int") {
                    let fits = n.as_i64().is_some_and(|i| i32::try_from(i).is_ok());
                    if !fits && (n.is_i64() || n.is_u64()) {
                        return Err(AppError::validation(
                            path,
                            format!(
                                "{path} is {n}, outside the 32-bit range of Int ({} to {})",
                                i32::MIN,
                                i32::MAX
                            ),
                        ));
                    }
                }
                Ok(())
            }
            Value::List(items) => {
                let item_ty = ty.map(|t| match &t.base {
                    BaseType::List(inner) => inner.as_ref(),
                    BaseType::Named(_) => t,
                });
                for (i, item) in items.iter().enumerate() {
                    self.check_value(item, item_ty, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            Value::Object(map) => {
                let fields = ty.and_then(|t| match self.types.get(named(t)) {
                    Some(TypeShape::Input(fields)) => Some(fields),
                    _ => None,
                });
                for (key, item) in map {
                    let field_ty = fields.and_then(|f| f.get(key.as_str()));
                    self.check_value(item, field_ty, &format!("{path}.{key}"))?;
                }
                Ok(())
            }
            Value::Variable(_)
            | Value::Null
            | Value::Boolean(_)
            | Value::Enum(_)
            | Value::Binary(_) => Ok(()),
        }
    }
}

fn output_fields(
    fields: Vec<async_graphql::Positioned<async_graphql::parser::types::FieldDefinition>>,
) -> HashMap<String, (HashMap<String, Type>, Type)> {
    fields
        .into_iter()
        .map(|f| {
            let f = f.node;
            let args = f
                .arguments
                .into_iter()
                .map(|a| (a.node.name.node.to_string(), a.node.ty.node))
                .collect();
            (f.name.node.to_string(), (args, f.ty.node))
        })
        .collect()
}

/// The named type at the bottom of `ty`'s lists.
pub fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

/// What nesting a selection set holds: how deep it nests by itself, and at which level it
/// spreads which fragment.
#[derive(Default)]
struct Shape<'a> {
    own: usize,
    spreads: Vec<(usize, &'a str)>,
}

/// Walks one selection set (recursion bounded by the text nesting, already checked). A field
/// with a selection, an inline fragment and a spread each add a level, as async-graphql counts.
fn shape_of<'a>(set: &'a SelectionSet, level: usize, out: &mut Shape<'a>) {
    out.own = out.own.max(level);
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                if !field.node.selection_set.node.items.is_empty() {
                    shape_of(&field.node.selection_set.node, level + 1, out);
                }
            }
            Selection::InlineFragment(inline) => {
                shape_of(&inline.node.selection_set.node, level + 1, out)
            }
            Selection::FragmentSpread(spread) => out
                .spreads
                .push((level + 1, spread.node.fragment_name.node.as_str())),
        }
    }
}

/// The deepest nesting of any operation or fragment of `doc` with every spread written out,
/// computed without recursing through spreads (a chain of thousands of fragments must not
/// exhaust the stack here either). A fragment that spreads itself is refused.
/// The field with the most directives anywhere in the document (operations and fragment
/// definitions alike), and how many it carries.
fn most_directives(doc: &ExecutableDocument) -> Option<(String, usize)> {
    fn walk(set: &SelectionSet, best: &mut Option<(String, usize)>) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let count = field.node.directives.len();
                    if best.as_ref().is_none_or(|(_, most)| count > *most) {
                        *best = Some((field.node.name.node.to_string(), count));
                    }
                    walk(&field.node.selection_set.node, best);
                }
                Selection::InlineFragment(inline) => walk(&inline.node.selection_set.node, best),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let mut best = None;
    for (_, op) in doc.operations.iter() {
        walk(&op.node.selection_set.node, &mut best);
    }
    for fragment in doc.fragments.values() {
        walk(&fragment.node.selection_set.node, &mut best);
    }
    best
}

fn spread_nesting(doc: &ExecutableDocument) -> Result<usize, AppError> {
    let mut shapes: HashMap<&str, Shape> = HashMap::new();
    for (name, fragment) in &doc.fragments {
        let mut shape = Shape::default();
        shape_of(&fragment.node.selection_set.node, 0, &mut shape);
        shapes.insert(name.as_str(), shape);
    }
    // Longest path through the spreads, by an explicit depth-first walk.
    let mut depth: HashMap<&str, usize> = HashMap::new();
    for start in shapes.keys().copied() {
        if depth.contains_key(start) {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        let mut on_stack: std::collections::HashSet<&str> = [start].into();
        while let Some((name, next)) = stack.last().copied() {
            let shape = &shapes[name];
            match shape.spreads.get(next) {
                Some((_, target)) => {
                    stack.last_mut().expect("not empty").1 += 1;
                    if !shapes.contains_key(target) || depth.contains_key(target) {
                        continue;
                    }
                    if !on_stack.insert(target) {
                        return Err(AppError::validation(
                            "query",
                            format!("fragment {target} spreads itself"),
                        ));
                    }
                    stack.push((target, 0));
                }
                None => {
                    let deepest = shape
                        .spreads
                        .iter()
                        .map(|(level, target)| level + depth.get(target).copied().unwrap_or(0))
                        .fold(shape.own, usize::max);
                    depth.insert(name, deepest);
                    on_stack.remove(name);
                    stack.pop();
                }
            }
        }
    }
    let operations: Vec<&OperationDefinition> = match &doc.operations {
        DocumentOperations::Single(op) => vec![&op.node],
        DocumentOperations::Multiple(ops) => ops.values().map(|op| &op.node).collect(),
    };
    let mut deepest = depth.values().copied().max().unwrap_or(0);
    for op in operations {
        let mut shape = Shape::default();
        shape_of(&op.selection_set.node, 0, &mut shape);
        let op_depth = shape
            .spreads
            .iter()
            .map(|(level, target)| level + depth.get(target).copied().unwrap_or(0))
            .fold(shape.own, usize::max);
        deepest = deepest.max(op_depth);
    }
    Ok(deepest)
}

/// Tab, line feed and carriage return are text; every other control character is refused.
pub fn check_text(s: &str, path: &str) -> Result<(), AppError> {
    match s
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        None => Ok(()),
        Some(c) => Err(AppError::validation(
            path,
            format!(
                "{path} contains the control character U+{:04X}; only tab, line feed and carriage return are allowed",
                c as u32
            ),
        )),
    }
}

/// How deeply brackets nest in a GraphQL document, outside strings and comments. One pass.
pub fn text_nesting(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    // An escaped triple quote does not end a block string.
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// How deeply `value` nests, counting no further than one past [`MAX_NESTING`].
fn value_nesting(value: &ConstValue, depth: usize) -> usize {
    if depth > MAX_NESTING {
        return depth;
    }
    match value {
        ConstValue::List(items) => items
            .iter()
            .map(|v| value_nesting(v, depth + 1))
            .max()
            .unwrap_or(depth),
        ConstValue::Object(map) => map
            .values()
            .map(|v| value_nesting(v, depth + 1))
            .max()
            .unwrap_or(depth),
        _ => depth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_counts_brackets_but_not_inside_strings_or_comments() {
        assert_eq!(text_nesting("{ a { b } }"), 2);
        assert_eq!(text_nesting("{ a(x: \"[[[[{{\") }"), 2);
        assert_eq!(text_nesting("{ a # [[[[[\n }"), 1);
        assert_eq!(text_nesting("{ a(x: \"\"\" [[[ \\\"\"\" [[ \"\"\") }"), 2);
        assert_eq!(text_nesting("{ a(x: [[[1]]]) }"), 5);
    }

    fn spread_nesting_of(query: &str) -> Result<usize, AppError> {
        spread_nesting(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn spreads_add_the_nesting_of_their_fragments() {
        assert_eq!(spread_nesting_of("{ a { b } }").unwrap(), 1);
        assert_eq!(
            spread_nesting_of("{ a { ...F } } fragment F on A { b { c } }").unwrap(),
            3
        );
    }

    #[test]
    fn a_chain_of_twenty_thousand_fragments_is_measured_without_recursion() {
        let mut q = String::from("{ me { ...f0 } }");
        for i in 0..20_000 {
            q.push_str(&format!(" fragment f{i} on Me {{ ...f{} name }}", i + 1));
        }
        q.push_str(" fragment f20000 on Me { name }");
        assert!(spread_nesting_of(&q).unwrap() > 20_000);
    }

    #[test]
    fn a_fragment_cycle_is_refused() {
        assert!(spread_nesting_of(
            "{ a { ...F } } fragment F on A { ...G } fragment G on A { ...F }"
        )
        .is_err());
    }

    #[test]
    fn only_tab_newline_and_carriage_return_are_allowed_as_control_characters() {
        assert!(check_text("two\tcolumns\r\nand lines", "x").is_ok());
        assert!(check_text("nul\u{0}", "x").is_err());
        assert!(check_text("escape\u{1b}[31m", "x").is_err());
        assert!(check_text("delete\u{7f}", "x").is_err());
        assert!(check_text("ünïcödé ✓", "x").is_ok());
    }
}
