//! Input checks shared by every backend, done before anything is written: a batch is
//! accepted whole or rejected whole.

use crate::{
    CollectionSpec, Distance, Filter, Point, Result, SearchRequest, VectorError, VectorErrorKind,
};
use std::collections::HashMap;

/// Most points in one upsert or delete.
pub const MAX_BATCH: usize = 1024;
/// Most hits one search returns.
pub const MAX_LIMIT: usize = 1000;
/// Largest dimension a collection may have.
pub const MAX_DIMENSION: usize = 4096;
/// Longest keyword value (content id, type, track, tag), in bytes.
pub const MAX_KEYWORD_LEN: usize = 256;
/// Most tags on one point.
pub const MAX_TAGS: usize = 64;
/// Largest `extra` JSON of one point, serialised, in bytes.
pub const MAX_EXTRA_BYTES: usize = 64 * 1024;
/// Most values in all conditions of one filter together.
pub const MAX_FILTER_VALUES: usize = 1024;
/// Largest `ef` a search may ask for.
pub const MAX_EF: usize = 10_000;

/// Checks a collection name: `[a-z][a-z0-9_]{0,47}` (safe as a table suffix and a directory name).
pub fn collection_name(name: &str) -> Result<()> {
    let ok = (1..=48).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(VectorError::invalid(format!(
            "invalid collection name {name:?}: use 1-48 characters a-z, 0-9 and _, starting with a letter"
        )))
    }
}

/// Checks a collection spec.
pub fn spec(spec: &CollectionSpec) -> Result<()> {
    collection_name(&spec.name)?;
    if !(1..=MAX_DIMENSION).contains(&spec.dimension) {
        return Err(VectorError::invalid(format!(
            "dimension must be 1-{MAX_DIMENSION}, got {}",
            spec.dimension
        )));
    }
    Ok(())
}

/// The answer to creating `wanted` when `existing` has its name: `Ok(false)` (nothing to do)
/// when they are identical, [`VectorErrorKind::CollectionExists`] when they differ.
pub fn existing_collection(existing: &CollectionSpec, wanted: &CollectionSpec) -> Result<bool> {
    if existing == wanted {
        Ok(false)
    } else {
        Err(VectorError::collection_exists(existing))
    }
}

/// Checks one vector against the collection and returns the form to store
/// (unit length for cosine).
pub fn vector(spec: &CollectionSpec, v: &[f32]) -> Result<Vec<f32>> {
    if v.len() != spec.dimension {
        return Err(VectorError::new(
            VectorErrorKind::DimensionMismatch,
            format!(
                "collection {:?} has dimension {}, got a vector of {}",
                spec.name,
                spec.dimension,
                v.len()
            ),
        ));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(VectorError::new(
            VectorErrorKind::InvalidVector,
            format!("vector component {i} is not a finite number"),
        ));
    }
    if spec.distance == Distance::Cosine {
        let norm = crate::math::norm(v);
        if !(norm.is_finite() && norm > f32::MIN_POSITIVE) {
            return Err(VectorError::new(
                VectorErrorKind::InvalidVector,
                "a zero vector has no direction; cosine needs a non-zero vector",
            ));
        }
        return Ok(v.iter().map(|x| x / norm).collect());
    }
    if !crate::math::dot(v, v).is_finite() {
        return Err(VectorError::new(
            VectorErrorKind::InvalidVector,
            "vector components are too large (their squares overflow)",
        ));
    }
    Ok(v.to_vec())
}

fn keyword(what: &str, v: &str) -> Result<()> {
    if v.is_empty() || v.len() > MAX_KEYWORD_LEN {
        return Err(VectorError::invalid(format!(
            "{what} must be 1-{MAX_KEYWORD_LEN} bytes"
        )));
    }
    Ok(())
}

