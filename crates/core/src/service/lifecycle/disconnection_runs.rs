//! Bulk disconnection runs (a fathom extension): many accounts disconnected by one request, now
//! or at a date and time, each through `disconnectAccount`'s own code
//! ([`disconnect::disconnect_in_with`]: final invoice, proration, address, logs, webhooks).
//!
//! A run's selection is a list of account ids or the `accounts` query's `search` and
//! `general_search` (archived accounts left out, as that query leaves them out), counted before
//! anything is written: empty, or more than [`MAX_ACCOUNTS`], is refused. With `company_id`,
//! every selected account must be of that company. Creating the run writes it and one pending
//! item per account in one transaction; the worker then takes pending items of due runs,
//! [`DEFAULT_BATCH`] per transaction in account id order, runs each disconnection in a
//! savepoint of that transaction and marks the item done or failed (with the error code
//! `disconnectAccount` would have answered) in the same transaction: a process killed halfway
//! loses at most its uncommitted batch, whose items stay pending for the next worker, so each
//! account is disconnected exactly once, with several servers too (on PostgreSQL each worker
//! claims different items, `FOR UPDATE SKIP LOCKED`). The run counts `done`, `failed`,
//! `cancelled` and `remaining` in the same transactions. Cancelling marks the pending items
//! cancelled; what is done stays done.
//!
//! The dry run ([`preview`]) answers for each selected account what its disconnection would do
//! now, from `disconnect_account_preview`'s code, writing nothing.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use tokio::sync::Notify;

use crate::auth::{CurrentUser, Permission};
use crate::entity::{account, disconnection_run as run, disconnection_run_item as item};
use crate::error::{AppError, AppResult};
use crate::service::base::{
    audit,
    clock::now,
    settings,
    store::{begin_write, find, Stamped},
    values::{required_text, Id},
};
use crate::service::lifecycle::disconnect::{self, DisconnectAccount, DisconnectPlan, Given, Why};
use crate::service::read::collection::{self, CollectionArgs};

/// The most accounts one run takes.
pub const MAX_ACCOUNTS: u64 = 50_000;

/// Items a worker carries out per transaction.
pub const DEFAULT_BATCH: u64 = 100;

/// A run's statuses.
pub const PENDING: &str = "PENDING";
pub const RUNNING: &str = "RUNNING";
pub const COMPLETED: &str = "COMPLETED";
pub const CANCELLED: &str = "CANCELLED";
/// An item's statuses besides `PENDING` and `CANCELLED`.
pub const DONE: &str = "DONE";
pub const FAILED: &str = "FAILED";

crate::input! {
    /// Input of `createDisconnectionRun` and of `disconnection_run_preview`.
    pub struct CreateDisconnectionRun as "CreateDisconnectionRunMutationInput" {
        name: String => "String!", "What the run is for (a closed building, a tower taken down).";
        account_ids: Option<Vec<Id>> => "[Int64Bit!]", "The accounts to disconnect; or give search or general_search instead.";
        search: Option<serde_json::Value> => "[Search]", "The accounts query's search over accounts (archived ones left out, as that query leaves them out).";
        general_search: Option<String> => "String", "The accounts query's general_search.";
        company_id: Option<Id> => "Int64Bit", "When given, every selected account must be of this company.";
        datetime: Option<String> => "Datetime", "When the disconnections take effect; must be in the future. Now when left out.";
        prorate: Option<bool> => "Boolean", "As disconnectAccount's: null inherits billing settings' prorate_account_status_change.";
        disconnection_reason_id: Option<Id> => "Int64Bit", "As disconnectAccount's.";
        comment: Option<String> => "String", "As disconnectAccount's.";
    }
}

/// What a caller selected: account ids, or the `accounts` query's search (parsed by the
/// GraphQL layer, which knows the `Account` fields).
#[derive(Debug, Clone)]
pub enum Selection {
    Ids(Vec<i64>),
    Search(CollectionArgs),
}

/// Wakes the worker when a run is created.
pub fn changed() -> &'static Notify {
    static CHANGED: std::sync::OnceLock<Notify> = std::sync::OnceLock::new();
    CHANGED.get_or_init(Notify::new)
}

