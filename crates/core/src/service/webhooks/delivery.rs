//! Delivering webhook dispatches (DESIGN §5): claimed, POSTed, signed, retried with backoff.
//!
//! A worker claims due dispatches by leasing them: one `UPDATE` moves each one's
//! `next_attempt_at` a lease ahead (PostgreSQL picks the rows `FOR UPDATE SKIP LOCKED`, so two
//! workers never claim the same one; SQLite's writers take turns), and commits. It then POSTs
//! each and records the attempt. A worker that dies mid-delivery leaves the lease to run out,
//! after which any worker delivers the dispatch again: delivery is at least once, and
//! receivers drop repeats by `X-Fathom-Webhook-Id`. Only the oldest pending dispatch of an
//! endpoint is ever claimed, so an endpoint receives its dispatches in the order of their
//! changes, one at a time (a failing dispatch holds back the later ones until it succeeds or
//! fails for good).
//!
//! Each attempt is a `webhook_endpoint_event_dispatch_attempts` row. A 2xx answer within
//! [`TIMEOUT`] is a success; anything else fails the attempt, and the dispatch is tried again
//! after a delay that doubles from the retry base (a minute) up to a day, with ±20 % jitter,
//! [`MAX_ATTEMPTS`] times in all; then it is `FAIL`. Redirects are not followed. Endpoints
//! must be `https://` and resolve to public addresses unless the [`Policy`] allows otherwise;
//! the address check is made on the addresses the connection will use (a resolver that drops
//! the refused ones), so a name cannot be re-pointed between check and connection.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::StreamExt;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Set, Statement,
    Value,
};
use sha2::{Digest, Sha256};

use crate::entity::{
    webhook_endpoint, webhook_endpoint_event_dispatch as dispatch,
    webhook_endpoint_event_dispatch_attempt as attempt,
};
use crate::error::{AppError, AppResult};
use crate::service::base::store::Stamped;
use crate::service::{
    base::{
        clock::now,
        store::{begin_write, find},
    },
    webhooks::endpoints::{abandon_pending, hex, live_endpoint, Policy},
};

/// Attempts per dispatch before it is `FAIL`.
pub const MAX_ATTEMPTS: i32 = 12;
/// How long an endpoint has to answer (connecting included).
pub const TIMEOUT: Duration = Duration::from_secs(10);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The first delay after a failed attempt; each later one doubles, up to [`MAX_DELAY`].
pub const RETRY_BASE: Duration = Duration::from_secs(60);
pub const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);
/// How long a claim holds a dispatch: three times what an attempt may take, so that only a
/// worker that died (or stalled that long) loses its claim.
pub const LEASE: Duration = Duration::from_secs(30);
/// The part of an answer's body an attempt keeps.
pub const RESPONSE_KEPT: usize = 2048;
/// Dispatches one worker delivers at once (each to another endpoint).
pub const PARALLEL: usize = 16;

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// The `X-Fathom-Signature` header of `body` sent at unix time `t`: `t=<t>,v1=<hex HMAC-SHA256
/// of "<t>.<body>" keyed with the endpoint's secret>`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mac = hmac_sha256(secret.as_bytes(), format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex(&mac))
}

/// Whether delivering to `ip` is allowed: not loopback, private, link-local (cloud metadata
/// services included), shared (carrier-grade NAT), unspecified, broadcast, multicast or
/// documentation ranges.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// A resolver that keeps only the addresses the policy allows.
struct Guarded {
    allow_private: bool,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "refused: {} resolves only to private or reserved addresses",
                    name.as_str()
                )
                .into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What delivers webhooks: the HTTP client and the rules it follows.
#[derive(Clone)]
pub struct Delivery {
    client: reqwest::Client,
    policy: Policy,
    retry_base: Duration,
}

/// The answer to one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub success: bool,
    /// The HTTP status, if the endpoint answered.
    pub status_code: Option<u16>,
    /// The first 2 KiB of the body, or why there was no answer.
    pub response: String,
}

