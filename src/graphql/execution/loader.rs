//! The DataLoader that resolves every relation: all parents asking for the same relation with
//! the same arguments are answered by one query.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::service::{
    base::values::Page,
    read::collection::{self, CollectionArgs},
};
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader as LoaderTrait};
use sea_orm::DatabaseConnection;

use crate::error::AppError;
use crate::graphql::schema::entity_def::{AnyModel, EntityDef};

#[derive(Clone)]
pub struct RelKey {
    /// `Type.relation`, identifying the relation.
    pub relation: &'static str,
    pub target: &'static EntityDef,
    pub target_column: &'static str,
    pub fixed: Option<(&'static str, &'static str)>,
    pub args: Arc<CollectionArgs>,
    /// A canonical rendering of `args`, so that equal arguments batch together.
    pub args_key: Arc<str>,
    pub value: i64,
}

impl PartialEq for RelKey {
    fn eq(&self, other: &Self) -> bool {
        self.relation == other.relation
            && self.args_key == other.args_key
            && self.value == other.value
    }
}
impl Eq for RelKey {}
impl Hash for RelKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.relation.hash(state);
        self.args_key.hash(state);
        self.value.hash(state);
    }
}

pub struct RelLoader {
    pub db: DatabaseConnection,
    /// Counts the batched relation queries (exported as a metric), so that a test can check
    /// that a page of parents costs the same number of queries whatever its size.
    pub batches: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// The per-request loader, with a cache so that pages prefetched for a whole page of parents
/// are found again by each parent's field.
pub type Loader = DataLoader<RelLoader, HashMapCache>;

impl LoaderTrait<RelKey> for RelLoader {
    type Value = Arc<Page<AnyModel>>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[RelKey]) -> Result<HashMap<RelKey, Self::Value>, Self::Error> {
        let mut groups: HashMap<(&'static str, Arc<str>), Vec<&RelKey>> = HashMap::new();
        for key in keys {
            groups
                .entry((key.relation, key.args_key.clone()))
                .or_default()
                .push(key);
        }
        let mut out = HashMap::new();
        for (_, group) in groups {
            let first = group[0];
            self.batches
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let values: Vec<i64> = group.iter().map(|k| k.value).collect();
            let mut extra = collection::listed(first.target.ops.table().name, false, false);
            if let Some((column, value)) = first.fixed {
                extra = extra.add(collection::fixed(column, value));
            }
            let mut pages = first
                .target
                .ops
                .list_grouped(&self.db, first.target_column, &values, &first.args, extra)
                .await
                .map_err(Arc::new)?;
            for key in group {
                let page = pages.remove(&key.value).unwrap_or(Page {
                    items: Vec::new(),
                    page: first.args.page,
                    records_per_page: first.args.records_per_page,
                    total_count: 0,
                });
                out.insert(key.clone(), Arc::new(page));
            }
        }
        Ok(out)
    }
}
