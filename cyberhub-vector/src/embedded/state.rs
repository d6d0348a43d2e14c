//! A collection's in-memory state: slots (id, payload, vector), the id map and the HNSW graph.
//! Pure data structure; durability lives in `collection.rs`.

use super::codec::{Reader, Writer};
use super::hnsw::{self, Hnsw, Near, Vectors};
use crate::{
    CollectionSpec, Filter, Payload, Point, PointId, Result, ScoredPoint, SearchRequest,
    VectorError,
};
use std::collections::{BinaryHeap, HashMap};

/// Up to this many live points every search is exact.
pub const EXACT_BELOW: usize = 2048;
/// A filter matching at most this many points is answered by an exact scan over them.
pub const EXACT_FILTERED_BELOW: usize = 8192;

/// Threads for inserting a large batch into the graph: the machine's cores.
fn insert_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Slots never move: deleted or replaced points leave a tombstone (`payload: None`) that the
/// graph still uses as a waypoint, until [`State::compacted`] rebuilds without them.
#[derive(Debug, Clone)]
pub struct State {
    spec: CollectionSpec,
    ids: HashMap<PointId, u32>,
    slot_ids: Vec<PointId>,
    payloads: Vec<Option<Payload>>,
    vectors: Vectors,
    graph: Hnsw,
}

impl State {
    pub fn new(spec: CollectionSpec) -> Self {
        let vectors = Vectors::new(spec.dimension, spec.distance);
        Self {
            spec,
            ids: HashMap::new(),
            slot_ids: Vec::new(),
            payloads: Vec::new(),
            vectors,
            graph: Hnsw::default(),
        }
    }

    pub fn live(&self) -> usize {
        self.ids.len()
    }

    pub fn dead(&self) -> usize {
        self.slot_ids.len() - self.ids.len()
    }

    /// Applies validated points in order. Their graph nodes are inserted as one batch (by
    /// several threads when the batch is large: see [`Hnsw::insert_many`]).
    pub fn upsert(&mut self, points: &[Point]) {
        let mut fresh = Vec::new();
        for p in points {
            if let Some(&slot) = self.ids.get(&p.id) {
                if self.vectors.get(slot) == p.vector.as_slice() {
                    if let Some(pl) = self.payloads.get_mut(slot as usize) {
                        *pl = Some(p.payload.clone());
                    }
                    continue;
                }
                if let Some(pl) = self.payloads.get_mut(slot as usize) {
                    *pl = None;
                }
            }
            let slot = self.vectors.push(&p.vector);
            self.slot_ids.push(p.id);
            self.payloads.push(Some(p.payload.clone()));
            fresh.push((slot, hnsw::level_for(&p.id)));
            self.ids.insert(p.id, slot);
        }
        self.graph
            .insert_many(&self.vectors, &fresh, insert_threads());
    }

    /// Removes points by id (missing ones are ignored).
    pub fn delete(&mut self, ids: &[PointId]) {
        for id in ids {
            if let Some(slot) = self.ids.remove(id) {
                if let Some(pl) = self.payloads.get_mut(slot as usize) {
                    *pl = None;
                }
            }
        }
    }

    /// Whether tombstones outweigh live points enough to rebuild.
    pub fn needs_compaction(&self) -> bool {
        self.dead() > 1024 && self.dead() > self.live()
    }

    /// A fresh state holding only the live points (graph rebuilt).
    pub fn compacted(&self) -> Self {
        let mut next = Self::new(self.spec.clone());
        let mut slots: Vec<u32> = self.ids.values().copied().collect();
        slots.sort_unstable();
        let points: Vec<Point> = slots.into_iter().filter_map(|s| self.point_at(s)).collect();
        next.upsert(&points);
        next
    }

    fn point_at(&self, slot: u32) -> Option<Point> {
        let payload = self.payloads.get(slot as usize)?.clone()?;
        Some(Point {
            id: *self.slot_ids.get(slot as usize)?,
            vector: self.vectors.get(slot).to_vec(),
            payload,
        })
    }

    pub fn get(&self, id: PointId) -> Option<Point> {
        self.point_at(*self.ids.get(&id)?)
    }

    pub fn count(&self, filter: Option<&Filter>) -> u64 {
        match filter.filter(|f| !f.is_empty()) {
            None => self.live() as u64,
            Some(f) => self
                .payloads
                .iter()
                .flatten()
                .filter(|p| f.matches(p))
                .count() as u64,
        }
    }