impl Delivery {
    pub fn new(policy: Policy) -> AppResult<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .dns_resolver(Arc::new(Guarded {
                allow_private: policy.allow_private,
            }))
            .user_agent(concat!("fathom-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(AppError::internal)?;
        Ok(Delivery {
            client,
            policy,
            retry_base: RETRY_BASE,
        })
    }

    /// The same, with another first retry delay (tests use a short one).
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The delay after the `failures`-th failed attempt: the retry base doubled per earlier
    /// failure, at most a day, ±20 %.
    pub fn backoff(&self, failures: i32) -> Duration {
        use rand::Rng;
        let doubled = self
            .retry_base
            .saturating_mul(1u32 << (failures.clamp(1, 20) - 1) as u32)
            .min(MAX_DELAY);
        doubled.mul_f64(rand::rng().random_range(0.8..1.2))
    }

    /// POSTs `body` to `endpoint`, signed with `secret`, as dispatch `id`.
    pub async fn send(&self, endpoint: &str, secret: &str, id: i64, body: String) -> Answer {
        let refused = |why: String| Answer {
            success: false,
            status_code: None,
            response: why,
        };
        let url = match reqwest::Url::parse(endpoint) {
            Ok(url) => url,
            Err(_) => return refused("refused: the endpoint is not a URL".into()),
        };
        if url.scheme() != "https" && !(url.scheme() == "http" && self.policy.allow_http) {
            return refused("refused: the endpoint is not https://".into());
        }
        // A literal address never reaches the resolver: checked here.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if literal.is_some_and(|ip| !self.policy.allow_private && !is_public(ip)) {
            return refused("refused: the endpoint is a private or reserved address".into());
        }
        let t = Utc::now().timestamp();
        let signature = signature(secret, t, &body);
        let sent = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Fathom-Webhook-Id", id.to_string())
            .header("X-Fathom-Signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(mut response) => {
                let status = response.status();
                let mut kept: Vec<u8> = Vec::new();
                // Read at most what is kept, within the same overall timeout.
                while kept.len() < RESPONSE_KEPT {
                    match response.chunk().await {
                        Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                        _ => break,
                    }
                }
                kept.truncate(RESPONSE_KEPT);
                Answer {
                    success: status.is_success(),
                    status_code: Some(status.as_u16()),
                    response: String::from_utf8_lossy(&kept).into_owned(),
                }
            }
            Err(err) => refused(describe(&err)),
        }
    }
}

/// Why a POST got no answer, in a sentence (no internal detail).
fn describe(err: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(err);
    let mut refused = None;
    while let Some(e) = source {
        let text = e.to_string();
        if text.starts_with("refused:") {
            refused = Some(text);
        }
        source = e.source();
    }
    if let Some(text) = refused {
        return text;
    }
    if err.is_timeout() {
        format!("no answer within {} s", TIMEOUT.as_secs())
    } else if err.is_connect() {
        "could not connect to the endpoint".into()
    } else {
        "the request failed before an answer".into()
    }
}

fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".into(),
    }
}

/// Whether any dispatch is due at `at` (a read, so that an idle worker takes no lock).
pub async fn any_due<C: ConnectionTrait>(db: &C, at: DateTime<Utc>) -> AppResult<bool> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT 1 AS one FROM webhook_endpoint_event_dispatches \
         WHERE last_status = 'PENDING' AND next_attempt_at <= {} LIMIT 1",
        placeholder(backend, 1)
    );
    Ok(db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [at.into()]))
        .await?
        .is_some())
}

