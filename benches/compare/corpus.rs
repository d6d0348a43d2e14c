//! The real-text corpus: Debian's package descriptions (short descriptions and the
//! paragraphs of the long ones), distinct, in a fixed shuffled order; embedded once with the
//! project's model and cached as raw f32 under the bench cache.
//!
//! Source: the `Translation-en` indexes that `scripts/bench-compare.sh` fetches with apt into
//! `$CYBERHUB_BENCH_CACHE/apt-lists` (about 147,000 distinct texts), else `apt-cache
//! dumpavail` (short descriptions only, about 60,000; what the smoke mode uses).

use crate::{BenchResult, Ctx};
use cyberhub_ai::{CandleEmbedder, DynEmbedder, InferencePool, OnnxEmbedder};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

/// Longest text kept, in bytes (cut at a character boundary).
const MAX_TEXT: usize = 2000;

/// Distinct texts of at least 20 characters from apt's description records, in file order.
fn parse(records: &str, seen: &mut HashSet<String>, out: &mut Vec<String>) {
    let mut para: Vec<&str> = Vec::new();
    let mut in_desc = false;
    let flush = |para: &mut Vec<&str>, seen: &mut HashSet<String>, out: &mut Vec<String>| {
        let text = para.join(" ");
        para.clear();
        let mut text = text.trim();
        // The model reads 256 tokens (about 1,000 characters): longer paragraphs are cut
        // (the embedders refuse texts over 8 KiB).
        if text.len() > MAX_TEXT {
            let mut end = MAX_TEXT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text = &text[..end];
        }
        if text.len() >= 20 && seen.insert(text.to_owned()) {
            out.push(text.to_owned());
        }
    };
    for line in records.lines() {
        let short = line
            .strip_prefix("Description-en:")
            .or_else(|| line.strip_prefix("Description:"));
        if let Some(s) = short {
            flush(&mut para, seen, out);
            para.push(s.trim());
            flush(&mut para, seen, out);
            in_desc = true;
        } else if in_desc && line.starts_with(' ') {
            let t = line.trim();
            if t == "." {
                flush(&mut para, seen, out);
            } else {
                para.push(t);
            }
        } else {
            flush(&mut para, seen, out);
            in_desc = false;
        }
    }
    flush(&mut para, seen, out);
}

/// `n` texts (distinct, shuffled with a fixed seed): the first ones serve as held-out queries.
pub fn debian(ctx: &Ctx, n: usize) -> BenchResult<Vec<String>> {
    let mut seen = HashSet::new();
    let mut texts = Vec::new();
    let lists = ctx.cache.join("apt-lists");
    let mut sources = Vec::new();
    if !ctx.smoke {
        for e in std::fs::read_dir(&lists).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains("_i18n_Translation-en") {
                sources.push(e.path());
            }
        }
        sources.sort();
    }
    for src in &sources {
        let out = Command::new("/usr/lib/apt/apt-helper")
            .arg("cat-file")
            .arg(src)
            .output()?;
        if !out.status.success() {
            return Err(format!("apt-helper cat-file {} failed", src.display()).into());
        }
        parse(&String::from_utf8_lossy(&out.stdout), &mut seen, &mut texts);
    }
    let from = if texts.is_empty() {
        let out = Command::new("apt-cache").arg("dumpavail").output()?;
        parse(&String::from_utf8_lossy(&out.stdout), &mut seen, &mut texts);
        "apt-cache dumpavail (short descriptions only)".to_owned()
    } else {
        format!("{} Translation-en index(es)", sources.len())
    };
    eprintln!("  corpus: {} distinct texts from {from}", texts.len());
    if texts.len() < n {
        eprintln!(
            "  corpus: fewer texts than asked for ({} < {n}); using them all",
            texts.len()
        );
    }
    texts.shuffle(&mut StdRng::seed_from_u64(2026));
    texts.truncate(n);
    Ok(texts)
}

/// FNV-1a over the texts (the cache key).
fn fingerprint(texts: &[String]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for t in texts {
        for b in t.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The embedder the corpus is embedded with: ONNX Runtime when its files are there (the
/// fastest), else candle. Both run the same weights; the tag keeps their caches apart.
async fn embedder(dir: &Path) -> BenchResult<(&'static str, DynEmbedder)> {
    let lib = dir.join("lib/libonnxruntime.so");
    if dir.join("model_fp32.onnx").exists() && lib.exists() {
        let dir = dir.to_owned();
        let e = tokio::task::spawn_blocking(move || {
            OnnxEmbedder::load(&dir, &lib, InferencePool::new(1))
        })
        .await??;
        return Ok(("onnx", Arc::new(e)));
    }
    let e = CandleEmbedder::load_async(dir.to_owned(), InferencePool::new(1)).await?;
    Ok(("candle", Arc::new(e)))
}

/// The texts' embeddings, from the cache or computed (batches of 32) and cached.
pub async fn embed_cached(ctx: &Ctx, dir: &Path, texts: &[String]) -> BenchResult<Vec<Vec<f32>>> {
    let (tag, e) = embedder(dir).await?;
    let dim = e.dimension();
    let path = ctx.cache.join(format!(
        "debian-{}-{:016x}-{tag}.f32",
        texts.len(),
        fingerprint(texts)
    ));
    if let Ok(bytes) = std::fs::read(&path) {
        if bytes.len() == texts.len() * dim * 4 {
            eprintln!("  corpus embeddings: cached ({})", path.display());
            let floats: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            return Ok(floats.chunks(dim).map(<[f32]>::to_vec).collect());
        }
    }
    let t = Instant::now();
    // Batches of similar length (less padding: the texts run from 3 to 256 tokens); the
    // results go back to the texts' order.
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i].len());
    let mut out = vec![Vec::new(); texts.len()];
    let mut done = 0usize;
    for (i, idx) in order.chunks(32).enumerate() {
        let batch: Vec<String> = idx.iter().map(|&j| texts[j].clone()).collect();
        for (&j, v) in idx.iter().zip(e.embed(&batch).await?) {
            out[j] = v;
        }
        done += idx.len();
        if i % 500 == 499 {
            eprintln!(
                "  corpus embeddings: {done} / {} ({:.0} texts/s)",
                texts.len(),
                done as f64 / t.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "  corpus embeddings: {} texts with {tag} in {:.0} s",
        out.len(),
        t.elapsed().as_secs_f64()
    );
    std::fs::create_dir_all(&ctx.cache)?;
    let bytes: Vec<u8> = out.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &path)?;
    Ok(out)
}
