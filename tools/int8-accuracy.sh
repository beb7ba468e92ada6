#!/usr/bin/env bash
# What --dtype int8 (and bf16) cost in accuracy, on full-size random-weight CLIP towers (no pre-trained weights
# can be downloaded here; users re-run this with a real checkpoint via MODEL_B16=... MODEL_B32=...):
#  1. cosine of int8 and bf16 image embeddings to fp32 over 256 Fashion-MNIST images (PNG) and the sample
#     photographs of Tests/Fixtures/images, ViT-B/16: min, 1 % quantile, median;
#  2. the demo's protocol (Fashion-MNIST B0Inc2, 2000 train / 1000 test images, ViT-B/32) on fp32, bf16 and int8
#     feature caches: zeroshot, ncm and linear+topk Avg / Last and their differences to fp32.
#   tools/int8-accuracy.sh [WORKDIR]      (about 6 min on 2 cores; PYTHON defaults to the interop venv)
# Python (torch + transformers) only writes the random checkpoints and reads the caches' safetensors.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d /tmp/clipcl-int8-accuracy.XXXXXX)}
PY=${PYTHON:-$(tools/python-interop-venv.sh)}
BIN=.build/release/clipcl
[ -n "$PY" ] || { echo "needs Python with torch and transformers (tools/python-interop-venv.sh)" >&2; exit 2; }
[ -x "$BIN" ] || swift build -c release --product clipcl >&2
mkdir -p "$WORK"

"$PY" - "$WORK" <<'PY'
import gzip, os, shutil, struct, sys, zlib
import torch
from transformers import CLIPConfig, CLIPModel, CLIPImageProcessor
work = sys.argv[1]
tokenizer = "Tests/Fixtures/clip/hf-tiny"
for name, patch in (("b16", 16), ("b32", 32)):
    out = f"{work}/random-{name}"
    if os.path.exists(f"{out}/model.safetensors"): continue
    torch.manual_seed(0)
    cfg = CLIPConfig(projection_dim=512,
                     text_config=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                                      hidden_act="quick_gelu"),
                     vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                                        image_size=224, patch_size=patch, hidden_act="quick_gelu"))
    CLIPModel(cfg).eval().save_pretrained(out, safe_serialization=True)
    CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}, resample=3,
                       image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711]).save_pretrained(out)
    for f in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(f"{tokenizer}/{f}", out)
# 256 Fashion-MNIST test images as PNG (class folders) and the sample photographs as one more class.
root = f"{work}/images/train"
if not os.path.exists(root):
    def png(pixels, path):
        raw = b"".join(b"\0" + pixels[28 * y:28 * y + 28] for y in range(28))
        chunk = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    with gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") as f: x = f.read()
    with gzip.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz") as f: y = f.read()
    for i in range(256):
        d = f"{root}/class-{y[8 + i]}"; os.makedirs(d, exist_ok=True); png(x[16 + 784 * i:16 + 784 * (i + 1)], f"{d}/{i:04d}.png")
    os.makedirs(f"{root}/photo")
    for f in sorted(os.listdir("Tests/Fixtures/images")):
        if f.endswith((".jpg", ".png")) and not f.startswith("dec_"): shutil.copy(f"Tests/Fixtures/images/{f}", f"{root}/photo/{f}")
PY

echo "== 1. cosine to fp32, ViT-B/16 (random weights), $(find "$WORK/images/train" -type f | wc -l) images =="
for d in f32 bf16 int8; do
  [ -f "$WORK/cos-$d/meta.json" ] || "$BIN" extract --model "${MODEL_B16:-$WORK/random-b16}" --dataset folder --root "$WORK/images" \
    --split train --storage f32 --dtype "$d" --out "$WORK/cos-$d" >/dev/null 2>"$WORK/cos-$d.log"
done
"$PY" - "$WORK" <<'PY'
import glob, sys
import numpy as np
from safetensors.numpy import load_file
work = sys.argv[1]
def feats(d): return np.concatenate([load_file(f)["features"] for f in sorted(glob.glob(f"{work}/{d}/train-*.safetensors"))]).astype(np.float64)
ref = feats("cos-f32"); ref /= np.linalg.norm(ref, axis=1, keepdims=True)
for d in ("bf16", "int8"):
    x = feats(f"cos-{d}"); x /= np.linalg.norm(x, axis=1, keepdims=True)
    c = (x * ref).sum(1)
    print(f"{d}: {len(c)} images, cosine min {c.min():.5f}, 1 % {np.quantile(c, 0.01):.5f}, median {np.median(c):.5f}")
PY

echo "== 2. the demo's protocol on fp32 / bf16 / int8 caches, ViT-B/32 (random weights) =="
for d in f32 bf16 int8; do
  for split in "train 2000" "test 1000"; do
    set -- $split
    "$BIN" extract --model "${MODEL_B32:-$WORK/random-b32}" --dataset fashion-mnist --split "$1" --limit "$2" --dtype "$d" \
      --out "$WORK/demo-$d" >/dev/null 2>>"$WORK/demo-$d.log"
  done
  for m in zeroshot ncm linear; do
    [ -f "$WORK/run-$d-$m.json" ] || "$BIN" run --config configs/fashion-mnist-b0inc2.json --features "$WORK/demo-$d" --method "$m" \
      --out "$WORK/run-$d-$m" --json > "$WORK/run-$d-$m.json" 2>>"$WORK/demo-$d.log"
  done
done
"$PY" - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
r = {(d, m): json.load(open(f"{work}/run-{d}-{m}.json")) for d in ("f32", "bf16", "int8") for m in ("zeroshot", "ncm", "linear")}
print("| method | fp32 Avg / Last | bf16 Avg / Last (Δ) | int8 Avg / Last (Δ) |")
print("|---|---|---|---|")
for m in ("zeroshot", "ncm", "linear"):
    f = r[("f32", m)]
    cells = [f"{f['avg']:.2f} / {f['last']:.2f}"]
    for d in ("bf16", "int8"):
        x = r[(d, m)]
        cells.append(f"{x['avg']:.2f} / {x['last']:.2f} ({x['avg'] - f['avg']:+.2f} / {x['last'] - f['last']:+.2f})")
    print(f"| {m if m != 'linear' else 'linear + topk'} | " + " | ".join(cells) + " |")
PY
