#!/usr/bin/env python3
"""Convert a CTranslate2 Whisper `model.bin` into two ONNX graphs for ONNX Runtime.

    convert_whisper.py MODEL_BIN OUT_DIR

Writes OUT_DIR/encoder.onnx and OUT_DIR/decoder.onnx (f32 weights, batch size 1).

encoder.onnx
    mel       f32 [1, n_mels, T]      log-mel frames, T even and <= 3000 (the trimmed utterance
                                      is fine: the positional embedding is sliced to T/2)
    -> cross_k f32 [L, 1, H, dh, S]   per decoder layer cross-attention keys (stored transposed)
       cross_v f32 [L, 1, H, S, dh]   per decoder layer cross-attention values, S = T/2

decoder.onnx (one step of greedy decoding with a self-attention key/value cache)
    tokens    i64 [1, N]              new tokens (the prompt first, then one token per step)
    past_k    f32 [L, 1, H, dh, P]    self-attention keys of the P earlier tokens (P = 0 at first)
    past_v    f32 [L, 1, H, P, dh]
    cross_k, cross_v                  from the encoder
    -> logits    f32 [1, N, V]
       present_k f32 [L, 1, H, dh, P+N]
       present_v f32 [L, 1, H, P+N, dh]
    The position offset is P, read from the cache's shape, so it cannot disagree with the cache.

Only numpy and onnx are needed. The CTranslate2 format: u32 version, length-prefixed spec name,
u32 revision, u32 variable count, then per variable: name, rank (u8), dims (u32), dtype (u8),
byte count (u32), data; then aliases (name -> target). Linear weights are [out, in].
"""

import argparse
import re
import struct
import sys
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
BF16 = 5


def log(msg):
    print(f"[convert] {msg}", flush=True)


def read_ct2(path):
    """All variables of a CTranslate2 model.bin as numpy arrays (floats as f32)."""
    data = Path(path).read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        value = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return value[0]

    def string():
        nonlocal pos
        n = take("<H")
        raw = data[pos : pos + n]
        pos += n
        return raw.rstrip(b"\0").decode("utf-8")

    version = take("<I")
    if version < 5:
        sys.exit(f"unsupported CTranslate2 model version {version} (need >= 5)")
    spec = string()
    if spec != "WhisperSpec":
        sys.exit(f"not a Whisper model: spec {spec!r}")
    take("<I")  # spec revision
    variables = {}
    for _ in range(take("<I")):
        name = string()
        rank = take("<B")
        dims = [take("<I") for _ in range(rank)]
        dtype = take("<B")
        nbytes = take("<I")
        raw = data[pos : pos + nbytes]
        pos += nbytes
        if dtype == BF16:
            arr = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif dtype in DTYPES:
            arr = np.frombuffer(raw, dtype=DTYPES[dtype])
        else:
            sys.exit(f"unknown dtype code {dtype} for {name}")
        arr = arr.reshape(dims)
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        variables[name] = arr
    for _ in range(take("<I")):
        alias = string()
        target = string()
        variables[alias] = variables[target]
    return variables