/// Claims up to `limit` due dispatches at `at`, at most one per endpoint (its oldest pending
/// one), leased until `at + lease`; one transaction.
pub async fn claim(
    db: &sea_orm::DatabaseConnection,
    at: DateTime<Utc>,
    limit: u64,
    lease: Duration,
) -> AppResult<Vec<dispatch::Model>> {
    let txn = begin_write(db).await?;
    let backend = txn.get_database_backend();
    let p = |n| placeholder(backend, n);
    let lock = if backend == DbBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let until = at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
    let sql = format!(
        "UPDATE webhook_endpoint_event_dispatches SET next_attempt_at = {}, updated_at = {}, \
         version = version + 1 \
         WHERE id IN (SELECT d.id FROM webhook_endpoint_event_dispatches d \
           WHERE d.last_status = 'PENDING' AND d.next_attempt_at <= {} \
           AND NOT EXISTS (SELECT 1 FROM webhook_endpoint_event_dispatches o \
             WHERE o.webhook_endpoint_id = d.webhook_endpoint_id AND o.last_status = 'PENDING' \
             AND o.id < d.id) \
           ORDER BY d.id LIMIT {}{lock}) \
         RETURNING *",
        p(1),
        p(2),
        p(3),
        p(4)
    );
    let values: Vec<Value> = vec![
        until.into(),
        at.into(),
        at.into(),
        (limit.min(1000) as i64).into(),
    ];
    let mut claimed =
        dispatch::Model::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
            .all(&txn)
            .await?;
    txn.commit().await?;
    claimed.sort_by_key(|d| d.id);
    Ok(claimed)
}

/// What one pass of the delivery worker did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: u64,
    pub failed_attempts: u64,
    pub given_up: u64,
}

/// Claims what is due at `at` and delivers it (up to [`PARALLEL`] at once), recording each
/// attempt.
pub async fn deliver_due(
    db: &sea_orm::DatabaseConnection,
    delivery: &Delivery,
    at: DateTime<Utc>,
    limit: u64,
) -> AppResult<DeliveryReport> {
    if !any_due(db, at).await? {
        return Ok(DeliveryReport::default());
    }
    let claimed = claim(db, at, limit, LEASE).await?;
    let outcomes: Vec<AppResult<Outcome>> = futures_util::stream::iter(claimed)
        .map(|d| deliver_one(db, delivery, d, at))
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let mut report = DeliveryReport::default();
    for outcome in outcomes {
        match outcome? {
            Outcome::Delivered => report.delivered += 1,
            Outcome::Retry => report.failed_attempts += 1,
            Outcome::GaveUp => {
                report.failed_attempts += 1;
                report.given_up += 1;
            }
            Outcome::Held => {}
        }
    }
    Ok(report)
}

enum Outcome {
    Delivered,
    Retry,
    GaveUp,
    /// Not attempted (the endpoint is disabled): tried again later.
    Held,
}

async fn deliver_one(
    db: &sea_orm::DatabaseConnection,
    delivery: &Delivery,
    claimed: dispatch::Model,
    at: DateTime<Utc>,
) -> AppResult<Outcome> {
    let endpoint = find::<webhook_endpoint::Entity, _>(db, claimed.webhook_endpoint_id).await?;
    if endpoint.deleted_at.is_some() {
        let txn = begin_write(db).await?;
        abandon_pending(&txn, endpoint.id).await?;
        txn.commit().await?;
        return Ok(Outcome::GaveUp);
    }
    if !endpoint.enabled {
        // Held, in order, until the endpoint is enabled again.
        let later = at + chrono::Duration::from_std(delivery.retry_base).unwrap_or_default();
        dispatch::Entity::update_many()
            .col_expr(dispatch::Column::NextAttemptAt, later.into())
            .filter_by_id_and_version(claimed.id, claimed.version)
            .exec(db)
            .await?;
        return Ok(Outcome::Held);
    }
    let answer = delivery
        .send(
            &endpoint.endpoint,
            &endpoint.signing_secret,
            claimed.id,
            claimed.payload.clone(),
        )
        .await;
    // The POST went out: what it answered is recorded even if the database is away for a
    // while (restarting, failing over), so that the dispatch is not sent again once it is
    // back. Tried again until the lease (from the claim, at `at`) runs out; after that
    // another worker may take the dispatch over, and this one's record only adds its attempt.
    let mut wait = Duration::from_millis(200);
    loop {
        let held = (now() - at).to_std().unwrap_or_default();
        match record(db, delivery, &claimed, &answer, at).await {
            Err(AppError::Unavailable(_)) if held + wait < LEASE => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            recorded => return recorded,
        }
    }
}

