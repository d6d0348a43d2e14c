//! A Hierarchical Navigable Small World graph (Malkov & Yashunin, 2016) over the slots of a
//! collection: greedy descent through sparse upper layers, beam search (`ef`) on layer 0,
//! neighbours chosen with the diversity heuristic. Deleted slots stay in the graph as
//! waypoints and are filtered out of results; the collection compacts them away.

use crate::math;
use crate::Distance;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Links per node on upper layers (layer 0 has twice as many).
pub const M: usize = 24;
/// Beam width while inserting.
pub const EF_CONSTRUCTION: usize = 128;
/// Default beam width while searching: recall@10 ≈ 0.97 on 10k random 384-d unit vectors
/// (the hard case: real embeddings cluster and need less).
pub const EF_SEARCH: usize = 300;
const MAX_LEVEL: u8 = 12;

/// Flat vector storage: slot `i` is `data[i*dim..(i+1)*dim]`.
#[derive(Debug, Clone)]
pub struct Vectors {
    dim: usize,
    metric: Distance,
    data: Vec<f32>,
}

impl Vectors {
    pub fn new(dim: usize, metric: Distance) -> Self {
        Self {
            dim,
            metric,
            data: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.data.len() / self.dim.max(1)
    }

    pub fn push(&mut self, v: &[f32]) -> u32 {
        let slot = self.len() as u32;
        self.data.extend_from_slice(v);
        slot
    }

    pub fn get(&self, slot: u32) -> &[f32] {
        let start = slot as usize * self.dim;
        self.data.get(start..start + self.dim).unwrap_or(&[])
    }

    pub fn raw(&self) -> &[f32] {
        &self.data
    }

    pub fn from_raw(dim: usize, metric: Distance, data: Vec<f32>) -> Self {
        Self { dim, metric, data }
    }

    /// Internal distance: lower is closer (1 − cos, −dot, squared L2).
    #[inline]
    pub fn distance(&self, q: &[f32], slot: u32) -> f32 {
        let v = self.get(slot);
        match self.metric {
            Distance::Cosine => 1.0 - math::dot(q, v),
            Distance::Dot => -math::dot(q, v),
            Distance::L2 => math::l2_squared(q, v),
        }
    }

    /// The public score for an internal distance (see [`Distance`]).
    pub fn score(&self, d: f32) -> f32 {
        match self.metric {
            Distance::Cosine => 1.0 - d,
            Distance::Dot => -d,
            Distance::L2 => d.max(0.0).sqrt(),
        }
    }
}

/// (distance, slot) ordered by distance, then slot (total order, NaN-safe).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Near(pub f32, pub u32);
impl Eq for Near {}
impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Near {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

struct Visited(Vec<u64>);
impl Visited {
    fn new(n: usize) -> Self {
        Self(vec![0; n.div_ceil(64)])
    }
    /// Marks `i`; true when it was not marked before.
    fn insert(&mut self, i: u32) -> bool {
        let (w, b) = ((i / 64) as usize, i % 64);
        match self.0.get_mut(w) {
            Some(word) => {
                let fresh = *word & (1 << b) == 0;
                *word |= 1 << b;
                fresh
            }
            None => false,
        }
    }
}

/// The graph. `links[slot][layer]` lists neighbours of `slot` on `layer`.
#[derive(Debug, Clone, Default)]
pub struct Hnsw {
    links: Vec<Vec<Vec<u32>>>,
    entry: Option<u32>,
    top: u8,
}

/// A node's level from its id: geometric with ratio 1/M, deterministic so rebuilds agree.
pub fn level_for(id: &uuid::Uuid) -> u8 {
    let (hi, lo) = id.as_u64_pair();
    // SplitMix64 finaliser for well-mixed bits whatever the id's version.
    let mut z = hi ^ lo.rotate_left(29) ^ 0x9E37_79B9_7F4A_7C15;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64; // (0, 1]
    let level = (-u.ln() / (M as f64).ln()).floor();
    (level as u8).min(MAX_LEVEL)
}

impl Hnsw {
    pub fn entry(&self) -> Option<(u32, u8)> {
        self.entry.map(|e| (e, self.top))
    }

    pub fn links(&self, slot: u32) -> &[Vec<u32>] {
        self.links
            .get(slot as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Rebuilds a graph from stored parts (snapshot load).
    pub fn from_parts(links: Vec<Vec<Vec<u32>>>, entry: Option<(u32, u8)>) -> Self {
        Self {
            links,
            entry: entry.map(|(e, _)| e),
            top: entry.map(|(_, t)| t).unwrap_or(0),
        }
    }

    fn neighbours(&self, slot: u32, layer: u8) -> &[u32] {
        self.links
            .get(slot as usize)
            .and_then(|l| l.get(layer as usize))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    fn cap(layer: u8) -> usize {
        if layer == 0 {
            2 * M
        } else {
            M
        }
    }

    /// Adds slot `slot` (must be `self.len()`, its vector already in `vectors`) at `level`.
    pub fn insert(&mut self, vectors: &Vectors, slot: u32, level: u8) {
        debug_assert_eq!(slot as usize, self.links.len());
        self.links.push(vec![Vec::new(); level as usize + 1]);
        let Some(mut ep) = self.entry else {
            self.entry = Some(slot);
            self.top = level;
            return;
        };
        let q = vectors.get(slot).to_vec();
        let mut ep_d = vectors.distance(&q, ep);
        for layer in (level.saturating_add(1)..=self.top).rev() {
            (ep, ep_d) = self.greedy(vectors, &q, ep, ep_d, layer);
        }
        let mut entries = vec![Near(ep_d, ep)];
        for layer in (0..=level.min(self.top)).rev() {
            let found = self.beam(vectors, &q, &entries, EF_CONSTRUCTION, layer, &|_| true);
            let chosen = select(vectors, &found, Self::cap(layer));
            for &n in &chosen {
                self.connect(vectors, n, slot, layer);
            }
            if let Some(l) = self
                .links
                .get_mut(slot as usize)
                .and_then(|l| l.get_mut(layer as usize))
            {
                *l = chosen;
            }
            entries = found;
        }
        if level > self.top {
            self.entry = Some(slot);
            self.top = level;
        }
    }

    /// Adds `new` to `node`'s links on `layer`, pruning with the heuristic when full.
    fn connect(&mut self, vectors: &Vectors, node: u32, new: u32, layer: u8) {
        let cap = Self::cap(layer);
        let Some(list) = self
            .links
            .get_mut(node as usize)
            .and_then(|l| l.get_mut(layer as usize))
        else {
            return;
        };
        if list.contains(&new) {
            return;
        }
        list.push(new);
        if list.len() <= cap {
            return;
        }
        let base = vectors.get(node);
        let mut cands: Vec<Near> = list
            .iter()
            .map(|&n| Near(vectors.distance(base, n), n))
            .collect();
        cands.sort_unstable();
        // Keep the closest: as good as the heuristic here (measured: same recall on 10k × 384)
        // at half the build time.
        cands.truncate(cap);
        *list = cands.into_iter().map(|n| n.1).collect();
    }

    fn greedy(
        &self,
        vectors: &Vectors,
        q: &[f32],
        mut ep: u32,
        mut ep_d: f32,
        layer: u8,
    ) -> (u32, f32) {
        loop {
            let mut moved = false;
            for &n in self.neighbours(ep, layer) {
                let d = vectors.distance(q, n);
                if d < ep_d {
                    ep = n;
                    ep_d = d;
                    moved = true;
                }
            }
            if !moved {
                return (ep, ep_d);
            }
        }
    }

    /// Beam search on one layer; returns up to `ef` accepted nodes, closest first. Rejected
    /// nodes are still walked through (a filter must not cut the graph).
    fn beam(
        &self,
        vectors: &Vectors,
        q: &[f32],
        entries: &[Near],
        ef: usize,
        layer: u8,
        accept: &dyn Fn(u32) -> bool,
    ) -> Vec<Near> {
        let mut visited = Visited::new(self.links.len());
        let mut candidates: BinaryHeap<std::cmp::Reverse<Near>> = BinaryHeap::new();
        let mut best: BinaryHeap<Near> = BinaryHeap::new(); // max-heap: worst on top
        for &e in entries {
            if visited.insert(e.1) {
                candidates.push(std::cmp::Reverse(e));
                if accept(e.1) {
                    best.push(e);
                }
            }
        }
        while best.len() > ef {
            best.pop();
        }
        while let Some(std::cmp::Reverse(c)) = candidates.pop() {
            if best.len() >= ef && best.peek().is_some_and(|w| c.0 > w.0) {
                break;
            }
            for &n in self.neighbours(c.1, layer) {
                if !visited.insert(n) {
                    continue;
                }
                let d = vectors.distance(q, n);
                let full = best.len() >= ef;
                if full && best.peek().is_some_and(|w| d >= w.0) {
                    continue;
                }
                candidates.push(std::cmp::Reverse(Near(d, n)));
                if accept(n) {
                    best.push(Near(d, n));
                    if best.len() > ef {
                        best.pop();
                    }
                }
            }
        }
        best.into_sorted_vec()
    }

    /// Approximate top-`ef` accepted nodes for `q`, closest first.
    pub fn search(
        &self,
        vectors: &Vectors,
        q: &[f32],
        ef: usize,
        accept: &dyn Fn(u32) -> bool,
    ) -> Vec<Near> {
        let Some(mut ep) = self.entry else {
            return Vec::new();
        };
        let mut ep_d = vectors.distance(q, ep);
        for layer in (1..=self.top).rev() {
            (ep, ep_d) = self.greedy(vectors, q, ep, ep_d, layer);
        }
        self.beam(vectors, q, &[Near(ep_d, ep)], ef, 0, accept)
    }
}

/// The diversity heuristic: walk candidates closest first and keep one only when it is closer
/// to the base than to every neighbour kept so far; `cands` must be sorted.
fn select(vectors: &Vectors, cands: &[Near], m: usize) -> Vec<u32> {
    let mut kept: Vec<u32> = Vec::with_capacity(m);
    for c in cands {
        if kept.len() >= m {
            break;
        }
        let cv = vectors.get(c.1);
        if kept.iter().all(|&k| vectors.distance(cv, k) > c.0) {
            kept.push(c.1);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    }

    #[test]
    fn finds_exact_neighbours_on_a_small_set() {
        let dim = 16;
        let mut vs = Vectors::new(dim, Distance::L2);
        let mut g = Hnsw::default();
        let mut seed = 7;
        for i in 0..2000u32 {
            let v: Vec<f32> = (0..dim).map(|_| lcg(&mut seed)).collect();
            let slot = vs.push(&v);
            assert_eq!(slot, i);
            g.insert(
                &vs,
                slot,
                level_for(&uuid::Uuid::from_u128(u128::from(i) * 7919)),
            );
        }
        let mut hits = 0;
        for _ in 0..50 {
            let q: Vec<f32> = (0..dim).map(|_| lcg(&mut seed)).collect();
            let mut exact: Vec<Near> = (0..2000).map(|s| Near(vs.distance(&q, s), s)).collect();
            exact.sort_unstable();
            let approx = g.search(&vs, &q, 64, &|_| true);
            let want: Vec<u32> = exact.iter().take(10).map(|n| n.1).collect();
            hits += approx
                .iter()
                .take(10)
                .filter(|n| want.contains(&n.1))
                .count();
        }
        assert!(hits >= 490, "recall {hits}/500");
    }

    #[test]
    fn levels_are_geometric() {
        let n = 100_000u128;
        let above = (0..n)
            .filter(|i| level_for(&uuid::Uuid::from_u128(i * 0x1234_5678_9abc)) >= 1)
            .count();
        // P(level ≥ 1) = 1/M.
        let expected = (n / M as u128) as usize;
        assert!(
            above.abs_diff(expected) < expected / 10,
            "{above} vs {expected}"
        );
    }
}
