//! Mutation inputs, each described once. [`input!`](crate::input) declares the struct a
//! service function takes and, from the same list, the GraphQL input type clients send: its
//! name, and each field's name, GraphQL type and description. The server builds its input
//! types from [`crate::service::inputs::INPUT_TYPES`] and deserializes arguments only into [`Input`] types, so
//! a field cannot be described for clients without reaching the service, nor the other way
//! round. Unknown fields are refused (`deny_unknown_fields`); fields Sonar has that fathom
//! does not use are declared as [`Ignored`], accepted and dropped.

use serde::de::DeserializeOwned;

/// The description of a field accepted for compatibility and not used.
pub const UNUSED: &str = "Accepted for compatibility; fathom does not use it.";

/// A field fathom accepts for compatibility with Sonar's scripts and does not use.
pub type Ignored = Option<serde::de::IgnoredAny>;

/// One field of an input type.
#[derive(Debug, Clone, Copy)]
pub struct InputField {
    pub name: &'static str,
    /// The GraphQL type, e.g. `Int64Bit!` or `[WebhookEndpointModelEventInput]`.
    pub graphql_type: &'static str,
    /// Empty for self-explanatory fields.
    pub description: &'static str,
}

/// An input type: its GraphQL name and fields, and a check that a JSON value deserializes
/// into its struct.
#[derive(Clone, Copy)]
pub struct InputType {
    pub name: &'static str,
    pub fields: &'static [InputField],
    pub accepts: fn(serde_json::Value) -> Result<(), String>,
}

impl InputType {
    pub fn field(&self, name: &str) -> Option<&InputField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A struct declared with [`input!`](crate::input).
pub trait Input: DeserializeOwned {
    const TYPE: InputType;
}

/// Whether `value` deserializes into `T` ([`InputType::accepts`]).
pub fn accepts<T: DeserializeOwned>(value: serde_json::Value) -> Result<(), String> {
    serde_json::from_value::<T>(value)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Declares a mutation input:
///
/// ```text
/// input! {
///     /// Input of `createAccountStatus`.
///     pub struct CreateAccountStatus as "CreateAccountStatusMutationInput" {
///         name: String => "String!";
///         r#type as "type": Option<String> => "AccountTypeEnum", "What it is.";
///     }
/// }
/// ```
///
/// Each field: its name (with `as "…"` when the Rust name differs), its Rust type, its
/// GraphQL type and, optionally, a description.
#[macro_export]
macro_rules! input {
    (
        $(#[$meta:meta])*
        pub struct $name:ident as $graphql:literal {
            $($field:ident $(as $rename:literal)? : $ty:ty => $graphql_type:literal $(, $description:expr)?;)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[serde(rename = $rename)])? pub $field: $ty,)*
        }

        impl $crate::service::base::input::Input for $name {
            const TYPE: $crate::service::base::input::InputType = $crate::service::base::input::InputType {
                name: $graphql,
                fields: &[$($crate::service::base::input::InputField {
                    name: $crate::input!(@name $field $($rename)?),
                    graphql_type: $graphql_type,
                    description: $crate::input!(@description $($description)?),
                }),*],
                accepts: $crate::service::base::input::accepts::<$name>,
            };
        }
    };
    (@name $field:ident) => { stringify!($field) };
    (@name $field:ident $rename:literal) => { $rename };
    (@description) => { "" };
    (@description $description:expr) => { $description };
}

#[cfg(test)]
mod tests {
    use crate::service::inputs::INPUT_TYPES;

    fn sorted(mut names: Vec<&str>) -> Vec<&str> {
        names.sort_unstable();
        names
    }

    /// What clients are told an input holds is exactly what its struct reads: serde's list of
    /// the struct's fields (from refusing an unknown one) equals the described fields.
    #[test]
    fn every_described_field_reaches_the_service_and_nothing_else_is_read() {
        for input in INPUT_TYPES {
            let err = (input.accepts)(serde_json::json!({"\u{1}probe": 1})).unwrap_err();
            assert!(err.starts_with("unknown field"), "{}: {err}", input.name);
            let read: Vec<&str> = err
                .split_once("expected")
                .map(|(_, list)| list.split('`').skip(1).step_by(2).collect())
                .unwrap_or_default();
            let described: Vec<&str> = input.fields.iter().map(|f| f.name).collect();
            assert_eq!(sorted(read), sorted(described), "{}: {err}", input.name);
        }
    }

    /// Input types are named once, and every input type a field refers to is one of them.
    #[test]
    fn input_types_are_unique_and_nested_ones_are_known() {
        let names: Vec<&str> = INPUT_TYPES.iter().map(|t| t.name).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        for input in INPUT_TYPES {
            for field in input.fields {
                let base = field
                    .graphql_type
                    .trim_matches(|c| c == '[' || c == ']' || c == '!');
                if base.ends_with("Input") {
                    assert!(
                        names.contains(&base),
                        "{}.{}: {base}",
                        input.name,
                        field.name
                    );
                }
            }
        }
    }
}
