//! Input-coercion errors in fathom's own words. async-graphql refuses an argument or a
//! variable whose value does not fit its type during validation, with a message such as
//! `Invalid value for argument "input.primary_contact.email_address", expected type
//! "EmailAddress"`. [`explain`] reads such a message and gives the path of the offending
//! input (for `extensions.field`) and a message that says what was expected.

use crate::graphql::schema::scalars;

/// The input path and a plain message for a coercion error, when `message` is one.
pub fn explain(message: &str) -> Option<(String, String)> {
    if let Some(rest) = message.strip_prefix("Invalid value for argument \"") {
        let (path, reason) = rest.split_once("\", ")?;
        return Some(argument(path, reason));
    }
    if let Some(rest) = message.strip_prefix("Field \"") {
        // Field "f" argument "a" of type "Parent" is required but not provided
        let (field, rest) = rest.split_once("\" argument \"")?;
        let (argument, _) = rest.split_once("\" of type \"")?;
        return Some((
            argument.to_owned(),
            format!("{argument} is required (an argument of {field}) but was not given"),
        ));
    }
    if let Some(rest) = message.strip_prefix("Variable \"$") {
        let (name, _) = rest.split_once('"')?;
        return Some((name.to_owned(), message.to_owned()));
    }
    None
}

fn argument(path: &str, reason: &str) -> (String, String) {
    if let Some(ty) = quoted_after(reason, "expected type \"") {
        return (
            path.to_owned(),
            format!("{path}: expected {}", expected(ty)),
        );
    }
    if let Some(rest) = reason.strip_prefix("field \"") {
        if let Some((field, rest)) = rest.split_once("\" of type \"") {
            let ty = rest.split('"').next().unwrap_or("");
            let full = format!("{path}.{field}");
            if rest.contains("is required but not provided") {
                return (
                    full.clone(),
                    format!("{full} is required ({ty}) but was not given"),
                );
            }
        }
    }
    if let Some(rest) = reason.strip_prefix("unknown field \"") {
        if let Some((field, rest)) = rest.split_once("\" of type \"") {
            let ty = rest.split('"').next().unwrap_or("");
            let full = format!("{path}.{field}");
            return (
                full.clone(),
                format!("{full}: {ty} has no field named {field}"),
            );
        }
    }
    if let Some(rest) = reason.strip_prefix("enumeration type \"") {
        if let Some((ty, rest)) = rest.split_once("\" does not contain the value \"") {
            let value = rest.trim_end_matches('"');
            return (
                path.to_owned(),
                format!("{path}: {value} is not a value of the enum {ty}"),
            );
        }
    }
    (path.to_owned(), format!("{path}: {reason}"))
}

fn quoted_after<'m>(text: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = text.strip_prefix(prefix)?;
    rest.split('"').next()
}

/// What a value of the named input type must look like.
fn expected(ty: &str) -> String {
    let what = match ty {
        "Int" => Some("a whole number from -2147483648 to 2147483647"),
        "Float" => Some("a number"),
        "String" => Some("a string"),
        "Boolean" => Some("true or false"),
        "ID" => Some("a string or an integer"),
        other => scalars::describe(other),
    };
    match what {
        Some(what) => format!("{ty}, {}", lowercase_first(what.trim_end_matches('.'))),
        None => ty.to_owned(),
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::explain;

    #[test]
    fn a_bad_scalar_names_its_path_and_what_was_expected() {
        let (field, message) = explain(
            "Invalid value for argument \"input.primary_contact.email_address\", expected type \"EmailAddress\"",
        )
        .unwrap();
        assert_eq!(field, "input.primary_contact.email_address");
        assert_eq!(
            message,
            "input.primary_contact.email_address: expected EmailAddress, an email address such as name@example.com"
        );
    }

    #[test]
    fn a_missing_input_field_is_named_in_full() {
        let (field, message) = explain(
            "Invalid value for argument \"input\", field \"name\" of type \"String!\" is required but not provided",
        )
        .unwrap();
        assert_eq!(field, "input.name");
        assert_eq!(
            message,
            "input.name is required (String!) but was not given"
        );
    }

    #[test]
    fn a_missing_argument_and_a_variable_are_named() {
        let (field, message) = explain(
            "Field \"disconnectAccount\" argument \"id\" of type \"Mutation\" is required but not provided",
        )
        .unwrap();
        assert_eq!(field, "id");
        assert_eq!(
            message,
            "id is required (an argument of disconnectAccount) but was not given"
        );
        let (field, _) = explain(
            "Variable \"$id\" of type \"String\" used in position expecting type \"Int64Bit!\"",
        )
        .unwrap();
        assert_eq!(field, "id");
        assert!(explain("Unknown field \"x\" on type \"Query\".").is_none());
    }
}
