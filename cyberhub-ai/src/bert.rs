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

#[derive(Debug)]
struct Block {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    feed_forward_in: Linear,
    feed_forward_out: Linear,
    output_norm: LayerNorm,
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
        let e = vb.pp("embeddings");
        let blocks = (0..config.num_hidden_layers)
            .map(|i| {
                let b = vb.pp(format!("encoder.layer.{i}"));
                let a = b.pp("attention");
                Ok(Block {
                    query: linear(h, h, a.pp("self.query"))?,
                    key: linear(h, h, a.pp("self.key"))?,
                    value: linear(h, h, a.pp("self.value"))?,
                    attention_out: linear(h, h, a.pp("output.dense"))?,
                    attention_norm: layer_norm(h, eps, a.pp("output.LayerNorm"))?,
                    feed_forward_in: linear(
                        h,
                        config.intermediate_size,
                        b.pp("intermediate.dense"),
                    )?,
                    feed_forward_out: linear(config.intermediate_size, h, b.pp("output.dense"))?,
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
        let mut x = self.norm.forward(&x)?;
        // Padding gets -10,000 added to its attention scores: softmax gives it ~0 weight.
        let bias = mask
            .to_dtype(DType::F32)?
            .affine(10_000.0, -10_000.0)?
            .reshape((batch, 1, 1, tokens))?;
        for block in &self.blocks {
            x = block.forward(&x, &bias, self.heads)?;
        }
        Ok(x)
    }
}

impl Block {
    fn forward(&self, x: &Tensor, bias: &Tensor, heads: usize) -> Result<Tensor> {
        let (batch, tokens, hidden) = x.dims3()?;
        let width = hidden / heads;
        // [batch, tokens, hidden] -> [batch, heads, tokens, width]
        let split = |t: Tensor| {
            t.reshape((batch, tokens, heads, width))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.query.forward(x)?)?;
        let k = split(self.key.forward(x)?)?;
        let v = split(self.value.forward(x)?)?;
        let scores = (q.matmul(&k.t()?)? / (width as f64).sqrt())?.broadcast_add(bias)?;
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = weights
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((batch, tokens, hidden))?;
        let attended = self
            .attention_norm
            .forward(&(self.attention_out.forward(&context)? + x)?)?;
        let inner = self.feed_forward_in.forward(&attended)?.gelu_erf()?;
        self.output_norm
            .forward(&(self.feed_forward_out.forward(&inner)? + &attended)?)
    }
}
