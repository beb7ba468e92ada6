#!/usr/bin/env bash
# Runs clipcl's (fp32 and bf16) and PyTorch's encoder benchmarks back to back and prints the ratios.
#   tools/bench-compare.sh [ARCH] [SECONDS]     (PYTHON=/path/to/venv/bin/python with torch + open_clip_torch)
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH=${1:-ViT-B-16}; SECONDS_PER=${2:-10}; PY=${PYTHON:-python3}
[ -x .build/release/clipcl ] || swift build -c release --product clipcl >&2
f32=$(.build/release/clipcl bench encoders --arch "$ARCH" --seconds "$SECONDS_PER" --threads 2 --json)
bf16=$(.build/release/clipcl bench encoders --arch "$ARCH" --seconds "$SECONDS_PER" --threads 2 --dtype bf16 --json)
theirs=$("$PY" tools/bench-torch.py --arch "$ARCH" --seconds "$SECONDS_PER" --threads 2)
"$PY" - "$f32" "$bf16" "$theirs" <<'PYEOF'
import json, sys
o, b, t = (json.loads(a) for a in sys.argv[1:4])
print(f"{o['arch']}, 2 threads, batch {o['batch']}; load average {o['load_average']} / {b['load_average']} / {t['load_average']}")
print(f"| workload | clipcl | {t['runtime']} | ratio |")
print("|---|---|---|---|")
ti = t['image_images_per_s']
print(f"| image tower fp32, img/s | {o['image_images_per_s']} | {ti} | {o['image_images_per_s'] / ti:.2f}× |")
print(f"| image tower bf16 (clipcl) vs fp32 (PyTorch), img/s | {b['image_images_per_s']} | {ti} | {b['image_images_per_s'] / ti:.2f}× |")
tt = t['text_prompts_per_s']
print(f"| text tower, 100 prompts, prompts/s | {o['text_prompts_per_s']} | {tt} | {o['text_prompts_per_s'] / tt:.2f}× |")
for key, what in (("prompt_step_ms_truncated", "PyTorch truncated to the longest prompt"), ("prompt_step_ms_77_tokens", "PyTorch on all 77 positions, as CoOp")):
    print(f"| prompt-tuning step, ms ({what}) | {o['prompt_step_ms']} | {t[key]} | {t[key] / o['prompt_step_ms']:.2f}× |")
print(f"| peak RSS after the image tower, MB (fp32 / bf16) | {o['image_peak_rss_mb']:.0f} / {b['image_peak_rss_mb']:.0f} | — | |")
PYEOF
