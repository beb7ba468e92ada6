#!/usr/bin/env bash
# Runs clipcl's and PyTorch's encoder benchmarks back to back and prints the ratios.
#   tools/bench-compare.sh [ARCH] [SECONDS]     (PYTHON=/path/to/venv/bin/python with torch + open_clip_torch)
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH=${1:-ViT-B-16}; SECONDS_PER=${2:-10}; PY=${PYTHON:-python3}
[ -x .build/release/clipcl ] || swift build -c release --product clipcl >&2
ours=$(.build/release/clipcl bench encoders --arch "$ARCH" --seconds "$SECONDS_PER" --threads 2 --json)
theirs=$("$PY" tools/bench-torch.py --arch "$ARCH" --seconds "$SECONDS_PER" --threads 2)
"$PY" - "$ours" "$theirs" <<'PYEOF'
import json, sys
o, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{o['arch']}, 2 threads, batch {o['batch']}; load {o['load_average']} / {t['load_average']}")
print(f"| workload | clipcl | {t['runtime']} | ratio |")
print("|---|---|---|---|")
print(f"| image tower img/s | {o['image_images_per_s']} | {t['image_images_per_s']} | {o['image_images_per_s'] / t['image_images_per_s']:.2f}× |")
print(f"| text tower, 100 prompts, prompts/s | {o['text_prompts_per_s']} | {t['text_prompts_per_s']} | {o['text_prompts_per_s'] / t['text_prompts_per_s']:.2f}× |")
print(f"| peak RSS MB | {o['peak_rss_mb']:.0f} | — | |")
PYEOF
