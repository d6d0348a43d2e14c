//! A per-user recommendation cache behind a trait; [`InProcessCache`] is the default.
//!
//! Keys carry a fingerprint of the learner's progress, so an entry computed before a
//! progress change is never served after it, even when the change happened in another
//! process; [`RecommendationCache::invalidate_user`] also drops a user's entries at once
//! (the server calls it on every progress write). Another implementation can keep the
//! entries where several instances share them (the server's Redis cache).

use cyberhub_domain::api_ai::RecommendationResponse;
use cyberhub_domain::{ContentType, UserId};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a cached answer depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The learner.
    pub user: UserId,
    /// Requested kind.
    pub content_type: Option<ContentType>,
    /// Requested size.
    pub limit: usize,
    /// Fingerprint of the learner's progress and personality (see [`fingerprint`]).
    pub fingerprint: u64,
}

/// A stable fingerprint of anything hashable (progress rows, personality fit).
pub fn fingerprint<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// Where recommendation answers are kept between requests. A cache that cannot answer
/// (a shared store that is down) misses and drops writes: it never fails a request.
#[async_trait::async_trait]
pub trait RecommendationCache: Send + Sync + std::fmt::Debug {
    /// A fresh entry for `key`.
    async fn get(&self, key: &CacheKey) -> Option<Arc<RecommendationResponse>>;
    /// Stores an entry.
    async fn put(&self, key: CacheKey, value: Arc<RecommendationResponse>);
    /// Drops every entry of `user` that this process holds (keys carry the progress
    /// fingerprint, so an entry made before a change is never served after it anyway;
    /// this only frees memory early).
    fn invalidate_user(&self, user: UserId);
}

type Entries = HashMap<UserId, Vec<(CacheKey, Instant, Arc<RecommendationResponse>)>>;

/// An in-process cache: entries live `ttl`, at most `per_user` per learner and
/// `max_users` learners (the oldest learner's entries go first).
#[derive(Debug)]
pub struct InProcessCache {
    ttl: Duration,
    per_user: usize,
    max_users: usize,
    entries: Mutex<Entries>,
}

impl InProcessCache {
    /// A cache with the given entry lifetime and bounds.
    pub fn new(ttl: Duration, per_user: usize, max_users: usize) -> Self {
        Self {
            ttl,
            per_user: per_user.max(1),
            max_users: max_users.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for InProcessCache {
    /// Ten minutes, 8 entries per learner, 10,000 learners.
    fn default() -> Self {
        Self::new(Duration::from_secs(600), 8, 10_000)
    }
}

#[async_trait::async_trait]
impl RecommendationCache for InProcessCache {
    async fn get(&self, key: &CacheKey) -> Option<Arc<RecommendationResponse>> {
        let map = self.lock();
        map.get(&key.user)?
            .iter()
            .find(|(k, at, _)| k == key && at.elapsed() < self.ttl)
            .map(|(_, _, v)| v.clone())
    }

    async fn put(&self, key: CacheKey, value: Arc<RecommendationResponse>) {
        let mut map = self.lock();
        if !map.contains_key(&key.user) && map.len() >= self.max_users {
            let oldest = map
                .iter()
                .filter_map(|(u, v)| v.iter().map(|e| e.1).max().map(|t| (*u, t)))
                .min_by_key(|(_, t)| *t)
                .map(|(u, _)| u);
            if let Some(u) = oldest {
                map.remove(&u);
            }
        }
        let list = map.entry(key.user).or_default();
        list.retain(|(k, at, _)| k != &key && at.elapsed() < self.ttl);
        if list.len() >= self.per_user {
            list.remove(0);
        }
        list.push((key, Instant::now(), value));
    }

    fn invalidate_user(&self, user: UserId) {
        self.lock().remove(&user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(user: UserId) -> Arc<RecommendationResponse> {
        Arc::new(RecommendationResponse {
            user_id: user,
            recommendations: Vec::new(),
            total: 0,
            cold_start: true,
        })
    }

    fn key(user: UserId, fp: u64) -> CacheKey {
        CacheKey {
            user,
            content_type: None,
            limit: 10,
            fingerprint: fp,
        }
    }

    #[tokio::test]
    async fn hit_miss_invalidate_and_bounds() {
        let c = InProcessCache::new(Duration::from_secs(60), 2, 2);
        let (a, b, d) = (
            UserId(uuid::Uuid::from_u128(1)),
            UserId(uuid::Uuid::from_u128(2)),
            UserId(uuid::Uuid::from_u128(3)),
        );
        c.put(key(a, 1), resp(a)).await;
        assert!(c.get(&key(a, 1)).await.is_some());
        assert!(
            c.get(&key(a, 2)).await.is_none(),
            "another fingerprint misses"
        );
        c.invalidate_user(a);
        assert!(c.get(&key(a, 1)).await.is_none());
        for fp in 0..5 {
            c.put(key(a, fp), resp(a)).await;
        }
        assert!(c.get(&key(a, 4)).await.is_some() && c.get(&key(a, 0)).await.is_none());
        c.put(key(b, 1), resp(b)).await;
        c.put(key(d, 1), resp(d)).await;
        assert!(c.get(&key(d, 1)).await.is_some());
        assert!(c.lock().len() <= 2);
        let expired = InProcessCache::new(Duration::ZERO, 2, 2);
        expired.put(key(a, 1), resp(a)).await;
        assert!(expired.get(&key(a, 1)).await.is_none());
    }
}