/// The selected accounts' ids, in id order: counted before they are read; refused when none,
/// more than [`MAX_ACCOUNTS`], an id twice, an unknown id, or (with `company_id`) an account
/// of another company.
async fn selected<C: ConnectionTrait>(
    db: &C,
    selection: &Selection,
    company_id: Option<i64>,
) -> AppResult<Vec<i64>> {
    let too_many = |field: &str, n: u64| {
        AppError::validation(
            field,
            format!("the selection holds {n} accounts; a run takes at most {MAX_ACCOUNTS}"),
        )
    };
    match selection {
        Selection::Ids(ids) => {
            if ids.is_empty() {
                return Err(AppError::validation(
                    "account_ids",
                    "the selection is empty: name at least one account",
                ));
            }
            if ids.len() as u64 > MAX_ACCOUNTS {
                return Err(too_many("account_ids", ids.len() as u64));
            }
            let mut seen = std::collections::HashSet::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                if !seen.insert(*id) {
                    return Err(AppError::validation(
                        format!("account_ids.{i}"),
                        format!("account {id} is named twice"),
                    ));
                }
            }
            let mut found: Vec<(i64, i64)> = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(1000) {
                found.extend(
                    account::Entity::find()
                        .select_only()
                        .column(account::Column::Id)
                        .column(account::Column::CompanyId)
                        .filter(account::Column::Id.is_in(chunk.iter().copied()))
                        .into_tuple::<(i64, i64)>()
                        .all(db)
                        .await?,
                );
            }
            let companies: std::collections::HashMap<i64, i64> = found.into_iter().collect();
            for (i, id) in ids.iter().enumerate() {
                match companies.get(id) {
                    None => {
                        return Err(AppError::validation(
                            format!("account_ids.{i}"),
                            format!("account {id} does not exist"),
                        ))
                    }
                    Some(company) if company_id.is_some_and(|c| c != *company) => {
                        return Err(AppError::validation(
                            format!("account_ids.{i}"),
                            format!(
                                "account {id} is of company {company}, not of the run's company {}",
                                company_id.unwrap_or_default()
                            ),
                        ))
                    }
                    Some(_) => {}
                }
            }
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            Ok(sorted)
        }
        Selection::Search(args) => {
            if args.search.is_empty() && args.general_search.is_none() && args.equals.is_empty() {
                return Err(AppError::validation(
                    "search",
                    "the selection is empty: give account_ids, search or general_search",
                ));
            }
            let mut condition = Condition::all()
                .add(collection::condition::<account::Entity>(args)?)
                .add(collection::listed("accounts", true, false));
            if let Some(company) = company_id {
                condition = condition.add(account::Column::CompanyId.eq(company));
            }
            let n = account::Entity::find()
                .filter(condition.clone())
                .count(db)
                .await?;
            if n == 0 {
                return Err(AppError::validation(
                    "search",
                    "the search selects no account",
                ));
            }
            if n > MAX_ACCOUNTS {
                return Err(too_many("search", n));
            }
            Ok(account::Entity::find()
                .select_only()
                .column(account::Column::Id)
                .filter(condition)
                .order_by_asc(account::Column::Id)
                .into_tuple::<i64>()
                .all(db)
                .await?)
        }
    }
}

/// The input's time: now, or a future instant (`SCHEDULED_IN_PAST` otherwise).
fn when(input: &CreateDisconnectionRun) -> AppResult<DateTime<Utc>> {
    let at = now();
    let Some(text) = input.datetime.as_deref() else {
        return Ok(at);
    };
    let datetime = crate::domain::parse_datetime(text)
        .ok_or_else(|| {
            AppError::validation(
                "datetime",
                "datetime is an ISO 8601 date and time with its offset",
            )
        })?
        .trunc_subsecs(6);
    if datetime <= at {
        return Err(AppError::ScheduledInPast(format!(
            "{text} is not in the future"
        )));
    }
    Ok(datetime)
}

