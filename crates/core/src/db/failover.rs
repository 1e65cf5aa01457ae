//! A PostgreSQL `DATABASE_URL` naming several hosts, in libpq's form:
//! `postgres://user@10.0.0.1:5432,10.0.0.2:5432/fathom?target_session_attrs=read-write`.
//!
//! sqlx (fathom's driver) connects to one host and knows no `target_session_attrs`, so fathom
//! does what libpq would: it connects to the first host, in the order given, that answers and
//! (with `target_session_attrs=read-write`, the default here, since fathom writes) is not a
//! standby (`pg_is_in_recovery()`). Every new connection of the pool checks it again, so a
//! demoted or read-only host is never written to. When the host goes away (a failover: the
//! primary killed, a standby promoted), a watcher finds the host that now accepts writes and
//! points the pool's future connections at it ([`sea_orm::sqlx::Pool::set_connect_options`]);
//! connections to the old host fail their check before use and are replaced. The watcher looks
//! when a statement found the database unavailable ([`suspect`], called by
//! [`crate::error::AppError`]'s conversion) and every [`LOOK_EVERY`] anyway.
//!
//! Promoting a standby is not fathom's job: pg_auto_failover or Patroni does it (README,
//! "Running on more than one machine"). fathom only follows.

use std::sync::OnceLock;
use std::time::Duration;

use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection, PgPool};
use sea_orm::sqlx::{ConnectOptions, Connection, Row};
use sea_orm::DbErr;
use tokio::sync::Notify;

/// How often the watcher looks at the host it writes to even when nothing failed.
pub const LOOK_EVERY: Duration = Duration::from_secs(5);

/// How soon the watcher looks again while no host accepts writes.
const RETRY_LOST: Duration = Duration::from_millis(500);

/// How long one host may take to answer the watcher's look.
const LOOK_TIMEOUT: Duration = Duration::from_secs(2);

/// The hosts of a multi-host URL, in order, and the URL for each one alone.
#[derive(Debug, Clone)]
pub struct Hosts {
    /// `(host, port)`, in the order given.
    pub hosts: Vec<(String, u16)>,
    /// Whether only a host that accepts writes will do (`target_session_attrs=read-write`, or
    /// none given); `any` takes the first host that answers.
    pub read_write: bool,
    /// The URL with the first host alone and `target_session_attrs` removed.
    pub single: String,
}

/// `Some` when `url` is a PostgreSQL URL with more than one host, or with
/// `target_session_attrs`; an error when it names an unknown `target_session_attrs`.
pub fn parse(url: &str) -> Result<Option<Hosts>, DbErr> {
    let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    else {
        return Ok(None);
    };
    let scheme = &url[..url.len() - rest.len()];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, host_list) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    let mut attrs = None;
    let kept: Vec<&str> = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|pair| match pair.split_once('=') {
            Some(("target_session_attrs", value)) => {
                attrs = Some(value.to_owned());
                false
            }
            _ => !pair.is_empty(),
        })
        .collect();
    let read_write = match attrs.as_deref() {
        None | Some("read-write") | Some("primary") => true,
        Some("any") => false,
        Some(other) => {
            return Err(DbErr::Custom(format!(
                "DATABASE_URL: target_session_attrs={other} is not supported (read-write, primary or any)"
            )))
        }
    };
    if !host_list.contains(',') && attrs.is_none() {
        return Ok(None);
    }
    let mut hosts = Vec::new();
    for entry in host_list.split(',') {
        let (host, port) = match entry.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || entry.starts_with('[') => {
                let port = port.parse::<u16>().map_err(|_| {
                    DbErr::Custom(format!("DATABASE_URL: {entry} has no valid port"))
                })?;
                (host, port)
            }
            _ => (entry, 5432),
        };
        if host.is_empty() {
            return Err(DbErr::Custom("DATABASE_URL: an empty host".into()));
        }
        hosts.push((host.to_owned(), port));
    }
    let query = match kept.is_empty() {
        true => String::new(),
        false => format!("?{}", kept.join("&")),
    };
    let (first, port) = &hosts[0];
    Ok(Some(Hosts {
        single: format!("{scheme}{userinfo}{first}:{port}{path}{query}"),
        hosts,
        read_write,
    }))
}

/// The watchers' shared bell: rung when a statement found the database unavailable.
fn bell() -> &'static Notify {
    static BELL: OnceLock<Notify> = OnceLock::new();
    BELL.get_or_init(Notify::new)
}

