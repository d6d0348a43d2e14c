//! Collection specs of the server backends, cached per process: a spec cannot change while
//! its collection exists, so upserts and searches skip a round trip to check the dimension.

use crate::{CollectionSpec, Result, VectorError, VectorErrorKind};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{PoisonError, RwLock};

#[derive(Debug, Default)]
pub(crate) struct SpecCache(RwLock<HashMap<String, CollectionSpec>>);

impl SpecCache {
    /// The cached spec, or `load`'s answer (cached); `None` from `load` is not-found.
    pub(crate) async fn get_or_load<F, Fut>(&self, name: &str, load: F) -> Result<CollectionSpec>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<CollectionSpec>>>,
    {
        let cached = self
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned();
        if let Some(spec) = cached {
            return Ok(spec);
        }
        let spec = load().await?.ok_or_else(|| VectorError::not_found(name))?;
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), spec.clone());
        Ok(spec)
    }

    /// Drops a cached spec (after a drop or create).
    pub(crate) fn forget(&self, name: &str) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }

    /// A "collection missing" answer from the server means another process dropped it:
    /// forget the spec and report not-found; other errors pass through.
    pub(crate) fn missing(&self, name: &str, e: VectorError) -> VectorError {
        if e.kind() == VectorErrorKind::CollectionNotFound {
            self.forget(name);
            return VectorError::not_found(name);
        }
        e
    }
}
