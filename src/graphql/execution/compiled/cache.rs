//! Plans already made: a query that the compiled read path has answered once is answered
//! again without being parsed, checked, validated or planned a second time.
//!
//! Everything skipped depends only on what the key holds: the query's text, the operation's
//! name and the variables as sent (the guard's limits, async-graphql's validation and the
//! plan), and the caller's permissions (which relations the plan may read). An entry is made
//! only after its request passed every one of those steps and the plan answered, so a hit
//! repeats work that succeeded. Mutations are never compiled, so never cached. Who the caller
//! is and what the rows hold are read again by every request's statement.
//!
//! The cache holds at most [`CAPACITY`] plans of queries up to [`MAX_QUERY_BYTES`] long;
//! when full it starts again empty (clients send a few shapes many times, so it fills again
//! at once with the ones in use).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;

use super::Plan;
use crate::auth::{CurrentUser, Permission};

/// The most plans kept.
pub const CAPACITY: usize = 512;
/// Longer queries are planned every time (they are rare, and their keys are large).
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// What a plan was made from.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Key {
    query: String,
    operation_name: Option<String>,
    /// The variables as sent, as JSON text (before defaults are filled in).
    variables: String,
    permissions: Vec<Permission>,
}

impl Key {
    /// The key of `request` for `user`; `None` when the query is too long to keep.
    pub fn of(request: &async_graphql::Request, user: &CurrentUser) -> Option<Key> {
        if request.query.len() > MAX_QUERY_BYTES {
            return None;
        }
        let variables = if request.variables.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&request.variables).ok()?
        };
        Some(Key {
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
            variables,
            permissions: user.permissions.clone(),
        })
    }
}

/// A plan that has answered, with what a request answered by it needs besides.
pub struct Known {
    pub plan: Arc<Plan>,
    /// The operation's metrics label.
    pub label: String,
    /// The parsed document, for the general path when the plan falls back (a stored value
    /// the output types refuse).
    pub document: ExecutableDocument,
}

#[derive(Default)]
pub struct PlanCache {
    plans: Mutex<HashMap<Key, Arc<Known>>>,
}

impl PlanCache {
    pub fn get(&self, key: &Key) -> Option<Arc<Known>> {
        self.plans.lock().ok()?.get(key).cloned()
    }

    pub fn insert(&self, key: Key, known: Known) {
        if let Ok(mut plans) = self.plans.lock() {
            if plans.len() >= CAPACITY {
                plans.clear();
            }
            plans.insert(key, Arc::new(known));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Permission::{AccountsRead, BillingRead};

    fn key(query: &str, variables: serde_json::Value, permissions: Vec<Permission>) -> Option<Key> {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        let user = CurrentUser {
            user_id: 1,
            token_id: 1,
            permissions,
        };
        Key::of(&request, &user)
    }

    #[test]
    fn a_plan_is_kept_for_its_query_variables_and_permissions_alone() {
        let q = "query($id: Int64Bit) { accounts(id: $id) { entities { id } } }";
        let one = key(q, serde_json::json!({"id": "1"}), vec![AccountsRead]);
        assert!(one.is_some());
        assert!(one == key(q, serde_json::json!({"id": "1"}), vec![AccountsRead]));
        assert!(one != key(q, serde_json::json!({"id": "2"}), vec![AccountsRead]));
        assert!(
            one != key(
                q,
                serde_json::json!({"id": "1"}),
                vec![AccountsRead, BillingRead]
            )
        );
        assert!(
            one != key(
                &format!("{q} "),
                serde_json::json!({"id": "1"}),
                vec![AccountsRead]
            )
        );
        let long = format!("{q}{}", " ".repeat(MAX_QUERY_BYTES));
        assert!(key(&long, serde_json::json!({}), vec![AccountsRead]).is_none());
    }
}
