#!/usr/bin/env python3
"""Split a Piper (VITS) voice into the part that makes the latent frames and the vocoder.

    VOICE.onnx -> VOICE.latent.onnx   input, input_lengths, scales -> latent f32 [1, C, T]
               -> VOICE.vocoder.onnx  latent f32 [1, C, T] -> audio f32 [1, 1, T * hop]

The vocoder (HiFi-GAN, `/dec/...` in the export) is convolutional with a receptive field of about
a dozen frames, so src/providers/tts/piper.rs can run it on short overlapping windows of the latent frames
and hand on the first fraction of a second of audio while the rest is still being made. The cut
points are found from the graph (the one non-weight input of the `/dec/` nodes and the last
`/dec/` output), checked, and the two parts are verified to give the whole model's audio.

Usage: split_piper.py VOICE.onnx
"""
import sys
import time

import numpy as np
import onnx
from onnx.utils import extract_model


def log(msg):
    print(f"[split]   {msg}", flush=True)


def cut_points(model):
    g = model.graph
    weights = {i.name for i in g.initializer}
    dec = [n for n in g.node if n.name.startswith("/dec/")]
    if not dec:
        raise SystemExit("no /dec/ nodes: not a Piper VITS export")
    made = {o for n in dec for o in n.output}
    inputs = sorted({i for n in dec for i in n.input if i and i not in made and i not in weights})
    if len(inputs) != 1:
        raise SystemExit(f"the vocoder should have one input, found {inputs}")
    used_outside = sorted(
        {i for n in g.node if not n.name.startswith("/dec/") for i in n.input if i in made}
    )
    if len(used_outside) != 1:
        raise SystemExit(f"the vocoder should have one output, found {used_outside}")
    return inputs[0], used_outside[0]


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    src = sys.argv[1]
    stem = src[: -len(".onnx")]
    started = time.time()
    latent, audio = cut_points(onnx.load(src))
    log(f"cut at {latent} (latent) and {audio} (audio)")
    extract_model(src, f"{stem}.latent.onnx", ["input", "input_lengths", "scales"], [latent])
    extract_model(src, f"{stem}.vocoder.onnx", [latent], [audio])
    # Rename the cut tensors to plain names the Rust side can rely on.
    for path, renames in ((f"{stem}.latent.onnx", {latent: "latent"}),
                          (f"{stem}.vocoder.onnx", {latent: "latent", audio: "audio"})):
        m = onnx.load(path)
        for node in m.graph.node:
            node.input[:] = [renames.get(i, i) for i in node.input]
            node.output[:] = [renames.get(o, o) for o in node.output]
        for v in list(m.graph.input) + list(m.graph.output):
            v.name = renames.get(v.name, v.name)
        onnx.checker.check_model(m)
        onnx.save(m, path)
    verify(src, stem)
    log(f"wrote {stem}.latent.onnx and {stem}.vocoder.onnx in {time.time() - started:.1f} s")


def verify(src, stem):
    """The two parts must give the whole model's audio (when onnxruntime is importable)."""
    try:
        import onnxruntime as ort
    except ImportError:
        log("onnxruntime not importable here: parts not cross-checked")
        return
    ids = np.array([[1] + [(i % 40) + 5 for i in range(40)] + [2]], dtype=np.int64)
    feeds = {
        "input": ids,
        "input_lengths": np.array([ids.shape[1]], dtype=np.int64),
        "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),
    }
    whole = ort.InferenceSession(src).run(None, feeds)[0].reshape(-1)
    z = ort.InferenceSession(f"{stem}.latent.onnx").run(None, feeds)[0]
    parts = ort.InferenceSession(f"{stem}.vocoder.onnx").run(None, {"latent": z})[0].reshape(-1)
    err = float(np.abs(whole - parts).max()) if whole.shape == parts.shape else float("inf")
    if err > 1e-4:
        raise SystemExit(f"split voice differs from the whole one (max error {err})")
    log(f"parts match the whole voice ({whole.shape[0]} samples, max error {err:.1e})")


if __name__ == "__main__":
    main()