/// Checks an upsert batch and returns it ready to store: vectors normalised where the
/// distance needs it, and duplicate ids collapsed to the last occurrence (as if applied in order).
pub fn points(spec: &CollectionSpec, points: Vec<Point>) -> Result<Vec<Point>> {
    batch_len(points.len())?;
    let mut out: Vec<Point> = Vec::with_capacity(points.len());
    let mut seen: HashMap<uuid::Uuid, usize> = HashMap::with_capacity(points.len());
    for (i, mut p) in points.into_iter().enumerate() {
        p.vector = vector(spec, &p.vector)
            .map_err(|e| VectorError::new(e.kind(), format!("point {i} ({}): {e}", p.id)))?;
        let pl = &p.payload;
        for (what, v) in [
            ("content_id", &pl.content_id),
            ("content_type", &pl.content_type),
            ("track", &pl.track),
        ] {
            if let Some(v) = v {
                keyword(&format!("point {i}: {what}"), v)?;
            }
        }
        if pl.tags.len() > MAX_TAGS {
            return Err(VectorError::invalid(format!(
                "point {i}: at most {MAX_TAGS} tags"
            )));
        }
        for t in &pl.tags {
            keyword(&format!("point {i}: tag"), t)?;
        }
        let extra_len = serde_json::to_vec(&pl.extra).map(|b| b.len()).unwrap_or(0);
        if extra_len > MAX_EXTRA_BYTES {
            return Err(VectorError::invalid(format!(
                "point {i}: extra payload is {extra_len} bytes, at most {MAX_EXTRA_BYTES}"
            )));
        }
        match seen.get(&p.id) {
            Some(&at) => {
                if let Some(slot) = out.get_mut(at) {
                    *slot = p;
                }
            }
            None => {
                seen.insert(p.id, out.len());
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// Checks a batch size (upserts and deletes).
pub fn batch_len(n: usize) -> Result<()> {
    if n == 0 {
        return Err(VectorError::invalid("empty batch: send 1 or more points"));
    }
    if n > MAX_BATCH {
        return Err(VectorError::invalid(format!(
            "batch of {n} is too large: at most {MAX_BATCH} per call"
        )));
    }
    Ok(())
}

/// Checks a filter.
pub fn filter(filter: &Filter) -> Result<()> {
    let mut total = 0usize;
    for c in filter.must.iter().chain(&filter.must_not) {
        if c.values().is_empty() {
            return Err(VectorError::invalid(format!(
                "filter on {} needs at least one value",
                c.field().key()
            )));
        }
        for v in c.values() {
            keyword(&format!("filter value for {}", c.field().key()), v)?;
        }
        total += c.values().len();
    }
    if total > MAX_FILTER_VALUES {
        return Err(VectorError::invalid(format!(
            "filter has {total} values, at most {MAX_FILTER_VALUES}"
        )));
    }
    Ok(())
}

/// Checks a search request and returns the query vector to use (normalised for cosine).
pub fn search(spec: &CollectionSpec, req: &SearchRequest) -> Result<Vec<f32>> {
    if !(1..=MAX_LIMIT).contains(&req.limit) {
        return Err(VectorError::invalid(format!(
            "limit must be 1-{MAX_LIMIT}, got {}",
            req.limit
        )));
    }
    if let Some(ef) = req.ef {
        if !(1..=MAX_EF).contains(&ef) {
            return Err(VectorError::invalid(format!(
                "ef must be 1-{MAX_EF}, got {ef}"
            )));
        }
    }
    if let Some(f) = &req.filter {
        filter(f)?;
    }
    vector(spec, &req.vector)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Payload, Point};

    fn spec() -> CollectionSpec {
        CollectionSpec::new("c", 3, Distance::Cosine)
    }

    #[test]
    fn names() {
        for ok in [
            "a",
            "content_v1",
            "a23456789012345678901234567890123456789012345678",
        ] {
            assert!(collection_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1a",
            "A",
            "a-b",
            "a b",
            "ä",
            "_a",
            "a23456789012345678901234567890123456789012345678x",
        ] {
            assert!(collection_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn vectors() {
        let s = spec();
        let v = vector(&s, &[3.0, 0.0, 4.0]).unwrap();
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[2] - 0.8).abs() < 1e-6);
        let kind = |v: &[f32]| vector(&s, v).unwrap_err().kind();
        assert_eq!(kind(&[1.0, 2.0]), VectorErrorKind::DimensionMismatch);
        assert_eq!(kind(&[1.0, f32::NAN, 0.0]), VectorErrorKind::InvalidVector);
        assert_eq!(
            kind(&[f32::INFINITY, 0.0, 0.0]),
            VectorErrorKind::InvalidVector
        );
        assert_eq!(kind(&[0.0, 0.0, 0.0]), VectorErrorKind::InvalidVector);
        let dot = CollectionSpec::new("d", 3, Distance::Dot);
        assert_eq!(vector(&dot, &[0.0, 0.0, 0.0]).unwrap(), vec![0.0; 3]);
        assert_eq!(
            vector(&dot, &[f32::MAX, 0.0, 0.0]).unwrap_err().kind(),
            VectorErrorKind::InvalidVector
        );
    }

    #[test]
    fn batches_dedupe_last_wins_and_reject_whole() {
        let id = uuid::Uuid::from_u128(1);
        let p = |x: f32, track: &str| {
            Point::new(
                id,
                vec![x, 1.0, 0.0],
                Payload {
                    track: Some(track.into()),
                    ..Payload::default()
                },
            )
        };
        let out = points(&spec(), vec![p(1.0, "a"), p(2.0, "b")]).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].payload.track.as_deref(), Some("b"));
        assert!(points(&spec(), vec![]).is_err());
        let many = (0..=MAX_BATCH).map(|_| p(1.0, "a")).collect();
        assert!(points(&spec(), many).is_err());
        let mut bad = p(1.0, "a");
        bad.payload.tags = vec![String::new()];
        assert!(points(&spec(), vec![p(1.0, "a"), bad]).is_err());
    }
}
