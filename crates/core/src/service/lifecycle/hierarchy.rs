//! Parent and child accounts: one parent, no self-link, no cycles; a child leaves its parent
//! only when it can receive its own invoices.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Set};

use crate::entity::{account, address, contact};
use crate::error::{AppError, AppResult};
use crate::service::{
    base::{
        account_guard::{changeable, lock},
        audit,
        store::{begin_write, find, save},
        values,
    },
    lifecycle::addresses,
};

crate::input! {
    /// Input of `linkAccounts`: the account that becomes a child of the one linked.
    pub struct LinkAccounts as "LinkAccountsMutationInput" {
        child_account_id: values::Id => "Int64Bit!";
    }
}

/// Makes `child_id` a child of `parent_id`: no self-link, one parent, no cycles.
pub async fn link(
    db: &DatabaseConnection,
    user_id: i64,
    parent_id: i64,
    child_id: i64,
) -> AppResult<account::Model> {
    if parent_id == child_id {
        return Err(AppError::validation(
            "child_account_id",
            "an account cannot be its own parent",
        ));
    }
    let txn = begin_write(db).await?;
    // Take both rows, lower id first, so that link(a, b) and link(b, a) at once serialize and
    // the second sees the cycle.
    if child_id < parent_id {
        let _ = lock(&txn, child_id).await;
    }
    let parent = changeable(&txn, parent_id).await?;
    let child = lock(&txn, child_id).await.map_err(|_| {
        AppError::validation(
            "child_account_id",
            format!("account {child_id} does not exist"),
        )
    })?;
    if child.archived_at.is_some() {
        return Err(AppError::AccountArchived(format!(
            "account {child_id} is archived"
        )));
    }
    match child.parent_account_id {
        Some(p) if p == parent_id => return Ok(parent),
        Some(p) => {
            return Err(AppError::Conflict(format!(
                "account {child_id} already has parent {p}; unlink it first"
            )))
        }
        None => {}
    }
    // Walk up from the parent: meeting the child would close a cycle.
    let mut cursor = parent.parent_account_id;
    let mut steps = 0;
    while let Some(ancestor) = cursor {
        if ancestor == child_id {
            return Err(AppError::validation(
                "child_account_id",
                format!(
                    "account {child_id} is an ancestor of {parent_id}; linking would make a cycle"
                ),
            ));
        }
        steps += 1;
        if steps > 10_000 {
            return Err(AppError::internal("account hierarchy too deep"));
        }
        cursor = find::<account::Entity, _>(&txn, ancestor)
            .await?
            .parent_account_id;
    }
    let mut am: account::ActiveModel = child.clone().into();
    am.parent_account_id = Set(Some(parent_id));
    let new_child = save(&txn, child_id, child.version, am).await?;
    audit::record(
        &txn,
        audit::LogType::Attached,
        child_id,
        Some(user_id),
        Some(&child),
        Some(&new_child),
        format!("account {child_id} linked to parent {parent_id}"),
    )
    .await?;
    txn.commit().await?;
    Ok(parent)
}

/// Detaches a child from its parent. The child must be able to receive its own invoices: a
/// contact with an email address, or a mailing address; else `NO_BILLING_CONTACT`.
pub async fn unlink(
    db: &DatabaseConnection,
    user_id: i64,
    child_id: i64,
) -> AppResult<account::Model> {
    let txn = begin_write(db).await?;
    let child = changeable(&txn, child_id).await?;
    let Some(parent_id) = child.parent_account_id else {
        return Err(AppError::validation(
            "id",
            format!("account {child_id} has no parent"),
        ));
    };
    let with_email = contact::Entity::find()
        .filter(contact::Column::ContactableType.eq("Account"))
        .filter(contact::Column::ContactableId.eq(child_id))
        .filter(contact::Column::EmailAddress.is_not_null())
        .count(&txn)
        .await?;
    let mailing = address::Entity::find()
        .filter(address::Column::AddressableId.eq(child_id))
        .filter(address::Column::Type.eq(addresses::MAILING))
        .count(&txn)
        .await?;
    if with_email == 0 && mailing == 0 {
        return Err(AppError::NoBillingContact(format!(
            "account {child_id} needs a contact with an email address or a mailing address to receive its own invoices"
        )));
    }
    let mut am: account::ActiveModel = child.clone().into();
    am.parent_account_id = Set(None);
    let new = save(&txn, child_id, child.version, am).await?;
    audit::record(
        &txn,
        audit::LogType::Detached,
        child_id,
        Some(user_id),
        Some(&child),
        Some(&new),
        format!("account {child_id} unlinked from parent {parent_id}"),
    )
    .await?;
    txn.commit().await?;
    Ok(new)
}
