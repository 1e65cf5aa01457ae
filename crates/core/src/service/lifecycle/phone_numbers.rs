//! Phone numbers of contacts (Sonar's `PhoneNumber`): given with a new account's primary
//! contact (`createAccount`'s `primary_contact.phone_numbers`), listed on the contact and in
//! the root `phone_numbers` collection.
//!
//! `number` keeps the digits only (so that `general_search` finds `5551234567` however it was
//! written); `number_formatted` is how people write it: `(AAA) BBB-CCCC` for a 10-digit number
//! in the US or Canada (an 11-digit one starting with 1 drops the 1), else the digits as they
//! are. `country` defaults to the account's company's country. fathom has no phone number
//! types: `phone_number_type_id` is recorded as given.

use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use crate::entity::phone_number;
use crate::error::{AppError, AppResult};
use crate::service::base::store::Stamped;
use crate::service::base::{audit, clock::now, values::optional_text, values::Id};

crate::input! {
    /// One phone number of a new contact.
    pub struct CreatePhoneNumber as "CreatePhoneNumberMutationInput" {
        phone_number_type_id: Option<Id> => "Int64Bit", "Recorded as given; fathom has no phone number types.";
        country: Option<String> => "Country", "Defaults to the account's company's country.";
        number: Option<String> => "String", "Required; digits, with any spaces, dashes, dots or brackets (3 to 20 digits).";
        extension: Option<String> => "String";
    }
}

/// The digits of `number`, when it is a phone number: 3 to 20 digits, and nothing but
/// digits, spaces, `+`, `-`, `.`, `(`, `)`.
pub fn digits(number: &str) -> Option<String> {
    if !number
        .chars()
        .all(|c| c.is_ascii_digit() || " +-.()".contains(c))
    {
        return None;
    }
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    (3..=20).contains(&digits.len()).then_some(digits)
}

/// How people write `digits` in `country`.
pub fn formatted(country: &str, digits: &str) -> String {
    let national = match (country, digits.len()) {
        ("US" | "CA", 11) if digits.starts_with('1') => &digits[1..],
        ("US" | "CA", 10) => digits,
        _ => return digits.to_owned(),
    };
    format!(
        "({}) {}-{}",
        &national[..3],
        &national[3..6],
        &national[6..]
    )
}

/// Writes `numbers` for contact `contact_id`, each with its audit row; `field` names the
/// input they came in (for errors).
pub async fn insert_all<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    contact_id: i64,
    numbers: Vec<CreatePhoneNumber>,
    default_country: &str,
    field: &str,
) -> AppResult<Vec<phone_number::Model>> {
    let mut written = Vec::with_capacity(numbers.len());
    for (n, given) in numbers.into_iter().enumerate() {
        let here = |name: &str| format!("{field}.{n}.{name}");
        let digits = given.number.as_deref().and_then(digits).ok_or_else(|| {
            AppError::validation(
                here("number"),
                "a phone number is 3 to 20 digits (spaces, dashes, dots and brackets allowed)",
            )
        })?;
        let country = given.country.unwrap_or_else(|| default_country.to_owned());
        let at = now();
        let model = phone_number::ActiveModel {
            contact_id: Set(contact_id),
            phone_number_type_id: Set(given.phone_number_type_id.map(|Id(id)| id)),
            number_formatted: Set(formatted(&country, &digits)),
            country: Set(country),
            number: Set(digits),
            extension: Set(optional_text(
                &here("extension"),
                given.extension.as_deref(),
            )?),
            ..Default::default()
        }
        .stamped(at)
        .insert(db)
        .await?;
        audit::created(db, model.id, user_id, &model).await?;
        written.push(model);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_digits_and_are_written_as_people_write_them() {
        assert_eq!(digits("(920) 569-7500").as_deref(), Some("9205697500"));
        assert_eq!(digits("+1 920.569.7500").as_deref(), Some("19205697500"));
        assert_eq!(digits("12"), None);
        assert_eq!(digits("call me"), None);
        assert_eq!(digits("555-CALL"), None);
        assert_eq!(formatted("US", "9205697500"), "(920) 569-7500");
        assert_eq!(formatted("CA", "16135550100"), "(613) 555-0100");
        assert_eq!(formatted("GB", "442079460000"), "442079460000");
        assert_eq!(formatted("US", "5551234"), "5551234");
    }
}
