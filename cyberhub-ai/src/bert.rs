//! The BERT encoder all-MiniLM-L6-v2 is (embeddings, then `num_hidden_layers` blocks of
//! multi-head self-attention and a GELU feed-forward layer, each with a residual connection
//! and layer normalisation), written on `candle-nn`'s layers.
//!
//! It is here rather than taken from `candle-transformers` because that crate compiles some
//! 80,000 lines of other models too, the largest single item in a cold build of the
//! default server; this is the one architecture we run. Its output is checked against an
//! independent float64 reference and against ONNX Runtime (`tests/embedders.rs`).

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{embedding, layer_norm, linear, Embedding, LayerNorm, Linear, VarBuilder};

/// The fields of a Hugging Face BERT `config.json` the encoder needs.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct BertConfig {
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// Width of every hidden state (384 for MiniLM-L6).
    pub hidden_size: usize,
    /// Encoder blocks.
    pub num_hidden_layers: usize,
    /// Attention heads per block (`hidden_size` must divide evenly).
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Activation of the feed-forward layer; only `"gelu"` (the exact, erf-based one) is supported.
    pub hidden_act: String,
    /// Longest input the position embeddings cover.
    pub max_position_embeddings: usize,
    /// Segment types (2 for BERT).
    pub type_vocab_size: usize,
    /// Epsilon of every layer normalisation.
    pub layer_norm_eps: f64,
    /// Only `"absolute"` (the default) is supported.
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

impl BertConfig {
    fn check(&self) -> std::result::Result<(), String> {
        if self.hidden_act != "gelu" {
            return Err(format!("unsupported hidden_act {:?}", self.hidden_act));
        }
        if self
            .position_embedding_type
            .as_deref()
            .is_some_and(|p| p != "absolute")
        {
            return Err(format!(
                "unsupported position_embedding_type {:?}",
                self.position_embedding_type
            ));
        }
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err("hidden_size is not a multiple of num_attention_heads".into());
        }
        Ok(())
    }
}

/// A loaded BERT encoder.
#[derive(Debug)]
pub struct Bert {
    words: Embedding,
    positions: Embedding,
    segments: Embedding,
    norm: LayerNorm,
    blocks: Vec<Block>,
    heads: usize,
    max_positions: usize,
}

/// One encoder block. The query, key and value projections are one `[3 × hidden, hidden]`
/// matrix (one matrix product instead of three), with the attention's 1/√width scale folded
/// into the query rows; the feed-forward input's bias is added in the GELU pass.
#[derive(Debug)]
struct Block {
    qkv: Dense,
    attention_out: Dense,
    attention_norm: LayerNorm,
    feed_forward_in: Dense,
    feed_forward_in_bias: Vec<f32>,
    feed_forward_out: Dense,
    output_norm: LayerNorm,
}

/// A linear layer on rows, its weight stored transposed (`[in, out]`, contiguous) at load:
/// the matrix product then reads the weight row by row (candle's `Linear` multiplies by a
/// transposed view, which the matrix kernel re-packs with strided reads on every call).
#[derive(Debug)]
struct Dense {
    weight_t: Tensor,
    bias: Option<Tensor>,
}

impl Dense {
    fn new(l: &Linear) -> Result<Self> {
        Ok(Self {
            weight_t: l.weight().t()?.contiguous()?,
            bias: l.bias().cloned(),
        })
    }

    fn without_bias(l: &Linear) -> Result<Self> {
        Ok(Self {
            weight_t: l.weight().t()?.contiguous()?,
            bias: None,
        })
    }