/// `createDisconnectionRun`: the run and one pending item per selected account, in one
/// transaction (`ACCOUNTS_DISCONNECT`). The worker carries it out from `datetime` on.
pub async fn create(
    db: &DatabaseConnection,
    caller: &CurrentUser,
    input: CreateDisconnectionRun,
    selection: Selection,
) -> AppResult<run::Model> {
    caller.require(Permission::AccountsDisconnect)?;
    let name = required_text("name", &input.name)?;
    let datetime = when(&input)?;
    let txn = begin_write(db).await?;
    let settings = settings::snapshot(&txn).await?;
    let why = Why::given(
        &settings,
        input.disconnection_reason_id.map(|i| i.0),
        input.comment.as_deref(),
    )?;
    let company_id = input.company_id.map(|i| i.0);
    if let Some(company) = company_id {
        find::<crate::entity::company::Entity, _>(&txn, company)
            .await
            .map_err(|_| {
                AppError::validation("company_id", format!("company {company} does not exist"))
            })?;
    }
    let accounts = selected(&txn, &selection, company_id).await?;
    let at = now();
    let total = accounts.len() as i32;
    let model = run::ActiveModel {
        name: Set(name),
        status: Set(PENDING.into()),
        datetime: Set(datetime),
        prorate: Set(input.prorate),
        disconnection_reason_id: Set(why.reason_id),
        comment: Set(why.comment),
        company_id: Set(company_id),
        total: Set(total),
        done: Set(0),
        failed: Set(0),
        cancelled: Set(0),
        remaining: Set(total),
        created_by_user_id: Set(caller.user_id),
        ..Default::default()
    }
    .stamped(at)
    .insert(&txn)
    .await?;
    for chunk in accounts.chunks(1000) {
        item::Entity::insert_many(chunk.iter().map(|account_id| {
            item::ActiveModel {
                disconnection_run_id: Set(model.id),
                account_id: Set(*account_id),
                status: Set(PENDING.into()),
                ..Default::default()
            }
            .stamped(at)
        }))
        .exec_without_returning(&txn)
        .await?;
    }
    audit::created(&txn, model.id, caller.user_id, &model).await?;
    txn.commit().await?;
    changed().notify_one();
    Ok(model)
}

/// What the dry run answers for one selected account.
#[derive(Debug)]
pub struct PreviewItem {
    pub account_id: i64,
    /// The plan, or why the disconnection would be refused.
    pub outcome: Result<DisconnectPlan, AppError>,
}

/// `disconnection_run_preview`: the selection checked as `createDisconnectionRun` checks it,
/// then each account's disconnection planned now by `disconnect_account_preview`'s code;
/// nothing is written.
pub async fn preview(
    db: &DatabaseConnection,
    input: CreateDisconnectionRun,
    selection: Selection,
) -> AppResult<Vec<PreviewItem>> {
    required_text("name", &input.name)?;
    when(&input)?;
    let settings = settings::snapshot(db).await?;
    Why::given(
        &settings,
        input.disconnection_reason_id.map(|i| i.0),
        input.comment.as_deref(),
    )?;
    let company_id = input.company_id.map(|i| i.0);
    let accounts = selected(db, &selection, company_id).await?;
    let mut items = Vec::with_capacity(accounts.len());
    for account_id in accounts {
        let one = DisconnectAccount {
            prorate: input.prorate,
            disconnection_reason_id: input.disconnection_reason_id,
            comment: input.comment.clone(),
        };
        let outcome = match disconnect::preview(db, account_id, one).await {
            Err(err) if err.is_server_fault() => return Err(err),
            other => other,
        };
        items.push(PreviewItem {
            account_id,
            outcome,
        });
    }
    Ok(items)
}

/// `cancelDisconnectionRun`: its pending items cancelled, the run `CANCELLED`; what is done
/// stays done. A run already completed or cancelled is `VALIDATION_FAILED` naming `id`.
pub async fn cancel(
    db: &DatabaseConnection,
    caller: &CurrentUser,
    id: i64,
) -> AppResult<run::Model> {
    caller.require(Permission::AccountsDisconnect)?;
    let txn = begin_write(db).await?;
    let old = find::<run::Entity, _>(&txn, id).await?;
    if old.status == COMPLETED || old.status == CANCELLED {
        return Err(AppError::validation(
            "id",
            format!(
                "disconnection run {id} is {}: nothing is left to cancel",
                old.status
            ),
        ));
    }
    let at = now();
    // The items first, then the run, in a worker's order (a worker holds its items and then
    // counts them on the run): items a worker holds are waited for, and stay done or failed.
    let cancelled = item::Entity::update_many()
        .col_expr(item::Column::Status, Expr::value(CANCELLED))
        .col_expr(item::Column::FinishedAt, Expr::value(at))
        .col_expr(item::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            item::Column::Version,
            Expr::col(item::Column::Version).add(1),
        )
        .filter(item::Column::DisconnectionRunId.eq(id))
        .filter(item::Column::Status.eq(PENDING))
        .exec(&txn)
        .await?
        .rows_affected as i32;
    let mut select = run::Entity::find_by_id(id);
    if db.get_database_backend() == DbBackend::Postgres {
        select = select.lock_exclusive();
    }
    let now_run = select
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("DisconnectionRun", id))?;
    if now_run.status == COMPLETED || now_run.status == CANCELLED {
        // Finished, or cancelled, while this waited.
        return Err(AppError::validation(
            "id",
            format!(
                "disconnection run {id} is {}: nothing is left to cancel",
                now_run.status
            ),
        ));
    }
    let mut am: run::ActiveModel = now_run.clone().into();
    am.status = Set(CANCELLED.into());
    am.cancelled = Set(now_run.cancelled + cancelled);
    am.remaining = Set(now_run.remaining - cancelled);
    am.finished_at = Set(Some(at));
    am.updated_at = Set(at);
    am.version = Set(now_run.version + 1);
    let new = am.update(&txn).await?;
    audit::updated(
        &txn,
        id,
        caller.user_id,
        &old,
        &new,
        "disconnection run cancelled",
    )
    .await?;
    txn.commit().await?;
    Ok(new)
}