class Graph:
    """A thin helper over onnx.helper: named nodes, initializers and cached constants."""

    def __init__(self, weights):
        self.w = weights
        self.nodes = []
        self.inits = {}
        self.count = 0

    def fresh(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def init(self, name, array):
        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(np.array(array, order="C"), name)
        return name

    def const(self, values, dtype=np.int64):
        arr = np.array(values, dtype=dtype)
        key = f"const_{arr.dtype}_{'_'.join(str(v) for v in arr.ravel())}_{arr.ndim}"
        return self.init(key.replace("-", "m").replace(".", "p"), arr)

    def op(self, op_type, inputs, hint=None, outputs=None, **attrs):
        outs = outputs or [self.fresh(hint or op_type.lower())]
        self.nodes.append(helper.make_node(op_type, inputs, outs, **attrs))
        return outs[0] if len(outs) == 1 else outs

    # Building blocks -------------------------------------------------------------------------

    def linear(self, x, prefix, rows=None, bias=True):
        """x @ W^T + b for the CTranslate2 weight `prefix/weight` ([out, in]); `rows` picks a slice
        of a fused projection (Whisper fuses q/k/v)."""
        w = self.w[f"{prefix}/weight"]
        b = self.w.get(f"{prefix}/bias")
        tag = prefix.replace("/", ".")
        if rows is not None:
            w = w[rows[0] : rows[1]]
            b = None if b is None else b[rows[0] : rows[1]]
            tag = f"{tag}.{rows[0]}"
        y = self.op("MatMul", [x, self.init(f"{tag}.wT", w.T)], "mm")
        if bias and b is not None and np.any(b != 0):
            y = self.op("Add", [y, self.init(f"{tag}.b", b)], "add")
        return y

    def layer_norm(self, x, prefix):
        gamma = self.init(f"{prefix}.gamma".replace("/", "."), self.w[f"{prefix}/gamma"])
        beta = self.init(f"{prefix}.beta".replace("/", "."), self.w[f"{prefix}/beta"])
        return self.op("LayerNormalization", [x, gamma, beta], "ln", axis=-1, epsilon=1e-5)

    def gelu(self, x):
        # Exact (erf) GELU; ONNX Runtime fuses this pattern into its Gelu kernel.
        h = self.op("Div", [x, self.const(np.sqrt(2.0), np.float32)], "gelu")
        h = self.op("Erf", [h], "gelu")
        h = self.op("Add", [h, self.const(1.0, np.float32)], "gelu")
        h = self.op("Mul", [x, h], "gelu")
        return self.op("Mul", [h, self.const(0.5, np.float32)], "gelu")

    def heads(self, x, n_heads, d_head, transpose_keys=False):
        """[1, N, D] -> [1, H, N, dh] (or [1, H, dh, N] for keys)."""
        h = self.op("Reshape", [x, self.const([1, -1, n_heads, d_head])], "heads")
        perm = [0, 2, 3, 1] if transpose_keys else [0, 2, 1, 3]
        return self.op("Transpose", [h], "heads", perm=perm)

    def merge(self, x, d_model):
        """[1, H, N, dh] -> [1, N, D]."""
        h = self.op("Transpose", [x], "merge", perm=[0, 2, 1, 3])
        return self.op("Reshape", [h, self.const([1, -1, d_model])], "merge")

    def attend(self, q, k_t, v, mask=None):
        """softmax(q k^T + mask) v with q already scaled; k_t is [1, H, dh, Nk]."""
        scores = self.op("MatMul", [q, k_t], "scores")
        if mask is not None:
            scores = self.op("Add", [scores, mask], "scores")
        probs = self.op("Softmax", [scores], "probs", axis=-1)
        return self.op("MatMul", [probs, v], "ctx")

    def ffn(self, x, prefix):
        h = self.layer_norm(x, f"{prefix}/layer_norm")
        h = self.gelu(self.linear(h, f"{prefix}/linear_0"))
        return self.op("Add", [x, self.linear(h, f"{prefix}/linear_1")], "res")

    def model(self, name, inputs, outputs):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, list(self.inits.values()))
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        model.producer_name = "voice-agent convert_whisper.py"
        return model


def dims_of(w):
    d_model = w["encoder/conv1/weight"].shape[0]
    n_mels = w["encoder/conv1/weight"].shape[1]
    n_heads = int(w["encoder/num_heads"].ravel()[0])
    enc_layers = len({k.split("/")[1] for k in w if re.match(r"encoder/layer_\d+/", k)})
    dec_layers = len({k.split("/")[1] for k in w if re.match(r"decoder/layer_\d+/", k)})
    vocab = w["decoder/embeddings/weight"].shape[0]
    return d_model, n_mels, n_heads, enc_layers, dec_layers, vocab