/// A statement found the database unavailable: every watcher looks at its host now.
pub fn suspect() {
    bell().notify_waiters();
}

/// Whether a connection may be used: with `read_write`, it must not be a standby.
pub async fn acceptable(
    conn: &mut PgConnection,
    read_write: bool,
) -> Result<(), sea_orm::sqlx::Error> {
    if !read_write {
        return Ok(());
    }
    let standby: bool = sea_orm::sqlx::query("SELECT pg_is_in_recovery()")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    match standby {
        true => {
            suspect();
            Err(sea_orm::sqlx::Error::Protocol(
                "the host is a standby and cannot take writes".into(),
            ))
        }
        false => Ok(()),
    }
}

/// Whether `options` reach a host that answers and (with `read_write`) accepts writes.
async fn usable(options: &PgConnectOptions, read_write: bool) -> bool {
    let look = async {
        let mut conn = options.connect().await.ok()?;
        let ok = acceptable(&mut conn, read_write).await.is_ok();
        let _ = conn.close().await;
        Some(ok)
    };
    matches!(
        tokio::time::timeout(LOOK_TIMEOUT, look).await,
        Ok(Some(true))
    )
}

/// The first host, in the order given, that answers and accepts writes, looked at with
/// `options` (the pool's, so with its user, database and settings).
pub async fn find(hosts: &Hosts, options: &PgConnectOptions) -> Option<usize> {
    for (i, (host, port)) in hosts.hosts.iter().enumerate() {
        if usable(&options.clone().host(host).port(*port), hosts.read_write).await {
            return Some(i);
        }
    }
    None
}

/// Follows the hosts for `pool` as long as the pool is open: looks at the current host when
/// [`suspect`] rings or every [`LOOK_EVERY`], and when it no longer accepts writes, points the
/// pool at the first host that does.
pub fn watch(pool: PgPool, hosts: Hosts, mut current: usize) {
    tokio::spawn(async move {
        // While no host accepts writes, look again soon rather than at the next bell.
        let mut lost = false;
        loop {
            let wait = if lost { Duration::ZERO } else { LOOK_EVERY };
            tokio::select! {
                _ = bell().notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            if pool.is_closed() {
                return;
            }
            let options = (*pool.connect_options()).clone();
            let usable_now = usable(&options, hosts.read_write).await;
            // Every request that finds the database away rings the bell: look at most twice a
            // second, however many ring.
            tokio::time::sleep(RETRY_LOST).await;
            if usable_now {
                lost = false;
                continue;
            }
            let Some(found) = find(&hosts, &options).await else {
                if !lost {
                    tracing::warn!("no host of DATABASE_URL accepts writes: looking again");
                }
                lost = true;
                continue;
            };
            lost = false;
            if found != current {
                let (host, port) = &hosts.hosts[found];
                tracing::warn!(%host, port, "the database moved: writing to {host}:{port} now");
                pool.set_connect_options(options.host(host).port(*port));
                current = found;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_of_several_hosts_is_split_in_order_with_the_first_alone_for_the_driver() {
        let hosts = parse("postgres://fathom:pw@db1:5433,db2/billing?sslmode=disable&target_session_attrs=read-write&application_name=x")
            .unwrap()
            .unwrap();
        assert_eq!(
            hosts.hosts,
            vec![("db1".to_owned(), 5433), ("db2".to_owned(), 5432)]
        );
        assert!(hosts.read_write);
        assert_eq!(
            hosts.single,
            "postgres://fathom:pw@db1:5433/billing?sslmode=disable&application_name=x"
        );
        let any = parse("postgresql://a,b:6000/db?target_session_attrs=any")
            .unwrap()
            .unwrap();
        assert!(!any.read_write);
        assert_eq!(any.single, "postgresql://a:5432/db");
    }

    #[test]
    fn a_url_of_one_host_is_left_to_the_driver_and_bad_attributes_are_refused() {
        assert!(parse("postgres://u@h:5432/db?sslmode=require")
            .unwrap()
            .is_none());
        assert!(parse("sqlite://fathom.db?mode=rwc").unwrap().is_none());
        assert!(parse("postgres://u@h1,h2/db?target_session_attrs=standby").is_err());
        assert!(parse("postgres://u@h1:x,h2/db").is_err());
        // One host with the attribute: still checked to accept writes.
        let one = parse("postgres://u@h/db?target_session_attrs=read-write")
            .unwrap()
            .unwrap();
        assert_eq!(one.hosts, vec![("h".to_owned(), 5432)]);
    }
}
