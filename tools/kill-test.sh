#!/usr/bin/env bash
# Crash-consistency harness: kills feature extraction and training with SIGKILL at random moments,
# resumes each to completion, and checks the result is identical to an uninterrupted run.
#
#   tools/kill-test.sh [KILLS]        (default 20 kills per job; needs `swift build -c release`)
#
# Extraction: Fashion-MNIST test split with the tiny fixture model, chunk size 256; after each kill
# the rerun must leave a folder byte-identical (every file, meta.json included) to the reference.
# Training: an attention-adapter run on that cache; after each kill `clipcl run --resume` must end
# with bit-identical adapter weights and identical per-task metrics (timing columns excluded).
# Learner: `clipcl learn` of a second task (Fashion-MNIST images written as PNG) killed at random moments; the
# state must then predict exactly as the state before or the state after, and a rerun must reach the latter.
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS=${1:-20}
BIN=${CLIPCL_BINARY:-.build/release/clipcl}
MODEL=Tests/Fixtures/clip/hf-tiny
WORK=$(mktemp -d /tmp/clipcl-kill.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
[ -x "$BIN" ] || { echo "build first: swift build -c release" >&2; exit 2; }
[ -d /usr/share/datasets/fashion-mnist ] || { echo "needs dataset-fashion-mnist (apt-get install dataset-fashion-mnist)" >&2; exit 2; }

extract() { "$BIN" extract --model "$MODEL" --dataset fashion-mnist --split "$2" --chunk-size 256 --out "$1" "${@:3}" >/dev/null 2>&1; }
# A point in the first 90 % (or the fraction $2) of a run that took $1 seconds uninterrupted.
random_delay() { awk -v max="$1" -v f="${2:-0.9}" -v seed="$RANDOM$RANDOM" 'BEGIN { srand(seed); printf "%.3f", 0.02 + rand() * f * max }'; }
kill_after() {  # kill_after SECONDS COMMAND...: start in its own process group, SIGKILL the group after SECONDS
  setsid "${@:2}" >/dev/null 2>&1 & local pid=$!
  sleep "$1"
  if kill -9 -- "-$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; return 0; fi
  wait "$pid" 2>/dev/null || true; return 1
}

echo "reference extraction…"
start=$(date +%s.%N); extract "$WORK/ref" test; extract "$WORK/ref" train --limit 6000
took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
echo "  $took s"
# Repeat until KILLS runs were really killed mid-run (a run may finish before its kill time).
killed=0; identical=0; runs=0
while [ "$killed" -lt "$KILLS" ] && [ "$runs" -lt $((3 * KILLS)) ]; do
  runs=$((runs + 1)); i=$runs
  rm -rf "$WORK/x"
  d=$(random_delay "$took")
  if kill_after "$d" bash -c "$(declare -f extract); BIN=$BIN MODEL=$MODEL; extract $WORK/x test; extract $WORK/x train --limit 6000"; then killed=$((killed + 1)); fi
  extract "$WORK/x" test; extract "$WORK/x" train --limit 6000
  if diff -r "$WORK/ref" "$WORK/x" >/dev/null; then identical=$((identical + 1)); else echo "  kill $i at ${d}s: folder differs" >&2; fi
done
echo "extraction: $runs runs, $killed killed mid-run (SIGKILL), $identical identical to the uninterrupted run after resuming"
ext_ok=$([ "$identical" -eq "$runs" ] && [ "$killed" -ge "$KILLS" ] && echo 1 || echo 0)

train() { "$BIN" run --features "$WORK/ref" --increment 2 --method attention --retention topk --epochs 20 --batch-size 32 --seeds 0,1 --out "$1" "${@:2}"; }
table() { cut -d, -f1-6,10- "$1/tasks.csv"; }
echo "reference training…"
start=$(date +%s.%N); train "$WORK/run-ref" >/dev/null 2>&1
took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
echo "  $took s"
killed=0; identical=0; runs=0
while [ "$killed" -lt "$KILLS" ] && [ "$runs" -lt $((3 * KILLS)) ]; do
  runs=$((runs + 1)); i=$runs
  rm -rf "$WORK/run"
  d=$(random_delay "$took")
  if kill_after "$d" "$BIN" run --features "$WORK/ref" --increment 2 --method attention --retention topk --epochs 20 --batch-size 32 --seeds 0,1 --out "$WORK/run"; then killed=$((killed + 1)); fi
  if [ -f "$WORK/run/config.json" ]; then train "$WORK/run" --resume >/dev/null 2>&1; else train "$WORK/run" >/dev/null 2>&1; fi
  same=1
  diff <(table "$WORK/run-ref") <(table "$WORK/run") >/dev/null || same=0
  for f in "$WORK"/run-ref/seed-*/adapter-task-*.safetensors; do
    cmp -s "$f" "$WORK/run/${f#"$WORK"/run-ref/}" || same=0
  done
  if [ "$same" -eq 1 ]; then identical=$((identical + 1)); else echo "  kill $i at ${d}s: results differ" >&2; fi
done
echo "training: $runs runs, $killed killed mid-run (SIGKILL), $identical identical to the uninterrupted run after resuming"
train_ok=$([ "$identical" -eq "$runs" ] && [ "$killed" -ge "$KILLS" ] && echo 1 || echo 0)

# Task folders: 300 PNGs per class, classes 0-1 (task 0) and 2-3 (task 1), and 50 test PNGs per class.
python3 - "$WORK/learn" <<'PY'
import gzip, os, struct, sys, zlib
root = sys.argv[1]
def idx(name):
    with gzip.open(f"/usr/share/datasets/fashion-mnist/{name}", "rb") as f: return f.read()
def png(pixels, path):
    raw = b"".join(b"\0" + pixels[28 * y:28 * y + 28] for y in range(28))
    chunk = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for split, per, images, labels in [("train", 300, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"), ("test", 50, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")]:
    x, y, count = idx(images), idx(labels), [0] * 4
    for i, label in enumerate(y[8:]):
        if label < 4 and count[label] < per:
            d = f"{root}/{split}/task-{label // 2}/class-{label}" if split == "train" else f"{root}/test/class-{label}"
            os.makedirs(d, exist_ok=True); png(x[16 + 784 * i:16 + 784 * (i + 1)], f"{d}/{count[label]:04d}.png"); count[label] += 1
PY
learn() { "$BIN" learn --state "$1" --task "$WORK/learn/train/task-$2" "${@:3}" >/dev/null 2>&1; }
predict() { "$BIN" predict --state "$1" --folder "$WORK/learn/test" --json 2>/dev/null; }
echo "reference learning…"
learn "$WORK/state-ref" 0 --model "$MODEL" --method linear
cp -r "$WORK/state-ref" "$WORK/state-one"
start=$(date +%s.%N); learn "$WORK/state-ref" 1
took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
echo "  second task: $took s"
predict "$WORK/state-one" > "$WORK/before.json"; predict "$WORK/state-ref" > "$WORK/after.json"
cmp -s "$WORK/before.json" "$WORK/after.json" && { echo "the two states predict alike: the check could not tell them apart" >&2; exit 1; }
killed=0; identical=0; runs=0; previous=0; next=0
while [ "$killed" -lt "$KILLS" ] && [ "$runs" -lt $((3 * KILLS)) ]; do
  runs=$((runs + 1)); i=$runs
  rm -rf "$WORK/state"; cp -r "$WORK/state-one" "$WORK/state"
  d=$(random_delay "$took" 1.1)   # up to the end: the new state is written and committed in the last moments
  if kill_after "$d" "$BIN" learn --state "$WORK/state" --task "$WORK/learn/train/task-1"; then killed=$((killed + 1)); fi
  predict "$WORK/state" > "$WORK/now.json" || echo "  kill $i at ${d}s: the state does not load" >&2
  ok=0
  if cmp -s "$WORK/now.json" "$WORK/before.json"; then
    previous=$((previous + 1))
    learn "$WORK/state" 1 && predict "$WORK/state" | cmp -s - "$WORK/after.json" && ok=1
  elif cmp -s "$WORK/now.json" "$WORK/after.json"; then next=$((next + 1)); ok=1; fi
  if [ "$ok" -eq 1 ]; then identical=$((identical + 1)); else echo "  kill $i at ${d}s: neither the previous nor the next state" >&2; fi
done
echo "learner: $runs runs, $killed killed mid-run (SIGKILL), $identical left the previous ($previous) or the next ($next) state and reached the next"
[ "$ext_ok" -eq 1 ] && [ "$train_ok" -eq 1 ] && [ "$identical" -eq "$runs" ] && [ "$killed" -ge "$KILLS" ]
