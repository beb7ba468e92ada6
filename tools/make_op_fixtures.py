#!/usr/bin/env python3
"""Reference fixtures for clipcl's tensor engine (forward values and autograd gradients).

WHAT IT MAKES
    Tests/Fixtures/ops/ops.safetensors  -- every tensor is named "<case>.<name>", e.g. layer_norm.x,
                                           layer_norm.weight, layer_norm.bias, layer_norm.out.
                                           Floating tensors are F32, index tensors are I64.
    Tests/Fixtures/ops/ops.json         -- one entry per case: op, parameters, input/output tensor names,
                                           the formula, plus library versions and the generator settings.

    Inputs are small, seeded numpy draws (default seed 20240601), rounded to float32 first; every reference value
    is then computed by PyTorch in float64 from those float32 inputs and stored rounded to F32. So the only error in
    an expectation is the final F32 rounding (relative 6e-8): tolerances in the Swift tests reflect the Swift float32
    arithmetic alone.

    Gradients: for a case with a gradient, "<case>.dout" is the upstream gradient (same shape as the output; a
    0-rank 1.0 for scalar outputs) and "<case>.grad_<input>" = d(sum(out * dout)) / d<input>, from torch.autograd in
    float64. They are an independent check besides finite differences.

HOW TO RUN (from the repository root; tests never need Python -- the generated files are committed)
    python3 -m venv /tmp/venv-ref
    /tmp/venv-ref/bin/pip install /opt/wheels/torch-2.13.0+cpu-*.whl   # or any CPU torch from PyPI
    /tmp/venv-ref/bin/pip install numpy safetensors
    /tmp/venv-ref/bin/python tools/make_op_fixtures.py [--out Tests/Fixtures/ops] [--seed 20240601]

    Output is deterministic for a given seed and numpy/torch version (numpy's default_rng(PCG64) stream is stable).
"""

import argparse
import json
import math
import os
import platform
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.set_default_dtype(torch.float64)


