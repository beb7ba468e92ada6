#!/usr/bin/env bash
# Runs clipcl's encoder benchmarks (fp32, bf16 and int8), then PyTorch's (tools/bench-torch.py) and ONNX Runtime's
# image tower in fp32 and dynamic int8 (tools/bench-onnx.py), back to back, and prints the ratios as a markdown table.
#   tools/bench-compare.sh [ARCH] [SECONDS]     (PYTHON=/path/to/venv/bin/python with torch + open_clip_torch + onnx + onnxruntime)
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH=${1:-ViT-B-16}; SECONDS_PER=${2:-10}; PY=${PYTHON:-python3}
[ -x .build/release/clipcl ] || swift build -c release --product clipcl >&2
f32=$(.build/release/clipcl bench encoders --arch "$ARCH" --seconds "$SECONDS_PER" --threads 2 --json)
bf16=$(.build/release/clipcl bench encoders --arch "$ARCH" --seconds "$SECONDS_PER" --threads 2 --dtype bf16 --json)
int8=$(.build/release/clipcl bench encoders --arch "$ARCH" --seconds "$SECONDS_PER" --threads 2 --dtype int8 --json)
batch=$("$PY" -c 'import json, sys; print(json.loads(sys.argv[1])["batch"])' "$f32")
theirs=$("$PY" tools/bench-torch.py --arch "$ARCH" --seconds "$SECONDS_PER" --threads 2 --batch "$batch")
ort=$("$PY" tools/bench-onnx.py --arch "$ARCH" --seconds "$SECONDS_PER" --threads 2 --batch "$batch")
"$PY" - "$f32" "$bf16" "$int8" "$theirs" "$ort" <<'PYEOF'
import json, sys
o, b, q, t, r = (json.loads(a) for a in sys.argv[1:6])
loads = " / ".join(str(x["load_average"]) for x in (o, b, q, t, r))
print(f"{o['arch']}, 2 threads, batch {o['batch']}; {t['runtime']}, {r['runtime']}; "
      f"load average (clipcl fp32 / bf16 / int8 / PyTorch / ONNX Runtime) {loads}")
print("| workload | clipcl | reference | ratio |")
print("|---|---|---|---|")
def row(what, ours, theirs, ref):
    print(f"| {what} | {ours} | {theirs} ({ref}) | {ours / theirs:.2f}× |")
ti = t['image_images_per_s']
row("image tower fp32, img/s", o['image_images_per_s'], ti, "PyTorch fp32")
row("image tower bf16 (clipcl) vs fp32 (PyTorch), img/s", b['image_images_per_s'], ti, "PyTorch fp32")
row("image tower fp32, img/s", o['image_images_per_s'], r['fp32_images_per_s'], "ONNX Runtime fp32")
row("image tower int8, img/s", q['image_images_per_s'], r['int8_images_per_s'], "ONNX Runtime int8")
row("image tower int8 vs bf16 (both clipcl), img/s", q['image_images_per_s'], b['image_images_per_s'], "clipcl bf16")
row("text tower, 100 prompts, prompts/s", o['text_prompts_per_s'], t['text_prompts_per_s'], "PyTorch")
for key, what in (("prompt_step_ms_truncated", "PyTorch truncated to the longest prompt"), ("prompt_step_ms_77_tokens", "PyTorch on all 77 positions, as CoOp")):
    print(f"| prompt-tuning step, ms ({what}) | {o['prompt_step_ms']} | {t[key]} (PyTorch) | {t[key] / o['prompt_step_ms']:.2f}× |")
print(f"| peak RSS after the image tower, MB (fp32 / bf16 / int8) | {o['image_peak_rss_mb']:.0f} / {b['image_peak_rss_mb']:.0f} / {q['image_peak_rss_mb']:.0f} | — | |")
print()
print(f"ONNX Runtime int8: {r['quantization']}; min cosine of its int8 to its fp32 embeddings on the batch {r['int8_cosine_to_fp32_min']}.")
PYEOF