    /// Top-k search; `q` is validated (and normalised for cosine).
    pub fn search(&self, q: &[f32], req: &SearchRequest) -> Vec<ScoredPoint> {
        let k = req.limit;
        let filter = req.filter.as_ref().filter(|f| !f.is_empty());
        let accept = |slot: u32| {
            self.payloads
                .get(slot as usize)
                .and_then(Option::as_ref)
                .is_some_and(|p| filter.is_none_or(|f| f.matches(p)))
        };
        let mut exact = req.exact || self.live() <= EXACT_BELOW;
        // How many points pass the filter; counted once, only when the filter can matter.
        let mut matching = self.live();
        if !exact {
            if let Some(f) = filter {
                matching = self.count(Some(f)) as usize;
                exact = matching <= EXACT_FILTERED_BELOW;
            }
        }
        let mut hits = Vec::new();
        if !exact {
            let ef = req.ef.unwrap_or(hnsw::EF_SEARCH).max(k);
            hits = self.graph.search(&self.vectors, q, ef, &accept);
            hits.truncate(k);
            // The graph walk can come back short under a filter or many tombstones; exact
            // search then guarantees k hits whenever k points qualify.
            exact = hits.len() < k && matching > hits.len();
        }
        if exact {
            hits = self.exact(q, k, &accept);
        }
        hits.into_iter()
            .filter_map(|Near(d, slot)| {
                Some(ScoredPoint {
                    id: *self.slot_ids.get(slot as usize)?,
                    score: self.vectors.score(d),
                    payload: self.payloads.get(slot as usize)?.clone()?,
                })
            })
            .collect()
    }

    fn exact(&self, q: &[f32], k: usize, accept: &dyn Fn(u32) -> bool) -> Vec<Near> {
        let mut best: BinaryHeap<Near> = BinaryHeap::with_capacity(k + 1);
        for slot in 0..self.slot_ids.len() as u32 {
            if !accept(slot) {
                continue;
            }
            let d = self.vectors.distance(q, slot);
            if best.len() < k {
                best.push(Near(d, slot));
            } else if best.peek().is_some_and(|w| Near(d, slot) < *w) {
                best.pop();
                best.push(Near(d, slot));
            }
        }
        best.into_sorted_vec()
    }

    /// Serialises every slot (tombstones too: the graph refers to them) and the graph.
    pub fn encode(&self, w: &mut Writer) {
        w.u64(self.slot_ids.len() as u64);
        for (slot, id) in self.slot_ids.iter().enumerate() {
            w.id(id);
            match self.payloads.get(slot).and_then(Option::as_ref) {
                Some(p) => {
                    w.u8(1);
                    w.payload(p);
                }
                None => w.u8(0),
            }
            let links = self.graph.links(slot as u32);
            w.u8(links.len() as u8);
            for layer in links {
                w.u32(layer.len() as u32);
                for n in layer {
                    w.u32(n);
                }
            }
        }
        w.f32s(self.vectors.raw());
        match self.graph.entry() {
            Some((e, top)) => {
                w.u8(1);
                w.u32(e);
                w.u8(top);
            }
            None => w.u8(0),
        }
    }

    /// Reads what [`State::encode`] wrote.
    pub fn decode(spec: CollectionSpec, r: &mut Reader<'_>) -> Result<Self> {
        let corrupt =
            || VectorError::internal(format!("snapshot of {:?} is inconsistent", spec.name));
        let n = usize::try_from(r.u64()?).map_err(|_| corrupt())?;
        let mut state = Self::new(spec.clone());
        let mut links = Vec::with_capacity(n.min(1 << 24));
        for slot in 0..n {
            let id = r.id()?;
            state.slot_ids.push(id);
            if r.u8()? == 1 {
                state.payloads.push(Some(r.payload()?));
                state.ids.insert(id, slot as u32);
            } else {
                state.payloads.push(None);
            }
            let layers = r.u8()? as usize;
            let mut node = Vec::with_capacity(layers);
            for _ in 0..layers {
                let len = r.u32()? as usize;
                let mut l = Vec::with_capacity(len.min(1024));
                for _ in 0..len {
                    let to = r.u32()?;
                    if to as usize >= n {
                        return Err(corrupt());
                    }
                    l.push(to);
                }
                node.push(l);
            }
            links.push(node);
        }
        let mut data = Vec::with_capacity(n.saturating_mul(spec.dimension).min(1 << 28));
        r.f32s_into(n.saturating_mul(spec.dimension), &mut data)?;
        state.vectors = Vectors::from_raw(spec.dimension, spec.distance, data);
        let entry = match r.u8()? {
            1 => Some((r.u32()?, r.u8()?)),
            _ => None,
        };
        if entry.is_some_and(|(e, _)| e as usize >= n) {
            return Err(corrupt());
        }
        state.graph = Hnsw::from_parts(&state.vectors, links, entry);
        Ok(state)
    }
}
