//! A deterministic feature-hashing embedder for **unit tests only**: fast, dependency-free,
//! and similar texts (shared words and character trigrams) get similar vectors. It is never
//! used as a fallback for a missing model.

use crate::embedder::{check_batch, normalize, Embedder};
use crate::Result;

/// Hashes lower-cased words and character trigrams into `dimension` signed buckets.
#[derive(Debug, Clone)]
pub struct HashingEmbedder {
    dimension: usize,
}

impl HashingEmbedder {
    /// An embedder producing vectors of `dimension` (≥ 8) components.
    pub fn new(dimension: usize) -> Self {
        Self {
            dimension: dimension.max(8),
        }
    }

    /// The vector for one text (synchronous; cheap).
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dimension];
        let lower = text.to_lowercase();
        let mut add = |feature: &str, weight: f32| {
            let h = fnv1a(feature.as_bytes());
            let i = (h % self.dimension as u64) as usize;
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            if let Some(slot) = v.get_mut(i) {
                *slot += sign * weight;
            }
        };
        for word in lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            add(word, 1.0);
            let chars: Vec<char> = format!(" {word} ").chars().collect();
            for w in chars.windows(3) {
                add(&w.iter().collect::<String>(), 0.5);
            }
        }
        normalize(&mut v);
        v
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[async_trait::async_trait]
impl Embedder for HashingEmbedder {
    fn model_id(&self) -> &str {
        "cyberhub/feature-hashing (tests only)"
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        check_batch(texts)?;
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn deterministic_unit_and_similarity_preserving() {
        let e = HashingEmbedder::new(384);
        let a = e.embed_one("SQL injection in login forms");
        assert_eq!(a, e.embed_one("SQL injection in login forms"));
        assert!((cos(&a, &a) - 1.0).abs() < 1e-5);
        let near = e.embed_one("preventing SQL injection");
        let far = e.embed_one("cloud IAM policies for storage buckets");
        assert!(cos(&a, &near) > cos(&a, &far) + 0.1);
        assert!(e.embed_one("").iter().all(|x| *x == 0.0));
    }
}
