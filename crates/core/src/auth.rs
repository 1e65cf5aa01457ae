//! Personal access tokens, the calling user, and permissions (DESIGN §3).
//!
//! A token is `fathom_` + 32 random base62 characters + a 6-character base62 checksum of
//! them, so a malformed or mistyped token is refused before any database read. Only the
//! SHA-256 hash of a token is stored.

use rand::Rng;
use sha2::{Digest, Sha256};

const PREFIX: &str = "fathom_";
const BODY_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A token whose form and checksum are valid (it may still be unknown or revoked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedToken(String);

impl CheckedToken {
    /// Generates a new random token.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let body: String = (0..BODY_LEN)
            .map(|_| BASE62[rng.random_range(0..62)] as char)
            .collect();
        let token = format!("{PREFIX}{body}{}", checksum(&body));
        CheckedToken(token)
    }

    /// Parses a token, refusing anything that is not of fathom's form or fails its checksum.
    pub fn parse(raw: &str) -> Option<Self> {
        let rest = raw.strip_prefix(PREFIX)?;
        if rest.len() != BODY_LEN + CHECKSUM_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return None;
        }
        let (body, sum) = rest.split_at(BODY_LEN);
        (checksum(body) == sum).then(|| CheckedToken(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SHA-256 hash (hex) that is stored in place of the token.
    pub fn hash(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn checksum(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let mut n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) as u64;
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).expect("base62 is ascii")
}

/// Extracts the token from an `Authorization: Bearer …` header value.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// What a role may do. The names are what a `FORBIDDEN` error reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    AccountsRead,
    AccountsWrite,
    AccountsDisconnect,
    BillingRead,
    BillingWrite,
    ScheduledEventsWrite,
    SettingsWrite,
    ReportsRead,
    UsersManage,
    WebhooksManage,
}

impl Permission {
    pub const ALL: [Permission; 10] = [
        Permission::AccountsRead,
        Permission::AccountsWrite,
        Permission::AccountsDisconnect,
        Permission::BillingRead,
        Permission::BillingWrite,
        Permission::ScheduledEventsWrite,
        Permission::SettingsWrite,
        Permission::ReportsRead,
        Permission::UsersManage,
        Permission::WebhooksManage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Permission::AccountsRead => "ACCOUNTS_READ",
            Permission::AccountsWrite => "ACCOUNTS_WRITE",
            Permission::AccountsDisconnect => "ACCOUNTS_DISCONNECT",
            Permission::BillingRead => "BILLING_READ",
            Permission::BillingWrite => "BILLING_WRITE",
            Permission::ScheduledEventsWrite => "SCHEDULED_EVENTS_WRITE",
            Permission::SettingsWrite => "SETTINGS_WRITE",
            Permission::ReportsRead => "REPORTS_READ",
            Permission::UsersManage => "USERS_MANAGE",
            Permission::WebhooksManage => "WEBHOOKS_MANAGE",
        }
    }

    /// What the permission allows, for the schema's `Permission` enum.
    pub fn description(self) -> &'static str {
        match self {
            Permission::AccountsRead => {
                "Read accounts, their contacts, addresses, events and logs, users and roles"
            }
            Permission::AccountsWrite => {
                "Create and change accounts, contacts and serviceable addresses"
            }
            Permission::AccountsDisconnect => "Disconnect accounts",
            Permission::BillingRead => {
                "Read services, account services, debits, discounts and invoices"
            }
            Permission::BillingWrite => "Create services, charges, credits and invoices",
            Permission::ScheduledEventsWrite => "Schedule, change and delete scheduled events",
            Permission::SettingsWrite => {
                "Change system and billing settings, account statuses and account types"
            }
            Permission::ReportsRead => "Read the activations and disconnections report",
            Permission::UsersManage => "Create and change users, and delete other users' tokens",
            Permission::WebhooksManage => {
                "Create, change, test and read webhook endpoints, their subscriptions, dispatches and attempts"
            }
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Permission::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn is_read(self) -> bool {
        self.name().ends_with("_READ")
    }
}

/// The built-in roles: `(name, permissions)`.
pub fn builtin_roles() -> Vec<(&'static str, Vec<Permission>)> {
    let all = Permission::ALL.to_vec();
    let billing = all
        .iter()
        .copied()
        .filter(|p| !matches!(p, Permission::UsersManage | Permission::SettingsWrite))
        .collect();
    let read_only = all.iter().copied().filter(|p| p.is_read()).collect();
    vec![
        ("Administrator", all),
        ("Billing", billing),
        ("Read Only", read_only),
    ]
}

pub fn encode_permissions(perms: &[Permission]) -> String {
    perms.iter().map(|p| p.name()).collect::<Vec<_>>().join(",")
}

pub fn decode_permissions(text: &str) -> Vec<Permission> {
    text.split(',')
        .filter_map(|s| Permission::from_name(s.trim()))
        .collect()
}

/// The authenticated caller of a request.
/// Authentications answered recently, by token hash, with the stamp of what each depends on
/// (`service::access::tokens::stamp_subquery`). A compiled read uses a cached one and checks its stamp
/// in its own statement, so that it needs no statement to authenticate, yet a revoked token,
/// a disabled user or a changed role is refused on its next request on every server: a stale
/// stamp sends the request back through a full authentication. Anything else (mutations, the
/// general resolvers) authenticates in full first. Entries are trusted for at most [`TTL`]
/// (which also keeps `last_used_at` within a couple of minutes); at most [`MAX_ENTRIES`] are
/// kept (all are dropped when full).
pub struct TokenCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, CachedAuth>>,
}

