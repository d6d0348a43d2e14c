//! The embedded backend: collections as directories under one root, no server.
//!
//! Durability: every upsert and delete is appended to the collection's write-ahead log and
//! `fsync`ed before it is acknowledged, so acknowledged writes survive `kill -9` and power
//! loss (on file systems that honour `fsync`). The log is folded into a checksummed snapshot
//! (points plus the HNSW graph, so reopening does not rebuild the index) when it grows.
//!
//! Search: exact for small collections (≤ [`EXACT_BELOW`] points) and for selective filters
//! (≤ [`EXACT_FILTERED_BELOW`] matches); HNSW otherwise, falling back to exact search when the
//! graph walk finds fewer than `limit` qualifying points. One process owns a root at a time
//! (an exclusive lock on `LOCK`).

mod codec;
mod collection;
mod hnsw;
mod state;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use collection::fuzzing;
pub use hnsw::{EF_CONSTRUCTION, EF_SEARCH, M};
pub use state::{EXACT_BELOW, EXACT_FILTERED_BELOW};

use crate::{
    validate, CollectionSpec, Filter, Point, PointId, Result, ScoredPoint, SearchRequest,
    VectorError, VectorErrorKind, VectorStore,
};
use collection::Collection;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The embedded, on-disk vector store (see the module docs).
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    _lock: File,
    collections: RwLock<BTreeMap<String, Arc<Collection>>>,
}

fn blocking_failed(e: tokio::task::JoinError) -> VectorError {
    VectorError::internal("a vector store task failed").with_source(e)
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store rooted at `dir` and loads its collections.
    pub async fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let root = dir.as_ref().to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(&root))
            .await
            .map_err(blocking_failed)?
    }

    /// [`EmbeddedStore::open`] for synchronous callers.
    pub fn open_blocking(dir: &Path) -> Result<Self> {
        if dir.as_os_str().is_empty() {
            return Err(VectorError::new(
                VectorErrorKind::ConfigInvalid,
                "the embedded vector store needs a directory (embedded://PATH)",
            ));
        }
        fs::create_dir_all(dir).map_err(|e| {
            VectorError::unavailable(format!("cannot create {}", dir.display())).with_source(e)
        })?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))
            .map_err(|e| {
                VectorError::unavailable(format!("cannot open {}/LOCK", dir.display()))
                    .with_source(e)
            })?;
        lock.try_lock().map_err(|e| {
            VectorError::unavailable(format!(
                "{} is in use by another vector store (one process per directory)",
                dir.display()
            ))
            .with_source(e)
        })?;
        let mut collections = BTreeMap::new();
        let entries = fs::read_dir(dir).map_err(|e| {
            VectorError::unavailable(format!("cannot list {}", dir.display())).with_source(e)
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if name.starts_with(".tmp-") || name.starts_with(".trash-") {
                // Leftovers of a create or drop interrupted by a crash.
                let _ = fs::remove_dir_all(&path);
                continue;
            }
            if validate::collection_name(&name).is_err() {
                continue;
            }
            let c = Collection::open(&path)?;
            collections.insert(name, Arc::new(c));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                root: dir.to_owned(),
                _lock: lock,
                collections: RwLock::new(collections),
            }),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Folds every collection's log into a fresh snapshot (faster reopen). Optional: logs are
    /// checkpointed automatically as they grow.
    pub async fn checkpoint(&self) -> Result<()> {
        let all: Vec<Arc<Collection>> = self.inner.read().values().cloned().collect();
        tokio::task::spawn_blocking(move || all.iter().try_for_each(|c| c.checkpoint()))
            .await
            .map_err(blocking_failed)?
    }

    fn get_collection(&self, name: &str) -> Result<Arc<Collection>> {
        self.inner
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| VectorError::not_found(name))
    }

    async fn with<T: Send + 'static>(
        &self,
        name: &str,
        f: impl FnOnce(&Collection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let c = self.get_collection(name)?;
        tokio::task::spawn_blocking(move || f(&c))
            .await
            .map_err(blocking_failed)?
    }
}