/// Filters an update to one row at the version it was read at.
trait ByIdAndVersion {
    fn filter_by_id_and_version(self, id: i64, version: i64) -> Self;
}

impl ByIdAndVersion for sea_orm::UpdateMany<dispatch::Entity> {
    fn filter_by_id_and_version(self, id: i64, version: i64) -> Self {
        use sea_orm::{ColumnTrait, QueryFilter};
        self.filter(dispatch::Column::Id.eq(id))
            .filter(dispatch::Column::Version.eq(version))
    }
}

/// Records an attempt and moves the dispatch on: delivered, retried later, or given up. The
/// dispatch is updated only if it is still as this worker claimed it (a worker whose lease
/// ran out, and whose dispatch another worker took over, only adds its attempt).
async fn record(
    db: &sea_orm::DatabaseConnection,
    delivery: &Delivery,
    claimed: &dispatch::Model,
    answer: &Answer,
    at: DateTime<Utc>,
) -> AppResult<Outcome> {
    let answered = now();
    let txn = begin_write(db).await?;
    attempt::ActiveModel {
        webhook_endpoint_event_dispatch_id: Set(claimed.id),
        status: Set(if answer.success { "SUCCESS" } else { "FAIL" }.into()),
        response_code: Set(answer.status_code.map(i32::from)),
        response: Set(Some(answer.response.clone())),
        response_at: Set(answer.status_code.map(|_| answered)),
        ..Default::default()
    }
    .stamped(answered)
    .insert(&txn)
    .await?;
    let attempts = claimed.attempts + 1;
    let (status, next, outcome) = if answer.success {
        ("SUCCESS", None, Outcome::Delivered)
    } else if attempts >= MAX_ATTEMPTS {
        ("FAIL", None, Outcome::GaveUp)
    } else {
        let delay = chrono::Duration::from_std(delivery.backoff(attempts))
            .unwrap_or(chrono::Duration::hours(24));
        ("PENDING", Some(at + delay), Outcome::Retry)
    };
    use sea_orm::sea_query::{Expr, ExprTrait};
    let mut update = dispatch::Entity::update_many()
        .col_expr(dispatch::Column::Attempts, Expr::value(attempts))
        .col_expr(dispatch::Column::LastStatus, Expr::value(status))
        .col_expr(dispatch::Column::NextAttemptAt, Expr::value(next))
        .col_expr(dispatch::Column::LastAttemptedAt, Expr::value(Some(at)))
        .col_expr(dispatch::Column::UpdatedAt, Expr::value(answered))
        .col_expr(
            dispatch::Column::Version,
            Expr::col(dispatch::Column::Version).add(1),
        );
    if answer.success {
        update = update.col_expr(dispatch::Column::SentAt, Expr::value(Some(answered)));
    }
    update
        .filter_by_id_and_version(claimed.id, claimed.version)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(outcome)
}

/// `generateTestWebhook`: POSTs a test payload to endpoint `id` now (enabled or not) and
/// answers what came back. Nothing is stored.
pub async fn send_test(
    db: &sea_orm::DatabaseConnection,
    delivery: &Delivery,
    id: i64,
) -> AppResult<Answer> {
    let endpoint = live_endpoint(db, id).await?;
    let body = serde_json::json!({
        "id": 0,
        "model": "WebhookEndpoint",
        "event": "TEST",
        "occurred_at": now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "object": endpoint,
        "changes": null,
        "test": true,
    })
    .to_string();
    Ok(delivery
        .send(&endpoint.endpoint, &endpoint.signing_secret, 0, body)
        .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let long_key = [0xaau8; 131];
        let mac = hmac_sha256(
            &long_key,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn private_and_reserved_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_a_day() {
        let d = Delivery::new(Policy::default()).unwrap();
        let first = d.backoff(1).as_secs_f64();
        assert!((48.0..=72.0).contains(&first), "{first}");
        let fifth = d.backoff(5).as_secs_f64();
        assert!((768.0..=1152.0).contains(&fifth), "{fifth}");
        assert!(d.backoff(11) <= MAX_DELAY.mul_f64(1.2));
    }
}
