//! Enum types: Sonar's (generated from `sonar-enums.json` into [`crate::sonar_enums`]) and the
//! few fathom adds.

use async_graphql::dynamic::{Enum, EnumItem};

use crate::auth::Permission;
use crate::sonar_enums::{sonar_values, SONAR_ENUMS};

/// An enum: `(name, description, [(value, meaning)])`.
type EnumDef = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// fathom's own enums, and Sonar's that `sonar-reference.md` lists without `sonar-enums.json`
/// holding their values.
const FATHOM_ENUMS: &[EnumDef] = &[
    (
        "PaymentType",
        "Sonar's PaymentType values: how a payment was made.",
        &[
            ("CREDITCARD", "By credit card (not taken by fathom)"),
            ("BANKACCOUNT", "From a bank account (not taken by fathom)"),
            ("CASH", "In cash"),
            ("WIRE", "By wire transfer"),
            ("CHECK", "By check"),
            ("OTHER", "Another way"),
            ("PAYPAL", "By PayPal"),
        ],
    ),
    (
        "NonPaymentMethodPaymentType",
        "Sonar's NonPaymentMethodPaymentType values: the ways to pay that need no stored payment method (what createPayment takes).",
        &[
            ("CASH", "In cash"),
            ("WIRE", "By wire transfer"),
            ("CHECK", "By check"),
            ("OTHER", "Another way"),
            ("PAYPAL", "By PayPal"),
        ],
    ),
    (
        "PaymentStatus",
        "Sonar's PaymentStatus values. Payments fathom records are SUCCEEDED.",
        &[
            ("PENDING", "Not settled yet"),
            ("FAILED", "Refused"),
            ("SUCCEEDED", "Taken"),
        ],
    ),
    (
        "ScheduledEventStatus",
        "fathom extension: where a scheduled event is in its life.",
        &[
            ("PENDING", "Waiting for its datetime"),
            ("COMPLETED", "Carried out"),
            ("FAILED", "Refused when it ran; see result_message"),
            ("CANCELLED", "Will not run; see result_message"),
        ],
    ),
    (
        "ProrationSource",
        "fathom extension: what decided whether a disconnection prorated.",
        &[
            ("INPUT", "The call's own prorate argument"),
            (
                "BILLING_SETTINGS",
                "The global billing setting prorate_account_status_change",
            ),
        ],
    ),
];

/// The values of enum `name` (`None` for `Permission`, whose values are not a table).
pub fn values_of(name: &str) -> Option<&'static [(&'static str, &'static str)]> {
    sonar_values(name).or_else(|| {
        FATHOM_ENUMS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, values)| *values)
    })
}

pub fn is_value_of(name: &str, value: &str) -> bool {
    sonar_values(name).is_some_and(|values| values.iter().any(|(v, _)| *v == value))
        || FATHOM_ENUMS
            .iter()
            .any(|(n, _, values)| *n == name && values.iter().any(|(v, _)| *v == value))
}

pub fn enums() -> Vec<Enum> {
    let mut out = Vec::new();
    for (name, values) in SONAR_ENUMS {
        let items = values
            .iter()
            .map(|(v, meaning)| EnumItem::new(*v).description(*meaning));
        out.push(
            Enum::new(*name)
                .description(format!("Sonar's {name} values."))
                .items(items),
        );
    }
    for (name, description, values) in FATHOM_ENUMS {
        let items = values
            .iter()
            .map(|(v, meaning)| EnumItem::new(*v).description(*meaning));
        out.push(Enum::new(*name).description(*description).items(items));
    }
    out.push(permission_enum());
    out
}

/// `Permission` (what `Role.applied_permissions` lists), from [`Permission::ALL`].
fn permission_enum() -> Enum {
    Enum::new("Permission")
        .description(
            "What a role allows. fathom has its own, coarser set of permissions than Sonar, so \
             these values are fathom's.",
        )
        .items(
            Permission::ALL
                .iter()
                .map(|p| EnumItem::new(p.name()).description(p.description())),
        )
}