def build_encoder(w):
    d_model, n_mels, n_heads, enc_layers, dec_layers, _ = dims_of(w)
    d_head = d_model // n_heads
    scale = np.float32(d_head**-0.5)
    g = Graph(w)

    x = g.op("Conv", ["mel", g.init("conv1.w", w["encoder/conv1/weight"]), g.init("conv1.b", w["encoder/conv1/bias"])],
             "conv", kernel_shape=[3], pads=[1, 1])
    x = g.gelu(x)
    x = g.op("Conv", [x, g.init("conv2.w", w["encoder/conv2/weight"]), g.init("conv2.b", w["encoder/conv2/bias"])],
             "conv", kernel_shape=[3], pads=[1, 1], strides=[2])
    x = g.gelu(x)
    x = g.op("Transpose", [x], "frames", perm=[0, 2, 1])  # [1, S, D]

    # Positional embedding sliced to the actual length S (variable T).
    shape = g.op("Shape", [x], "shape")
    s_len = g.op("Slice", [shape, g.const([1]), g.const([2])], "s_len")
    pos = g.op("Slice", [g.init("enc.pos", w["encoder/position_encodings/encodings"]), g.const([0]), s_len, g.const([0])], "pos")
    x = g.op("Add", [x, pos], "x")

    for i in range(enc_layers):
        p = f"encoder/layer_{i}"
        h = g.layer_norm(x, f"{p}/self_attention/layer_norm")
        q = g.linear(h, f"{p}/self_attention/linear_0", (0, d_model))
        k = g.linear(h, f"{p}/self_attention/linear_0", (d_model, 2 * d_model))
        v = g.linear(h, f"{p}/self_attention/linear_0", (2 * d_model, 3 * d_model))
        q = g.op("Mul", [q, g.const(scale, np.float32)], "q")
        ctx = g.attend(g.heads(q, n_heads, d_head), g.heads(k, n_heads, d_head, True), g.heads(v, n_heads, d_head))
        x = g.op("Add", [x, g.linear(g.merge(ctx, d_model), f"{p}/self_attention/linear_1")], "res")
        x = g.ffn(x, f"{p}/ffn")
    enc = g.layer_norm(x, "encoder/layer_norm")

    ks, vs = [], []
    for i in range(dec_layers):
        p = f"decoder/layer_{i}/attention/linear_1"  # fused [k; v] of the cross-attention
        k = g.heads(g.linear(enc, p, (0, d_model)), n_heads, d_head, True)
        v = g.heads(g.linear(enc, p, (d_model, 2 * d_model)), n_heads, d_head)
        ks.append(g.op("Unsqueeze", [k, g.const([0])], "k"))
        vs.append(g.op("Unsqueeze", [v, g.const([0])], "v"))
    g.op("Concat", ks, outputs=["cross_k"], axis=0)
    g.op("Concat", vs, outputs=["cross_v"], axis=0)

    f32 = TensorProto.FLOAT
    return g.model(
        "whisper_encoder",
        [helper.make_tensor_value_info("mel", f32, [1, n_mels, "T"])],
        [
            helper.make_tensor_value_info("cross_k", f32, [dec_layers, 1, n_heads, d_head, "S"]),
            helper.make_tensor_value_info("cross_v", f32, [dec_layers, 1, n_heads, "S", d_head]),
        ],
    )


