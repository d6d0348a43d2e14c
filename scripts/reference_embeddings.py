#!/usr/bin/env python3
"""reference_embeddings.py MODEL_DIR SENTENCES_FILE > reference.json

An independent float64 reference for all-MiniLM-L6-v2 sentence embeddings: a plain numpy
BERT forward pass (no torch, no candle, no ONNX) over the same safetensors weights, then mean
pooling and L2 normalisation, as sentence-transformers does. Tokenised with the model's own
tokenizer.json (Hugging Face `tokenizers`), truncation at 256 tokens.

Run once; its output is committed as test data for the embedder conformance test.
Needs: numpy, safetensors, tokenizers.
"""
import json
import math
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


_erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def main():
    model_dir, sentences_file = sys.argv[1], sys.argv[2]
    cfg = json.load(open(f"{model_dir}/config.json"))
    w = {k: v.astype(np.float64) for k, v in load_file(f"{model_dir}/model.safetensors").items()}
    tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tok.no_padding()
    tok.enable_truncation(256)
    heads = cfg["num_attention_heads"]
    eps = cfg["layer_norm_eps"]
    sentences = [line.rstrip("\n") for line in open(sentences_file, encoding="utf-8")]
    out = []
    for s in sentences:
        enc = tok.encode(s)
        ids = np.array(enc.ids)
        types = np.array(enc.type_ids)
        pos = np.arange(len(ids))
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][pos]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        n, h = x.shape
        d = h // heads
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            lin = lambda t, name: t @ w[p + name + ".weight"].T + w[p + name + ".bias"]
            q = lin(x, "attention.self.query").reshape(n, heads, d).transpose(1, 0, 2)
            k = lin(x, "attention.self.key").reshape(n, heads, d).transpose(1, 0, 2)
            v = lin(x, "attention.self.value").reshape(n, heads, d).transpose(1, 0, 2)
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(1, 0, 2).reshape(n, h)
            x = layer_norm(x + lin(ctx, "attention.output.dense"),
                           w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
            ff = lin(gelu(lin(x, "intermediate.dense")), "output.dense")
            x = layer_norm(x + ff, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        e = x.mean(0)
        e = e / max(np.linalg.norm(e), 1e-12)
        out.append({"text": s, "tokens": len(ids), "embedding": [round(float(v), 8) for v in e]})
    json.dump({"model": "sentence-transformers/all-MiniLM-L6-v2",
               "method": "numpy float64 BERT forward, mean pooling, L2 normalisation",
               "vectors": out}, sys.stdout, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
