//! Mutation input types, with Sonar's names and fields: built from the service layer's own
//! input structs ([`crate::service::inputs::INPUT_TYPES`], declared once with `fathom_core::input!`),
//! and deserialized only into them.

use async_graphql::dynamic::{InputObject, InputValue, ResolverContext};

use crate::error::AppError;
use crate::graphql::schema::objects::type_ref;
use crate::service::base::input::{Input, InputType};

/// Every mutation input type of the schema.
pub fn input_types() -> Vec<InputObject> {
    crate::service::inputs::INPUT_TYPES
        .iter()
        .map(|input| {
            input
                .fields
                .iter()
                .fold(InputObject::new(input.name), |obj, field| {
                    let mut value = InputValue::new(field.name, type_ref(field.graphql_type));
                    if !field.description.is_empty() {
                        value = value.description(field.description);
                    }
                    obj.field(value)
                })
        })
        .collect()
}

/// The first field of `value` (a JSON object sent as `input`) that `input` does not have,
/// looking into nested input objects too: its path below `input`.
fn unknown_field(value: &serde_json::Value, input: &InputType) -> Option<String> {
    let object = value.as_object()?;
    for (name, value) in object {
        let Some(field) = input.field(name) else {
            return Some(name.clone());
        };
        let nested = field
            .graphql_type
            .trim_matches(|c| c == '[' || c == ']' || c == '!');
        let Some(nested) = crate::service::inputs::INPUT_TYPES
            .iter()
            .find(|t| t.name == nested)
        else {
            continue;
        };
        let items: Vec<&serde_json::Value> = match value {
            serde_json::Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for item in items {
            if let Some(path) = unknown_field(item, nested) {
                return Some(format!("{name}.{path}"));
            }
        }
    }
    None
}

/// The argument `name` deserialized into `T`; a missing or null input is `VALIDATION_FAILED`.
/// A field the input type does not have is `VALIDATION_FAILED` naming it (`input.bogus`).
pub fn input<T: Input>(ctx: &ResolverContext<'_>, name: &str) -> Result<T, AppError> {
    let value = ctx
        .args
        .get(name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| AppError::validation(name, format!("{name} is required")))?;
    let json = value
        .as_value()
        .clone()
        .into_json()
        .map_err(|_| AppError::validation(name, "not valid JSON"))?;
    if let Some(path) = unknown_field(&json, &T::TYPE) {
        return Err(AppError::validation(
            format!("{name}.{path}"),
            format!("{path} is not a field of {}", T::TYPE.name),
        ));
    }
    serde_json::from_value(json).map_err(|e| AppError::validation(name, e.to_string()))
}

/// The argument `name` deserialized into `T`, or `T::default()` when absent.
pub fn optional_input<T: Input + Default>(
    ctx: &ResolverContext<'_>,
    name: &str,
) -> Result<T, AppError> {
    match ctx.args.get(name).filter(|v| !v.is_null()) {
        None => Ok(T::default()),
        Some(_) => input(ctx, name),
    }
}

/// The `id` argument.
pub fn id_arg(ctx: &ResolverContext<'_>) -> Result<i64, AppError> {
    ctx.args
        .get("id")
        .and_then(|v| crate::graphql::schema::scalars::parse_i64(v.as_value()))
        .ok_or_else(|| AppError::validation("id", "id is required"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::lifecycle::accounts::CreateAccount;
    use serde_json::json;

    /// The resolvers' own check, behind GraphQL's validation: the path of the first field the
    /// input type does not have, nested inputs included.
    #[test]
    fn an_unknown_field_is_found_with_its_path() {
        let ok = json!({"name": "A", "primary_contact": {"name": "B", "phone_numbers": [{"number": "1"}]}});
        assert_eq!(unknown_field(&ok, &CreateAccount::TYPE), None);
        let top = json!({"name": "A", "bogus": 1});
        assert_eq!(
            unknown_field(&top, &CreateAccount::TYPE).as_deref(),
            Some("bogus")
        );
        let nested = json!({"primary_contact": {"name": "B", "phone_numbers": [{"number": "1", "bogus": 2}]}});
        assert_eq!(
            unknown_field(&nested, &CreateAccount::TYPE).as_deref(),
            Some("primary_contact.phone_numbers.bogus")
        );
    }
}