impl Inner {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Collection>>> {
        self.collections
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Collection>>> {
        self.collections
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl VectorStore for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn ping(&self) -> Result<()> {
        let root = self.inner.root.clone();
        tokio::task::spawn_blocking(move || {
            fs::metadata(&root).map(|_| ()).map_err(|e| {
                VectorError::unavailable(format!("{} is not accessible", root.display()))
                    .with_source(e)
            })
        })
        .await
        .map_err(blocking_failed)?
    }

    async fn create_collection(&self, spec: &CollectionSpec) -> Result<bool> {
        validate::spec(spec)?;
        let inner = self.inner.clone();
        let spec = spec.clone();
        tokio::task::spawn_blocking(move || {
            let mut map = inner.write();
            if let Some(existing) = map.get(&spec.name) {
                return validate::existing_collection(existing.spec(), &spec);
            }
            let c = Collection::create(&inner.root.join(&spec.name), &spec)?;
            map.insert(spec.name.clone(), Arc::new(c));
            Ok(true)
        })
        .await
        .map_err(blocking_failed)?
    }

    async fn collection(&self, name: &str) -> Result<CollectionSpec> {
        Ok(self.get_collection(name)?.spec().clone())
    }

    async fn list_collections(&self) -> Result<Vec<CollectionSpec>> {
        Ok(self
            .inner
            .read()
            .values()
            .map(|c| c.spec().clone())
            .collect())
    }

    async fn drop_collection(&self, name: &str) -> Result<bool> {
        let inner = self.inner.clone();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut map = inner.write();
            if map.remove(&name).is_none() {
                return Ok(false);
            }
            let dir = inner.root.join(&name);
            let trash = inner
                .root
                .join(format!(".trash-{name}-{}", uuid::Uuid::new_v4().simple()));
            fs::rename(&dir, &trash).map_err(|e| {
                VectorError::unavailable(format!("cannot remove {}", dir.display())).with_source(e)
            })?;
            collection::sync_dir(&inner.root)?;
            let _ = fs::remove_dir_all(&trash);
            Ok(true)
        })
        .await
        .map_err(blocking_failed)?
    }

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<()> {
        let c = self.get_collection(collection)?;
        let points = validate::points(c.spec(), points)?;
        tokio::task::spawn_blocking(move || c.upsert(&points))
            .await
            .map_err(blocking_failed)?
    }

    async fn delete(&self, collection: &str, ids: &[PointId]) -> Result<()> {
        validate::batch_len(ids.len())?;
        let ids = ids.to_vec();
        self.with(collection, move |c| c.delete(&ids)).await
    }

    async fn get(&self, collection: &str, id: PointId) -> Result<Option<Point>> {
        self.with(collection, move |c| Ok(c.read().get(id))).await
    }

    async fn get_many(&self, collection: &str, ids: &[PointId]) -> Result<Vec<Point>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        validate::batch_len(ids.len())?;
        let ids = ids.to_vec();
        self.with(collection, move |c| {
            let state = c.read();
            Ok(ids.iter().filter_map(|id| state.get(*id)).collect())
        })
        .await
    }

    async fn search(&self, collection: &str, request: &SearchRequest) -> Result<Vec<ScoredPoint>> {
        let c = self.get_collection(collection)?;
        let q = validate::search(c.spec(), request)?;
        let request = request.clone();
        tokio::task::spawn_blocking(move || Ok(c.read().search(&q, &request)))
            .await
            .map_err(blocking_failed)?
    }

    async fn count(&self, collection: &str, filter: Option<&Filter>) -> Result<u64> {
        if let Some(f) = filter {
            validate::filter(f)?;
        }
        let filter = filter.cloned();
        self.with(collection, move |c| Ok(c.read().count(filter.as_ref())))
            .await
    }
}