class Builder:
    """Collects tensors ('<case>.<name>') and per-case descriptions."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.tensors = {}
        self.cases = {}

    # ---- inputs ---------------------------------------------------------------------------------------------------
    def randn(self, *shape, scale=1.0):
        """float32-representable standard-normal draw, returned as a float64 torch tensor."""
        a = (self.rng.standard_normal(shape) * scale).astype(np.float32)
        return torch.from_numpy(a.astype(np.float64))

    def uniform(self, lo, hi, *shape):
        a = self.rng.uniform(lo, hi, size=shape).astype(np.float32)
        return torch.from_numpy(a.astype(np.float64))

    # ---- storage --------------------------------------------------------------------------------------------------
    def put(self, case, name, t):
        key = f"{case}.{name}"
        assert key not in self.tensors, key
        t = t.detach()
        if t.dtype in (torch.int64, torch.int32):
            self.tensors[key] = t.to(torch.int64).contiguous()
        else:
            self.tensors[key] = t.to(torch.float32).contiguous()
        return key

    def case(self, name, op, inputs, outputs, params=None, formula=None, grads=None, dout=None, note=None):
        """inputs/outputs: dict name -> tensor. grads: list of input names to differentiate (float inputs)."""
        entry = {"op": op, "inputs": {}, "outputs": {}}
        for k, v in inputs.items():
            entry["inputs"][k] = self._describe(self.put(name, k, v), v)
        for k, v in outputs.items():
            entry["outputs"][k] = self._describe(self.put(name, k, v), v)
        if params:
            entry["params"] = params
        if formula:
            entry["formula"] = formula
        if note:
            entry["note"] = note
        if grads:
            entry["gradients"] = {}
            entry["dout"] = self._describe(self.put(name, "dout", dout), dout)
            for k, g in grads.items():
                entry["gradients"][k] = self._describe(self.put(name, f"grad_{k}", g), g)
        self.cases[name] = entry

    @staticmethod
    def _describe(key, t):
        dt = "I64" if t.dtype in (torch.int64, torch.int32) else "F32"
        return {"tensor": key, "shape": list(t.shape), "dtype": dt}


def with_grads(fn, inputs, grad_names, dout):
    """Runs fn(**inputs) in float64 with autograd and returns (out, {name: grad})."""
    leaves = {}
    for k, v in inputs.items():
        if k in grad_names:
            leaves[k] = v.clone().requires_grad_(True)
        else:
            leaves[k] = v
    out = fn(**leaves)
    (out * dout).sum().backward()
    return out.detach(), {k: leaves[k].grad.detach() for k in grad_names}


# ---- reference implementations (float64) ------------------------------------------------------------------------

def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


def mha(x, wq, bq, wk, bk, wv, bv, wo, bo, heads, causal):
    """Multi-head self-attention, Linear weights [out, in], y = x W^T + b. Scale 1/sqrt(head_dim)."""
    B, T, D = x.shape
    hd = D // heads

    def split(t):  # [B,T,D] -> [B,H,T,hd]; head h owns features h*hd ..< (h+1)*hd
        return t.reshape(B, T, heads, hd).permute(0, 2, 1, 3)

    q = split(x @ wq.T + bq)
    k = split(x @ wk.T + bk)
    v = split(x @ wv.T + bv)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
    if causal:
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        s = s.masked_fill(mask, float("-inf"))
    p = torch.softmax(s, dim=-1)
    o = (p @ v).permute(0, 2, 1, 3).reshape(B, T, D)
    return o @ wo.T + bo


def build(seed):
    b = Builder(seed)

    # ---- matmul / linear ------------------------------------------------------------------------------------------
    a, w = b.randn(3, 4), b.randn(4, 5)
    out, g = with_grads(lambda a, b_: a @ b_, {"a": a, "b_": w}, ["a", "b_"], dout := b.randn(3, 5))
    b.case("matmul", "matmul", {"a": a, "b": w}, {"out": out}, formula="out = a @ b",
           grads={"a": g["a"], "b": g["b_"]}, dout=dout)

    a, w = b.randn(2, 3, 4), b.randn(2, 4, 5)
    out, g = with_grads(lambda a, b_: a @ b_, {"a": a, "b_": w}, ["a", "b_"], dout := b.randn(2, 3, 5))
    b.case("bmm", "batched_matmul", {"a": a, "b": w}, {"out": out}, formula="out[i] = a[i] @ b[i]",
           grads={"a": g["a"], "b": g["b_"]}, dout=dout)

    x, wt, bias = b.randn(2, 3, 4), b.randn(5, 4), b.randn(5)
    out, g = with_grads(lambda x, weight, bias: x @ weight.T + bias, {"x": x, "weight": wt, "bias": bias},
                        ["x", "weight", "bias"], dout := b.randn(2, 3, 5))
    b.case("linear", "linear", {"x": x, "weight": wt, "bias": bias}, {"out": out},
           formula="out = x @ weight^T + bias (weight is [out, in])", grads=g, dout=dout)

    # ---- broadcasting binary ops ----------------------------------------------------------------------------------
    ops = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}
    for opname, fn in ops.items():
        for suffix, bshape in (("b31", (3, 1)), ("b4", (4,))):
            a = b.randn(2, 3, 4)
            if opname == "div":
                # keep |b| in [0.5, 2] so the quotient and its gradient stay well conditioned
                mag = b.uniform(0.5, 2.0, *bshape)
                sign = torch.from_numpy(np.where(b.rng.random(bshape) < 0.5, -1.0, 1.0))
                bb = mag * sign
            else:
                bb = b.randn(*bshape)
            out, g = with_grads(lambda a, b_: fn(a, b_), {"a": a, "b_": bb}, ["a", "b_"], dout := b.randn(2, 3, 4))
            b.case(f"{opname}_{suffix}", f"broadcast_{opname}", {"a": a, "b": bb}, {"out": out},
                   params={"a_shape": [2, 3, 4], "b_shape": list(bshape)},
                   formula=f"out = a {dict(add='+', sub='-', mul='*', div='/')[opname]} b (numpy broadcasting); "
                           "grad_b is reduced (summed) over the broadcast axes",
                   grads={"a": g["a"], "b": g["b_"]}, dout=dout)

    # ---- reductions -----------------------------------------------------------------------------------------------
    x = b.randn(2, 3, 4)
    for opname, fn in (("sum", torch.sum), ("mean", torch.mean)):
        out, g = with_grads(lambda x: fn(x, dim=1), {"x": x}, ["x"], dout := b.randn(2, 4))
        b.case(f"{opname}_axis1", opname, {"x": x}, {"out": out}, params={"axis": 1, "keepdims": False},
               grads=g, dout=dout)
        out, g = with_grads(lambda x: fn(x), {"x": x}, ["x"], dout := torch.tensor(0.75))
        b.case(f"{opname}_all", opname, {"x": x}, {"out": out}, params={"axis": None, "keepdims": False},
               note="out is 0-rank", grads=g, dout=dout)

    # ---- shape ops ------------------------------------------------------------------------------------------------
    x = b.randn(2, 3, 4)
    out, g = with_grads(lambda x: x.permute(2, 0, 1), {"x": x}, ["x"], dout := b.randn(4, 2, 3))
    b.case("permute", "permute", {"x": x}, {"out": out}, params={"perm": [2, 0, 1]},
           formula="out[k,i,j] = x[i,j,k]", grads=g, dout=dout)

    x = b.randn(2, 3)
    out, g = with_grads(lambda x: x.transpose(0, 1), {"x": x}, ["x"], dout := b.randn(3, 2))
    b.case("transpose2d", "transpose", {"x": x}, {"out": out}, params={"perm": [1, 0]}, grads=g, dout=dout)

    a, c = b.randn(2, 3), b.randn(2, 2)
    out, g = with_grads(lambda a, c: torch.cat([a, c], dim=1), {"a": a, "c": c}, ["a", "c"], dout := b.randn(2, 5))
    b.case("concat", "concat", {"a": a, "b": c}, {"out": out}, params={"axis": 1},
           grads={"a": g["a"], "b": g["c"]}, dout=dout)

    x = b.randn(2, 4, 5)
    out, g = with_grads(lambda x: x[:, 1:3, :], {"x": x}, ["x"], dout := b.randn(2, 2, 5))
    b.case("slice", "slice", {"x": x}, {"out": out}, params={"axis": 1, "start": 1, "end": 3},
           formula="out = x[:, 1..<3, :]; grad_x is zero outside the slice", grads=g, dout=dout)

    table = b.randn(6, 4)
    idx = torch.tensor([[0, 5, 2], [1, 1, 3]], dtype=torch.int64)
    out, g = with_grads(lambda table: F.embedding(idx, table), {"table": table}, ["table"], dout := b.randn(2, 3, 4))
    b.case("gather", "embedding_lookup", {"table": table, "indices": idx}, {"out": out},
           formula="out[i,j,:] = table[indices[i,j], :]",
           note="indices are I64; index 1 appears twice so grad_table row 1 accumulates two upstream rows, "
                "row 4 is never used (zero gradient)", grads=g, dout=dout)

    # ---- layer norm -----------------------------------------------------------------------------------------------
    x, wt, bias = b.randn(2, 3, 8, scale=2.0) + 0.5, 1.0 + b.randn(8, scale=0.3), b.randn(8, scale=0.3)
    out, g = with_grads(lambda x, weight, bias: F.layer_norm(x, (8,), weight, bias, eps=1e-5),
                        {"x": x, "weight": wt, "bias": bias}, ["x", "weight", "bias"], dout := b.randn(2, 3, 8))
    b.case("layer_norm", "layer_norm", {"x": x, "weight": wt, "bias": bias}, {"out": out},
           params={"axis": -1, "eps": 1e-5},
           formula="(x - mean) / sqrt(biased_var + eps) * weight + bias over the last axis", grads=g, dout=dout)

    # ---- softmax --------------------------------------------------------------------------------------------------
    x = b.randn(2, 3, 5, scale=2.0)
    out, g = with_grads(lambda x: torch.softmax(x, dim=-1), {"x": x}, ["x"], dout := b.randn(2, 3, 5))
    b.case("softmax", "softmax", {"x": x}, {"out": out}, params={"axis": -1}, grads=g, dout=dout)

    scores = b.randn(2, 4, 4, scale=2.0)
    cmask = torch.zeros(4, 4).masked_fill(torch.triu(torch.ones(4, 4, dtype=torch.bool), 1), float("-inf"))
    out, g = with_grads(lambda scores: torch.softmax(scores + cmask, dim=-1), {"scores": scores}, ["scores"],
                        dout := b.randn(2, 4, 4))
    b.case("softmax_causal", "masked_softmax", {"scores": scores, "mask": cmask}, {"out": out},
           params={"axis": -1, "mask": "causal: key j > query i is masked"},
           formula="softmax(scores + mask); mask is additive [4,4], 0 on/below the diagonal, -inf above",
           grads={"scores": g["scores"]}, dout=dout)

    scores = b.randn(2, 3, 5, scale=2.0)
    lengths = torch.tensor([5, 3], dtype=torch.int64)
    pmask = torch.zeros(2, 1, 5)
    pmask[1, :, 3:] = float("-inf")
    out, g = with_grads(lambda scores: torch.softmax(scores + pmask, dim=-1), {"scores": scores}, ["scores"],
                        dout := b.randn(2, 3, 5))
    b.case("softmax_keypad", "masked_softmax", {"scores": scores, "key_lengths": lengths, "mask": pmask},
           {"out": out}, params={"axis": -1, "mask": "key padding: key j >= key_lengths[b] is masked"},
           formula="softmax(scores + mask); mask is additive [2,1,5] (broadcast over queries); masked keys get "
                   "probability exactly 0 and gradient 0",
           grads={"scores": g["scores"]}, dout=dout)

    # ---- activations ----------------------------------------------------------------------------------------------
    x = b.uniform(-4.0, 4.0, 3, 7)
    x[0, 0], x[0, 1] = 0.0, -4.0  # include 0 and an endpoint exactly
    out, g = with_grads(lambda x: F.gelu(x, approximate="none"), {"x": x}, ["x"], dout := b.randn(3, 7))
    b.case("gelu", "gelu", {"x": x}, {"out": out}, formula="x * 0.5 * (1 + erf(x / sqrt(2)))  (exact, erf)",
           grads=g, dout=dout)
    out, g = with_grads(quick_gelu, {"x": x}, ["x"], dout := b.randn(3, 7))
    b.case("quick_gelu", "quick_gelu", {"x": x}, {"out": out}, formula="x * sigmoid(1.702 * x)", grads=g, dout=dout)

    # ---- attention ------------------------------------------------------------------------------------------------
    D, H = 8, 2
    for causal in (False, True):
        name = "attention_causal" if causal else "attention"
        inputs = {"x": b.randn(2, 5, D)}
        for p in ("q", "k", "v", "out"):
            inputs[f"{p}_weight"] = b.randn(D, D, scale=1.0 / math.sqrt(D) * 1.5)
            inputs[f"{p}_bias"] = b.randn(D, scale=0.2)

        def f(x, q_weight, q_bias, k_weight, k_bias, v_weight, v_bias, out_weight, out_bias, _c=causal):
            return mha(x, q_weight, q_bias, k_weight, k_bias, v_weight, v_bias, out_weight, out_bias, H, _c)

        out, g = with_grads(f, inputs, list(inputs.keys()), dout := b.randn(2, 5, D))
        # independent cross-check against torch's fused implementation
        ref = F.multi_head_attention_forward(
            inputs["x"].transpose(0, 1), inputs["x"].transpose(0, 1), inputs["x"].transpose(0, 1), D, H,
            torch.cat([inputs["q_weight"], inputs["k_weight"], inputs["v_weight"]]),
            torch.cat([inputs["q_bias"], inputs["k_bias"], inputs["v_bias"]]), None, None, False, 0.0,
            inputs["out_weight"], inputs["out_bias"], training=False, need_weights=False,
            attn_mask=torch.triu(torch.ones(5, 5, dtype=torch.bool), 1) if causal else None)[0].transpose(0, 1)
        assert torch.allclose(ref, out, atol=1e-12), name
        b.case(name, "multi_head_self_attention", inputs, {"out": out},
               params={"heads": H, "head_dim": D // H, "scale": 1.0 / math.sqrt(D // H), "causal": causal},
               formula="q,k,v = x W^T + b (weights [out,in]); head h uses features h*hd..<(h+1)*hd; "
                       "softmax(q k^T * scale [+ causal mask]) v; heads concatenated in order; out = o Wo^T + bo",
               grads=g, dout=dout)

    # ---- normalisation / similarity -------------------------------------------------------------------------------
    x = b.randn(3, 6)
    out, g = with_grads(lambda x: x / x.norm(dim=-1, keepdim=True), {"x": x}, ["x"], dout := b.randn(3, 6))
    b.case("l2_normalize", "l2_normalize", {"x": x}, {"out": out}, params={"axis": -1},
           formula="x / ||x||_2 over the last axis", grads=g, dout=dout)

    img, txt = b.randn(4, 6), b.randn(3, 6)
    logit_scale = math.log(100.0)

    def cos_logits(image, text):
        i = image / image.norm(dim=-1, keepdim=True)
        t = text / text.norm(dim=-1, keepdim=True)
        return math.exp(logit_scale) * i @ t.T

    out, g = with_grads(cos_logits, {"image": img, "text": txt}, ["image", "text"], dout := b.randn(4, 3))
    b.case("cosine_logits", "scaled_cosine_logits", {"image": img, "text": txt,
                                                     "logit_scale": torch.tensor(logit_scale)},
           {"out": out}, params={"scale": 100.0, "logit_scale": logit_scale},
           formula="exp(logit_scale) * normalize(image) @ normalize(text)^T; logit_scale = ln 100 (0-rank input, "
                   "treated as a constant: no gradient stored for it)", grads=g, dout=dout)

    # ---- loss -----------------------------------------------------------------------------------------------------
    logits = b.randn(4, 5, scale=2.0)
    labels = torch.tensor([1, 0, 4, 2], dtype=torch.int64)
    out, g = with_grads(lambda logits: F.cross_entropy(logits, labels, reduction="mean"), {"logits": logits},
                        ["logits"], dout := torch.tensor(1.0))
    b.case("cross_entropy", "cross_entropy_mean", {"logits": logits, "labels": labels}, {"out": out},
           formula="mean_i( logsumexp(logits[i]) - logits[i, labels[i]] ); grad_logits = (softmax - onehot) / N",
           note="out and dout are 0-rank", grads=g, dout=dout)

    # ---- argmax / top-k -------------------------------------------------------------------------------------------
    x = b.randn(4, 6)
    b.case("argmax", "argmax", {"x": x}, {"out": torch.argmax(x, dim=-1)}, params={"axis": -1},
           note="indices are I64")
    xt = torch.tensor([[1.0, 3.0, 3.0, 0.0, 3.0], [2.0, 2.0, 2.0, 2.0, 2.0]])
    b.case("argmax_ties", "argmax", {"x": xt}, {"out": torch.argmax(xt, dim=-1)}, params={"axis": -1},
           note="ties: the FIRST maximal index wins (PyTorch/NumPy convention; CLIP's OpenAI EOT pooling relies on "
                "it)")
    vals, inds = torch.topk(x, 3, dim=-1, largest=True, sorted=True)
    b.case("topk", "topk", {"x": x}, {"values": vals, "indices": inds}, params={"k": 3, "axis": -1,
                                                                             "sorted": "descending"},
           note="same x as the argmax case; values F32, indices I64; no ties in x")
    return b


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "Tests", "Fixtures", "ops")))
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    b = build(args.seed)
    meta = {
        "generator": "tools/make_op_fixtures.py",
        "seed": args.seed,
        "compute_dtype": "float64 (torch), inputs rounded to float32 first",
        "stored_dtype": "F32 for floating tensors, I64 for indices/labels/lengths",
        "gradient_convention": "<case>.grad_<input> = d(sum(out * <case>.dout)) / d<input>",
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__},
    }
    import safetensors
    meta["versions"]["safetensors"] = safetensors.__version__
    st_path = os.path.join(args.out, "ops.safetensors")
    # ONE metadata key only: safetensors serialises __metadata__ from a Rust HashMap, so with several keys their
    # order (and the file's bytes) changes from run to run.
    save_file(b.tensors, st_path, metadata={
        "source": f"tools/make_op_fixtures.py seed={args.seed} torch={torch.__version__} numpy={np.__version__}"})
    os.chmod(st_path, 0o644)  # safetensors creates the file with mode 0600
    with open(os.path.join(args.out, "ops.json"), "w") as f:
        json.dump({"meta": meta, "cases": b.cases}, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"wrote {len(b.tensors)} tensors in {len(b.cases)} cases to {st_path} "
          f"({os.path.getsize(st_path)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
