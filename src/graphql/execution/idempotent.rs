//! Mutation fields under an `Idempotency-Key` ([`crate::service::base::idempotency`]): every
//! mutation resolver runs through [`field`]. Without a key it only runs the resolver. With
//! one, the field's transaction records it under the key; and when an earlier attempt with
//! the key already committed this field (it stopped before answering), the field is not
//! carried out again but answered from the record it returned, read now: the record its audit
//! row named, else the `id` argument. A delete answers its `SuccessResponse` again.
//! `createPayments` (a list of results, not a record) is not answered again: a replay is a
//! `CONFLICT` that says to read the payments.

use std::future::Future;

use async_graphql::dynamic::{FieldValue, ResolverContext};
use sea_orm::Condition;

use crate::error::AppError;
use crate::graphql::{
    execution::resolver::{db, SuccessResponse},
    schema::{defs, inputs::id_arg},
};
use crate::service::{
    base::idempotency::{self, bare_type, Done, FieldStart},
    read::collection::{Clause, CollectionArgs, FilterValue, Op},
};

/// Runs the mutation field `run`, which returns a `returns` (its GraphQL type).
pub async fn field<'v, F>(
    ctx: &ResolverContext<'_>,
    returns: &'static str,
    run: F,
) -> Result<Option<FieldValue<'v>>, AppError>
where
    F: Future<Output = Result<Option<FieldValue<'v>>, AppError>>,
{
    match idempotency::begin_field(returns) {
        FieldStart::Unkeyed => run.await,
        FieldStart::Run => {
            let result = run.await;
            idempotency::end_field();
            result
        }
        FieldStart::Done(done) => answer_again(ctx, returns, done).await,
    }
}

fn not_recorded() -> AppError {
    AppError::Conflict(
        "this mutation was carried out by an earlier request with this Idempotency-Key, which \
         stopped before answering, and what it returned was not recorded; read the record to \
         see the result"
            .into(),
    )
}

async fn answer_again<'v>(
    ctx: &ResolverContext<'_>,
    returns: &'static str,
    done: Done,
) -> Result<Option<FieldValue<'v>>, AppError> {
    let bare = bare_type(returns);
    // The record the audit log named (a reversal, for `reversePayment(id: <payment>)`), else
    // the `id` argument.
    let id = match (done.result_id, ctx.args.get("id")) {
        (Some(id), _) => Some(id),
        (None, Some(_)) => Some(id_arg(ctx)?),
        (None, None) => None,
    };
    let record_type = match bare {
        "SuccessResponse" | "TransactionInterface" => done.result_type,
        other => Some(other.to_owned()),
    };
    let (Some(record_type), Some(id)) = (record_type, id) else {
        return Err(not_recorded());
    };
    if bare == "SuccessResponse" {
        return Ok(Some(FieldValue::owned_any(SuccessResponse {
            success: true,
            message: Some(format!("{} {id} deleted", words(&record_type))),
        })));
    }
    let def = defs::all()
        .into_iter()
        .find(|def| def.name == record_type)
        .ok_or_else(not_recorded)?;
    let args = CollectionArgs {
        equals: vec![Clause {
            column: "id",
            op: Op::Eq,
            value: Some(FilterValue::Int(id)),
        }],
        records_per_page: 1,
        ..CollectionArgs::default()
    };
    let page = def.ops.list(db(ctx), &args, Condition::all(), None).await?;
    let row = page
        .items
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found(&record_type, id))?;
    let value = FieldValue::owned_any(row);
    if returns.starts_with('[') {
        Ok(Some(FieldValue::list([value.with_type(record_type)])))
    } else {
        Ok(Some(value))
    }
}

/// `ScheduledEvent` → `scheduled event`, as delete messages name records.
fn words(type_name: &str) -> String {
    let mut out = String::with_capacity(type_name.len() + 4);
    for (i, c) in type_name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_type_name_reads_as_the_words_of_a_delete_message() {
        assert_eq!(super::words("ScheduledEvent"), "scheduled event");
        assert_eq!(super::words("PersonalAccessToken"), "personal access token");
        assert_eq!(super::words("Address"), "address");
    }
}
