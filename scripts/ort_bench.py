"""The Python reference of the comparison harness (benches/compare, section `embed`):
all-MiniLM-L6-v2 through Python onnxruntime, timed the way our embedders are.

  python ort_bench.py --model-dir DIR --sentences FILE.json --threads N
                      [--batch 1 --batch 32] [--rounds 3] [--embeddings OUT.f32]

Each batch: tokenize (tokenizer.json, truncation 256, padding to the batch's longest),
run DIR/model_fp32.onnx (intra-op threads = N, inter-op 1, all graph optimisations), mean
pooling over the attention mask, L2 normalisation; warm-up on the first 4 batches, then
`rounds` timed passes over all sentences. Prints one JSON object on stdout:
{"onnxruntime": ver, "tokenizers": ver, "numpy": ver, "threads": N,
 "load_s": seconds to load the tokenizer and create the session,
 "runs": [{"batch": b, "rates": [sentences/s per pass, ...]}, ...]}.
--embeddings writes every sentence's vector (batch 32), little-endian f32, row-major.
"""
import argparse, json, sys, time

import numpy as np
import onnxruntime as ort
import tokenizers
from tokenizers import Tokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--sentences", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--batch", type=int, action="append")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--embeddings")
    a = ap.parse_args()
    texts = json.load(open(a.sentences))
    t_load = time.perf_counter()
    tok = Tokenizer.from_file(f"{a.model_dir}/tokenizer.json")
    tok.enable_truncation(max_length=256)
    tok.enable_padding()  # pad id 0 ([PAD]), to the batch's longest
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(f"{a.model_dir}/model_fp32.onnx", so, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    load_s = time.perf_counter() - t_load

    def embed(batch):
        enc = tok.encode_batch(batch)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = sess.run(None, feed)[0]  # [batch, tokens, 384]
        m = mask[:, :, None].astype(np.float32)
        mean = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
        return mean / np.clip(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12, None)

    def measure(b, fn):
        chunks = [texts[i:i + b] for i in range(0, len(texts), b)]
        for c in chunks[:4]:
            fn(c)  # warm-up
        rates = []
        for _ in range(a.rounds):
            t = time.perf_counter()
            for c in chunks:
                fn(c)
            rates.append(len(texts) / (time.perf_counter() - t))
        return rates

    runs = []
    for b in a.batch or [1, 32]:
        runs.append({"batch": b, "rates": measure(b, embed)})
    if a.embeddings:
        out = np.concatenate([embed(texts[i:i + 32]) for i in range(0, len(texts), 32)])
        out.astype("<f4").tofile(a.embeddings)
    json.dump({"onnxruntime": ort.__version__, "tokenizers": tokenizers.__version__,
               "numpy": np.__version__, "threads": a.threads, "load_s": load_s, "runs": runs}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