    /// `x`: `[rows, in]` → `[rows, out]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.matmul(&self.weight_t)?;
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

impl Bert {
    /// Loads the weights (Hugging Face names, with or without a `bert.` prefix).
    pub fn load(vb: VarBuilder, config: &BertConfig) -> Result<Self> {
        config.check().map_err(candle_core::Error::Msg)?;
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let (h, eps) = (config.hidden_size, config.layer_norm_eps);
        let scale = 1.0 / ((h / config.num_attention_heads) as f64).sqrt();
        let e = vb.pp("embeddings");
        let blocks = (0..config.num_hidden_layers)
            .map(|i| {
                let b = vb.pp(format!("encoder.layer.{i}"));
                let a = b.pp("attention");
                let (q, k, v) = (
                    linear(h, h, a.pp("self.query"))?,
                    linear(h, h, a.pp("self.key"))?,
                    linear(h, h, a.pp("self.value"))?,
                );
                let bias = |l: &Linear| {
                    l.bias()
                        .cloned()
                        .ok_or_else(|| candle_core::Error::Msg("a projection has no bias".into()))
                };
                let qkv = Dense::new(&Linear::new(
                    Tensor::cat(
                        &[
                            (q.weight() * scale)?,
                            k.weight().clone(),
                            v.weight().clone(),
                        ],
                        0,
                    )?,
                    Some(Tensor::cat(
                        &[(bias(&q)? * scale)?, bias(&k)?, bias(&v)?],
                        0,
                    )?),
                ))?;
                let ff_in = linear(h, config.intermediate_size, b.pp("intermediate.dense"))?;
                Ok(Block {
                    qkv,
                    attention_out: Dense::new(&linear(h, h, a.pp("output.dense"))?)?,
                    attention_norm: layer_norm(h, eps, a.pp("output.LayerNorm"))?,
                    feed_forward_in_bias: bias(&ff_in)?.to_vec1()?,
                    feed_forward_in: Dense::without_bias(&ff_in)?,
                    feed_forward_out: Dense::new(&linear(
                        config.intermediate_size,
                        h,
                        b.pp("output.dense"),
                    )?)?,
                    output_norm: layer_norm(h, eps, b.pp("output.LayerNorm"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            words: embedding(config.vocab_size, h, e.pp("word_embeddings"))?,
            positions: embedding(
                config.max_position_embeddings,
                h,
                e.pp("position_embeddings"),
            )?,
            segments: embedding(config.type_vocab_size, h, e.pp("token_type_embeddings"))?,
            norm: layer_norm(h, eps, e.pp("LayerNorm"))?,
            blocks,
            heads: config.num_attention_heads,
            max_positions: config.max_position_embeddings,
        })
    }

    /// The last hidden states, `[batch, tokens, hidden]`, of token ids `[batch, tokens]`
    /// (u32), their segment ids and their attention mask (1 for a token, 0 for padding).
    /// The states of padding positions are left at what the attention gives a row that
    /// attends to nothing (meaningless: pool with the mask); those of tokens are the model's.
    pub fn forward(&self, ids: &Tensor, segments: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, tokens) = ids.dims2()?;
        if tokens > self.max_positions {
            return Err(candle_core::Error::Msg(format!(
                "{tokens} tokens exceed the model's {} positions",
                self.max_positions
            )));
        }
        let positions = Tensor::arange(0u32, tokens as u32, ids.device())?.unsqueeze(0)?;
        let x = (self.words.forward(ids)? + self.segments.forward(segments)?)?
            .broadcast_add(&self.positions.forward(&positions)?)?;
        let hidden = x.dim(2)?;
        // Rows of [batch × tokens, hidden] from here on: every matrix product is one gemm.
        let mut x = self.norm.forward(&x.reshape((batch * tokens, hidden))?)?;
        let keep: Vec<bool> = mask
            .flatten_all()?
            .to_dtype(DType::U32)?
            .to_vec1::<u32>()?
            .into_iter()
            .map(|m| m != 0)
            .collect();
        let shape = Shape {
            tokens,
            hidden,
            heads: self.heads,
        };
        for block in &self.blocks {
            x = block.forward(&x, &keep, shape)?;
        }
        x.reshape((batch, tokens, hidden))
    }
}

#[derive(Debug, Clone, Copy)]
struct Shape {
    tokens: usize,
    hidden: usize,
    heads: usize,
}

impl Block {
    /// `x`: `[rows, hidden]`, rows = batch × tokens; `keep[row]`: not padding.
    fn forward(&self, x: &Tensor, keep: &[bool], shape: Shape) -> Result<Tensor> {
        let (rows, hidden) = x.dims2()?;
        let qkv = self.qkv.forward(x)?.to_vec2_flat()?;
        let context = attention(&qkv, keep, shape);
        let context = Tensor::from_vec(context, (rows, hidden), x.device())?;
        let attended = self
            .attention_norm
            .forward(&(self.attention_out.forward(&context)? + x)?)?;
        let inner = self.feed_forward_in.forward(&attended)?;
        let width = inner.dim(1)?;
        let inner = gelu_with_bias(inner.to_vec2_flat()?, &self.feed_forward_in_bias);
        let inner = Tensor::from_vec(inner, (rows, width), x.device())?;
        self.output_norm
            .forward(&(self.feed_forward_out.forward(&inner)? + &attended)?)
    }
}

trait Flat {
    fn to_vec2_flat(&self) -> Result<Vec<f32>>;
}

impl Flat for Tensor {
    /// A contiguous copy of the tensor's f32 elements, row-major.
    fn to_vec2_flat(&self) -> Result<Vec<f32>> {
        self.flatten_all()?.to_vec1::<f32>()
    }
}

/// Multi-head self-attention over the rows of `qkv` (`[rows, 3 × hidden]`: the scaled
/// queries, keys and values of `rows / tokens` texts of `tokens` rows each), padding keys
/// left out (exactly what the -∞ mask of the reference does) and padding queries skipped
/// (they are never read: every key they would feed is masked, pooling skips them). Returns
/// `[rows, hidden]`, heads side by side. One row per task on the thread pool.
fn attention(qkv: &[f32], keep: &[bool], s: Shape) -> Vec<f32> {
    use rayon::prelude::*;
    let (h, t) = (s.hidden, s.tokens);
    let width = h / s.heads;
    let mut out = vec![0.0_f32; keep.len() * h];
    out.par_chunks_mut(h).enumerate().for_each(|(row, out)| {
        if !keep.get(row).copied().unwrap_or(false) {
            return;
        }
        let first = row - row % t; // the text's first row
        let Some(q) = qkv.get(row * 3 * h..row * 3 * h + h) else {
            return;
        };
        let mut scores = Vec::with_capacity(t);
        for head in 0..s.heads {
            let lo = head * width;
            let (Some(q), Some(out)) = (q.get(lo..lo + width), out.get_mut(lo..lo + width)) else {
                continue;
            };
            scores.clear();
            let mut max = f32::NEG_INFINITY;
            for j in first..first + t {
                let k = qkv.get(j * 3 * h + h + lo..j * 3 * h + h + lo + width);
                let score = match (keep.get(j), k) {
                    (Some(true), Some(k)) => q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>(),
                    _ => f32::NEG_INFINITY,
                };
                max = max.max(score);
                scores.push(score);
            }
            let mut total = 0.0_f32;
            for sc in &mut scores {
                *sc = (*sc - max).exp();
                total += *sc;
            }
            let norm = 1.0 / total;
            for (j, w) in (first..first + t).zip(&scores) {
                if *w == 0.0 {
                    continue;
                }
                if let Some(v) = qkv.get(j * 3 * h + 2 * h + lo..j * 3 * h + 2 * h + lo + width) {
                    let w = w * norm;
                    out.iter_mut().zip(v).for_each(|(o, v)| *o += w * v);
                }
            }
        }
    });
    out
}

/// GELU (the exact, erf-based one) of `x + bias` (bias repeated per row of `bias.len()`),
/// in parallel on the thread pool.
fn gelu_with_bias(mut x: Vec<f32>, bias: &[f32]) -> Vec<f32> {
    use rayon::prelude::*;
    x.par_chunks_mut(bias.len().max(1)).for_each(|row| {
        for (v, b) in row.iter_mut().zip(bias) {
            let y = *v + b;
            *v = 0.5 * y * (1.0 + libm::erff(y * std::f32::consts::FRAC_1_SQRT_2));
        }
    });
    x
}