def build_decoder(w):
    d_model, _, n_heads, _, n_layers, vocab = dims_of(w)
    d_head = d_model // n_heads
    scale = np.float32(d_head**-0.5)
    g = Graph(w)

    # P (tokens already in the cache) and N (new tokens) as scalars.
    past = g.op("Shape", ["past_v"], "past_shape")
    p_len = g.op("Slice", [past, g.const([3]), g.const([4])], "p_len")
    tok_shape = g.op("Shape", ["tokens"], "tok_shape")
    n_len = g.op("Slice", [tok_shape, g.const([1]), g.const([2])], "n_len")
    end = g.op("Add", [p_len, n_len], "end")

    emb = g.init("dec.emb", w["decoder/embeddings/weight"])
    x = g.op("Gather", [emb, "tokens"], "embed", axis=0)
    pos = g.op("Slice", [g.init("dec.pos", w["decoder/position_encodings/encodings"]), p_len, end, g.const([0])], "pos")
    x = g.op("Add", [x, pos], "x")

    # Causal mask [N, P+N]: new token i (absolute P+i) sees keys 0..=P+i.
    p0 = g.op("Squeeze", [p_len, g.const([0])], "p0")
    e0 = g.op("Squeeze", [end, g.const([0])], "e0")
    q_pos = g.op("Range", [p0, e0, g.const(1)], "q_pos")
    k_pos = g.op("Range", [g.const(0), e0, g.const(1)], "k_pos")
    future = g.op("Greater", [g.op("Unsqueeze", [k_pos, g.const([0])], "kp"), g.op("Unsqueeze", [q_pos, g.const([1])], "qp")], "future")
    mask = g.op("Where", [future, g.const(-1e9, np.float32), g.const(0.0, np.float32)], "mask")

    present_k, present_v = [], []
    for i in range(n_layers):
        p = f"decoder/layer_{i}"
        layer = g.const(i)
        h = g.layer_norm(x, f"{p}/self_attention/layer_norm")
        q = g.linear(h, f"{p}/self_attention/linear_0", (0, d_model))
        k = g.linear(h, f"{p}/self_attention/linear_0", (d_model, 2 * d_model))
        v = g.linear(h, f"{p}/self_attention/linear_0", (2 * d_model, 3 * d_model))
        q = g.op("Mul", [q, g.const(scale, np.float32)], "q")
        k_all = g.op("Concat", [g.op("Gather", ["past_k", layer], "pk", axis=0), g.heads(k, n_heads, d_head, True)], "k_all", axis=3)
        v_all = g.op("Concat", [g.op("Gather", ["past_v", layer], "pv", axis=0), g.heads(v, n_heads, d_head)], "v_all", axis=2)
        present_k.append(g.op("Unsqueeze", [k_all, g.const([0])], "presk"))
        present_v.append(g.op("Unsqueeze", [v_all, g.const([0])], "presv"))
        ctx = g.attend(g.heads(q, n_heads, d_head), k_all, v_all, mask)
        x = g.op("Add", [x, g.linear(g.merge(ctx, d_model), f"{p}/self_attention/linear_1")], "res")

        h = g.layer_norm(x, f"{p}/attention/layer_norm")
        q = g.op("Mul", [g.linear(h, f"{p}/attention/linear_0"), g.const(scale, np.float32)], "q")
        ck = g.op("Gather", ["cross_k", layer], "ck", axis=0)
        cv = g.op("Gather", ["cross_v", layer], "cv", axis=0)
        ctx = g.attend(g.heads(q, n_heads, d_head), ck, cv)
        x = g.op("Add", [x, g.linear(g.merge(ctx, d_model), f"{p}/attention/linear_2")], "res")
        x = g.ffn(x, f"{p}/ffn")
    x = g.layer_norm(x, "decoder/layer_norm")

    # Output projection tied to the embedding, in int8: it is most of a decoding step's memory
    # traffic (vocabulary x d_model floats, 80 MB for tiny) for one token. Weights are quantised
    # per vocabulary row (symmetric), the hidden state per step (DynamicQuantizeLinear), and ONNX
    # Runtime fuses the pattern into one int8 matmul that returns floats.
    flat = g.op("Reshape", [x, g.const([-1, d_model])], "flat")
    w_emb = w["decoder/embeddings/weight"].astype(np.float32)
    row_scale = np.maximum(np.abs(w_emb).max(axis=1), 1e-8) / 127.0
    w_q = np.clip(np.round(w_emb / row_scale[:, None]), -127, 127).astype(np.int8)
    q_x, x_scale, x_zero = g.op("DynamicQuantizeLinear", [flat], outputs=["q_flat", "q_flat_scale", "q_flat_zero"])
    acc = g.op("MatMulInteger", [q_x, g.init("dec.emb_q.T", w_q.T), x_zero], "logits_i32")
    scale = g.op("Mul", [x_scale, g.init("dec.emb_q.scale", row_scale.astype(np.float32))], "logit_scale")
    logits = g.op("Mul", [g.op("Cast", [acc], "logits_f", to=TensorProto.FLOAT), scale], "logits_2d")
    g.op("Reshape", [logits, g.const([1, -1, vocab])], outputs=["logits"])
    g.op("Concat", present_k, outputs=["present_k"], axis=0)
    g.op("Concat", present_v, outputs=["present_v"], axis=0)

    f32 = TensorProto.FLOAT
    return g.model(
        "whisper_decoder",
        [
            helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, "N"]),
            helper.make_tensor_value_info("past_k", f32, [n_layers, 1, n_heads, d_head, "P"]),
            helper.make_tensor_value_info("past_v", f32, [n_layers, 1, n_heads, "P", d_head]),
            helper.make_tensor_value_info("cross_k", f32, [n_layers, 1, n_heads, d_head, "S"]),
            helper.make_tensor_value_info("cross_v", f32, [n_layers, 1, n_heads, "S", d_head]),
        ],
        [
            helper.make_tensor_value_info("logits", f32, [1, "N", vocab]),
            helper.make_tensor_value_info("present_k", f32, [n_layers, 1, n_heads, d_head, "P_next"]),
            helper.make_tensor_value_info("present_v", f32, [n_layers, 1, n_heads, "P_next", d_head]),
        ],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_bin", help="CTranslate2 Whisper model.bin")
    parser.add_argument("out_dir", help="folder for encoder.onnx and decoder.onnx")
    args = parser.parse_args()

    start = time.time()
    weights = read_ct2(args.model_bin)
    d_model, n_mels, n_heads, enc_layers, dec_layers, vocab = dims_of(weights)
    log(f"read {len(weights)} variables: d_model {d_model}, {n_heads} heads, {enc_layers}+{dec_layers} layers, "
        f"{n_mels} mels, vocabulary {vocab}")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, build in (("encoder", build_encoder), ("decoder", build_decoder)):
        model = build(weights)
        onnx.checker.check_model(model)
        tmp = out / f"{name}.onnx.tmp"
        onnx.save(model, str(tmp))
        tmp.replace(out / f"{name}.onnx")  # atomic: a half-written graph never looks finished
        log(f"wrote {out / name}.onnx ({(out / f'{name}.onnx').stat().st_size / 1e6:.1f} MB)")
    log(f"done in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
