//! Vector arithmetic used by validation and the embedded index.
//!
//! The kernels are written once over [`pulp::Simd`] and dispatched at run time to the widest
//! instruction set the CPU has (AVX-512 on x86-64 where present, else AVX2 + FMA, NEON on
//! aarch64, scalar otherwise): one binary runs on every machine of a kind, with no
//! `target-cpu` build flag (a binary built for AVX-512 dies with SIGILL on a CPU without it).

use pulp::{Arch, Simd, WithSimd};
use std::sync::OnceLock;

fn arch() -> Arch {
    static ARCH: OnceLock<Arch> = OnceLock::new();
    *ARCH.get_or_init(Arch::new)
}

/// Which kernel [`dot`] and [`l2_squared`] run on this CPU (for benchmark reports).
pub fn kernel() -> &'static str {
    struct Name;
    impl WithSimd for Name {
        type Output = &'static str;
        #[inline(always)]
        fn with_simd<S: Simd>(self, _: S) -> &'static str {
            match size_of::<S::f32s>() / size_of::<f32>() {
                16 => "16 lanes (AVX-512)",
                8 => "8 lanes (AVX2 + FMA)",
                4 => "4 lanes (NEON / SSE)",
                _ => "scalar",
            }
        }
    }
    arch().dispatch(Name)
}

struct Dot<'a>(&'a [f32], &'a [f32]);

impl WithSimd for Dot<'_> {
    type Output = f32;
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f32 {
        let (a, at) = S::as_simd_f32s(self.0);
        let (b, bt) = S::as_simd_f32s(self.1);
        let z = simd.splat_f32s(0.0);
        // Four independent accumulators hide the FMA latency.
        let (mut s0, mut s1, mut s2, mut s3) = (z, z, z, z);
        let (a4, ar) = a.as_chunks::<4>();
        let (b4, br) = b.as_chunks::<4>();
        for (&[x0, x1, x2, x3], &[y0, y1, y2, y3]) in a4.iter().zip(b4) {
            s0 = simd.mul_add_e_f32s(x0, y0, s0);
            s1 = simd.mul_add_e_f32s(x1, y1, s1);
            s2 = simd.mul_add_e_f32s(x2, y2, s2);
            s3 = simd.mul_add_e_f32s(x3, y3, s3);
        }
        for (&x, &y) in ar.iter().zip(br) {
            s0 = simd.mul_add_e_f32s(x, y, s0);
        }
        let s = simd.add_f32s(simd.add_f32s(s0, s1), simd.add_f32s(s2, s3));
        let mut sum = simd.reduce_sum_f32s(s);
        // Equal lengths: the tails line up. Unequal: the longer one's extra is ignored.
        if a.len() == b.len() {
            for (x, y) in at.iter().zip(bt) {
                sum += x * y;
            }
        }
        sum
    }
}

struct L2<'a>(&'a [f32], &'a [f32]);

impl WithSimd for L2<'_> {
    type Output = f32;
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f32 {
        let (a, at) = S::as_simd_f32s(self.0);
        let (b, bt) = S::as_simd_f32s(self.1);
        let z = simd.splat_f32s(0.0);
        let (mut s0, mut s1, mut s2, mut s3) = (z, z, z, z);
        let (a4, ar) = a.as_chunks::<4>();
        let (b4, br) = b.as_chunks::<4>();
        for (&[x0, x1, x2, x3], &[y0, y1, y2, y3]) in a4.iter().zip(b4) {
            let (d0, d1) = (simd.sub_f32s(x0, y0), simd.sub_f32s(x1, y1));
            let (d2, d3) = (simd.sub_f32s(x2, y2), simd.sub_f32s(x3, y3));
            s0 = simd.mul_add_e_f32s(d0, d0, s0);
            s1 = simd.mul_add_e_f32s(d1, d1, s1);
            s2 = simd.mul_add_e_f32s(d2, d2, s2);
            s3 = simd.mul_add_e_f32s(d3, d3, s3);
        }
        for (&x, &y) in ar.iter().zip(br) {
            let d = simd.sub_f32s(x, y);
            s0 = simd.mul_add_e_f32s(d, d, s0);
        }
        let s = simd.add_f32s(simd.add_f32s(s0, s1), simd.add_f32s(s2, s3));
        let mut sum = simd.reduce_sum_f32s(s);
        if a.len() == b.len() {
            for (x, y) in at.iter().zip(bt) {
                let d = x - y;
                sum += d * d;
            }
        }
        sum
    }
}

/// The common prefix of two slices (the kernels work on equal lengths).
#[inline]
fn same_len<'a>(a: &'a [f32], b: &'a [f32]) -> (&'a [f32], &'a [f32]) {
    let n = a.len().min(b.len());
    (a.get(..n).unwrap_or(&[]), b.get(..n).unwrap_or(&[]))
}

/// Dot product (the slices have equal length; extra components of the longer are ignored).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a, b) = same_len(a, b);
    arch().dispatch(Dot(a, b))
}

/// Squared Euclidean distance (extra components of the longer slice are ignored).
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    let (a, b) = same_len(a, b);
    arch().dispatch(L2(a, b))
}

/// Euclidean norm.
#[inline]
pub fn norm(v: &[f32]) -> f32 {
    dot(v, v).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    #[test]
    fn kernels_agree_with_plain_arithmetic_at_every_length() {
        let mut seed = 12345u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        for n in [
            0usize, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 127, 384, 385, 1000,
        ] {
            let a: Vec<f32> = (0..n).map(|_| next()).collect();
            let b: Vec<f32> = (0..n).map(|_| next()).collect();
            let want = naive_dot(&a, &b);
            assert!((f64::from(dot(&a, &b)) - want).abs() < 1e-4, "dot at {n}");
            let d: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
            let want = naive_dot(&d, &d);
            assert!(
                (f64::from(l2_squared(&a, &b)) - want).abs() < 1e-4,
                "l2 at {n}"
            );
        }
        // Unequal lengths: the common prefix.
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[1.0, 1.0]), 3.0);
        assert_eq!(l2_squared(&[1.0, 2.0, 3.0], &[1.0, 1.0]), 1.0);
        assert!(!kernel().is_empty());
    }
}