/// How long a cached authentication may be used (with its stamp checked).
pub const TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// How many tokens the cache holds.
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone)]
pub struct CachedAuth {
    pub user: CurrentUser,
    pub stamp: String,
    at: std::time::Instant,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache {
            entries: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, CachedAuth>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, hash: &str) -> Option<CachedAuth> {
        let entries = self.lock();
        entries.get(hash).filter(|c| c.at.elapsed() < TTL).cloned()
    }

    pub fn put(&self, hash: String, user: CurrentUser, stamp: String) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            hash,
            CachedAuth {
                user,
                stamp,
                at: std::time::Instant::now(),
            },
        );
    }

    pub fn forget(&self, hash: &str) {
        self.lock().remove(hash);
    }
}

#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user_id: i64,
    pub token_id: i64,
    pub permissions: Vec<Permission>,
}

impl CurrentUser {
    pub fn require(&self, permission: Permission) -> Result<(), crate::error::AppError> {
        if self.permissions.contains(&permission) {
            Ok(())
        } else {
            Err(crate::error::AppError::Forbidden(permission.name()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_parses_and_has_the_documented_shape() {
        let token = CheckedToken::generate();
        assert!(token.as_str().starts_with("fathom_"));
        assert_eq!(token.as_str().len(), 7 + 32 + 6);
        assert_eq!(CheckedToken::parse(token.as_str()), Some(token));
    }

    #[test]
    fn a_token_with_one_character_changed_fails_its_checksum() {
        let token = CheckedToken::generate().as_str().to_owned();
        let mut bytes = token.into_bytes();
        bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
        assert_eq!(
            CheckedToken::parse(&String::from_utf8(bytes).unwrap()),
            None
        );
    }

    #[test]
    fn tokens_of_another_form_are_refused() {
        for raw in [
            "",
            "fathom_",
            "abc",
            "fathom_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
            "Bearer x",
        ] {
            assert_eq!(CheckedToken::parse(raw), None, "{raw}");
        }
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn the_billing_role_has_all_but_users_and_settings_and_read_only_cannot_write() {
        let roles = builtin_roles();
        assert_eq!(roles[0].1.len(), 10);
        assert!(!roles[1].1.contains(&Permission::UsersManage));
        assert!(!roles[1].1.contains(&Permission::SettingsWrite));
        assert_eq!(roles[1].1.len(), 8, "Billing: all but two (DESIGN §3)");
        assert!(roles[2].1.iter().all(|p| p.is_read()));
        assert_eq!(
            decode_permissions(&encode_permissions(&roles[1].1)),
            roles[1].1
        );
    }
}