/// What a worker did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    pub done: u64,
    pub failed: u64,
}

/// Carries out the pending items of every run due at `at`, `batch` items per transaction, until
/// none is left (or `max_batches` batches, when given: a worker that stops halfway).
pub async fn run_due(
    db: &DatabaseConnection,
    at: DateTime<Utc>,
    batch: u64,
    max_batches: Option<u64>,
) -> AppResult<RunReport> {
    let mut report = RunReport::default();
    let mut batches = 0;
    while max_batches.is_none_or(|m| batches < m) {
        batches += 1;
        let txn = begin_write(db).await?;
        let claimed = claim(&txn, at, Ord::max(batch, 1)).await?;
        if claimed.is_empty() {
            txn.rollback().await?;
            break;
        }
        let runs: std::collections::HashMap<i64, run::Model> = run::Entity::find()
            .filter(run::Column::Id.is_in(claimed.iter().map(|i| i.disconnection_run_id)))
            .all(&txn)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let mut outcomes: Vec<(i64, i64, Option<AppError>)> = Vec::with_capacity(claimed.len());
        for it in &claimed {
            let r = runs
                .get(&it.disconnection_run_id)
                .ok_or_else(|| AppError::internal("a claimed item's run is missing"))?;
            let given = Given::Checked(
                r.prorate,
                Why {
                    reason_id: r.disconnection_reason_id,
                    comment: r.comment.clone(),
                    for_non_payment: false,
                },
            );
            let savepoint = txn.begin().await?;
            // Effective at the run's datetime, as a scheduled disconnection is.
            let outcome = disconnect::disconnect_in_with(
                &savepoint,
                r.created_by_user_id,
                it.account_id,
                given,
                r.datetime,
                None,
            )
            .await;
            match outcome {
                Ok(_) => {
                    savepoint.commit().await?;
                    outcomes.push((it.id, it.disconnection_run_id, None));
                }
                // The database failing is not the account's fault: the batch is given up,
                // its items stay pending for the next try.
                Err(err) if err.is_server_fault() => {
                    savepoint.rollback().await?;
                    txn.rollback().await?;
                    return Err(err);
                }
                Err(err) => {
                    savepoint.rollback().await?;
                    outcomes.push((it.id, it.disconnection_run_id, Some(err)));
                }
            }
        }
        finish(&txn, &runs, &outcomes).await?;
        txn.commit().await?;
        for (_, _, err) in &outcomes {
            match err {
                None => report.done += 1,
                Some(_) => report.failed += 1,
            }
        }
    }
    Ok(report)
}

/// How many workers one process runs at once: on PostgreSQL four (each claims other items, so
/// the database's cores work while one worker waits on a round trip), on SQLite one (writers
/// are serialized).
pub fn workers_for(db: &DatabaseConnection) -> usize {
    if db.get_database_backend() == DbBackend::Postgres {
        4
    } else {
        1
    }
}

/// [`run_due`] by `workers` workers at once, on connections of their own; their reports added
/// up. The first error is answered once every worker has stopped (what the others did is
/// committed).
pub async fn run_due_with_workers(
    db: &DatabaseConnection,
    at: DateTime<Utc>,
    batch: u64,
    workers: usize,
) -> AppResult<RunReport> {
    let results = futures_util::future::join_all(
        (0..Ord::max(workers, 1)).map(|_| run_due(db, at, batch, None)),
    )
    .await;
    let mut total = RunReport::default();
    for result in results {
        let report = result?;
        total.done += report.done;
        total.failed += report.failed;
    }
    Ok(total)
}

