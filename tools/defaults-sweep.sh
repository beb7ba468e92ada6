#!/bin/bash
# The sweep behind the defaults of the Linear Adapter (README, "Defaults and how they were measured").
# No pre-trained CLIP is needed: stand-in features of the real Fashion-MNIST pixels (`clipcl features standin`).
# Every sweep writes its table to stderr and its rows as JSON to OUT/<name>.json. About 1 h 20 min on 2 cores
# (RanPAC alone ~9 min per seed: 12,000 training samples per task against a 10,000-dimensional projection).
#   tools/defaults-sweep.sh [OUT]      (default runs/defaults-sweep)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/defaults-sweep}
swift build -c release --product clipcl >&2
B=.build/release/clipcl
mkdir -p "$OUT"
[ -f "$OUT/standin-fm/meta.json" ] || $B features standin --dataset fashion-mnist --out "$OUT/standin-fm"
C=(--config configs/fashion-mnist-b0inc2.json --features "$OUT/standin-fm" --seeds 0,1)
sweep() { local name=$1; shift; $B sweep "${C[@]}" "$@" --out "$OUT/$name" --json > "$OUT/$name.json"; }
# Without replay: loss classes × init × retention (× rho for topk).
sweep no-replay-topk --method linear --replay none --grid loss-classes=seen,current --grid init=identity,default --grid retention=topk --grid rho=0.1,0.3,0.5
sweep no-replay-other --method linear --replay none --grid loss-classes=seen,current --grid init=identity,default --grid retention=none,soft-svd
# With RAPF's Gaussian replay (loss over all seen classes).
sweep replay-topk --method linear --replay gaussian --grid init=identity,default --grid retention=topk --grid rho=0.1,0.3,0.5
sweep replay-other --method linear --replay gaussian --grid init=identity,default --grid retention=none,soft-svd
# The methods side by side, each with its own defaults.
sweep methods --grid method=zeroshot,ncm,simplecil,fecam,ranpac,linear,rapf