/// Claims up to `limit` pending items of runs due at `at` that are not cancelled, in account id
/// order (so two workers never wait for each other in a cycle).
async fn claim<C: ConnectionTrait>(
    db: &C,
    at: DateTime<Utc>,
    limit: u64,
) -> AppResult<Vec<item::Model>> {
    let due = run::Entity::find()
        .select_only()
        .column(run::Column::Id)
        .filter(run::Column::Status.is_in([PENDING, RUNNING]))
        .filter(run::Column::Datetime.lte(at))
        .into_tuple::<i64>()
        .all(db)
        .await?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let mut select = item::Entity::find()
        .filter(item::Column::Status.eq(PENDING))
        .filter(item::Column::DisconnectionRunId.is_in(due))
        .order_by_asc(item::Column::AccountId)
        .order_by_asc(item::Column::Id)
        .limit(limit);
    if db.get_database_backend() == DbBackend::Postgres {
        select = select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Ok(select.all(db).await?)
}

/// Marks the batch's items with their outcomes and counts them on their runs; a run with no
/// pending item left is `COMPLETED`.
async fn finish<C: ConnectionTrait>(
    db: &C,
    runs: &std::collections::HashMap<i64, run::Model>,
    outcomes: &[(i64, i64, Option<AppError>)],
) -> AppResult<()> {
    let at = now();
    let done: Vec<i64> = outcomes
        .iter()
        .filter(|(_, _, e)| e.is_none())
        .map(|(id, _, _)| *id)
        .collect();
    if !done.is_empty() {
        item::Entity::update_many()
            .col_expr(item::Column::Status, Expr::value(DONE))
            .col_expr(item::Column::FinishedAt, Expr::value(at))
            .col_expr(item::Column::UpdatedAt, Expr::value(at))
            .col_expr(
                item::Column::Version,
                Expr::col(item::Column::Version).add(1),
            )
            .filter(item::Column::Id.is_in(done))
            .exec(db)
            .await?;
    }
    for (id, _, err) in outcomes {
        let Some(err) = err else { continue };
        item::Entity::update_many()
            .col_expr(item::Column::Status, Expr::value(FAILED))
            .col_expr(item::Column::ErrorCode, Expr::value(err.code()))
            .col_expr(item::Column::ErrorMessage, Expr::value(err.to_string()))
            .col_expr(item::Column::FinishedAt, Expr::value(at))
            .col_expr(item::Column::UpdatedAt, Expr::value(at))
            .col_expr(
                item::Column::Version,
                Expr::col(item::Column::Version).add(1),
            )
            .filter(item::Column::Id.eq(*id))
            .exec(db)
            .await?;
    }
    for run_id in runs.keys() {
        let ok = outcomes
            .iter()
            .filter(|(_, r, e)| r == run_id && e.is_none())
            .count() as i32;
        let failed = outcomes
            .iter()
            .filter(|(_, r, e)| r == run_id && e.is_some())
            .count() as i32;
        // The counters are exact (kept in the transactions that change the items): the run is
        // completed when this batch takes its last remaining items.
        let last = Expr::col(run::Column::Remaining).lte(ok + failed);
        run::Entity::update_many()
            .col_expr(run::Column::Done, Expr::col(run::Column::Done).add(ok))
            .col_expr(
                run::Column::Failed,
                Expr::col(run::Column::Failed).add(failed),
            )
            .col_expr(
                run::Column::Remaining,
                Expr::col(run::Column::Remaining).sub(ok + failed),
            )
            .col_expr(
                run::Column::Status,
                Expr::case(last.clone(), COMPLETED).finally(RUNNING).into(),
            )
            .col_expr(
                run::Column::FinishedAt,
                Expr::case(last, Expr::value(at))
                    .finally(Expr::col(run::Column::FinishedAt))
                    .into(),
            )
            .col_expr(
                run::Column::StartedAt,
                Func::coalesce([Expr::col(run::Column::StartedAt), Expr::value(at)]).into(),
            )
            .col_expr(run::Column::UpdatedAt, Expr::value(at))
            .col_expr(run::Column::Version, Expr::col(run::Column::Version).add(1))
            .filter(run::Column::Id.eq(*run_id))
            .exec(db)
            .await?;
    }
    Ok(())
}
