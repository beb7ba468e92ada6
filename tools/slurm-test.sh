#!/usr/bin/env bash
# Runs the Slurm example of examples/slurm on a real one-node Slurm cluster started on this machine, and checks
# that its result is bit-identical to a one-process `clipcl extract`.
#
#   sudo tools/slurm-test.sh        (as root; installs slurm-wlm and munge from Debian when missing; a few minutes)
#
# munged, slurmctld and slurmd run from a temporary directory (their own key, sockets, spool, state and logs),
# on loopback ports 16817/16818, and are stopped by their own pids on exit. The example scripts run unchanged;
# only environment variables are set: which model, dataset and folder, the number of array tasks, and
# SBATCH_MEM_PER_NODE (2G instead of the examples' 16G). The node is declared with the examples' 8 CPUs
# (SlurmdParameters=config_overrides) so their `#SBATCH --cpus-per-task=8` is used as written.
# Steps, each named when it fails:
#   1. extraction of Fashion-MNIST (train and test, 70,000 images, with the tiny fixture model) as an array of 3 tasks + the dependent merge; every
#      file of the merged cache must equal (cmp) a one-process `clipcl extract` with the same settings;
#   2. the same with array task 1 requeued (`scontrol requeue`) while it runs: the rerun continues and the merge
#      is still identical;
#   3. a sweep (examples/slurm/sweep-array.sh: 6 grid points over 3 array tasks, then `clipcl sweep --collect`) must
#      give the one-process `clipcl sweep`'s comparison.csv (every column but the training seconds);
#   4. the GPU variant (examples/slurm/extract-gpu-array.sh: a plan job, 3 array tasks with --gres=gpu:1 running
#      tools/extract_torch.py, the merge) on a node declaring one GPU (device file /dev/null: torch runs on the
#      CPU here): meta.json and text.safetensors must cmp equal to the one-process extract's, and every shard hold the
#      same ids, labels and skipped images with float16 features at most one rounding step (+1e-5) apart;
#   5. the Kubernetes manifests are validated offline against the API's schemas (kubernetes-validate --strict).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
[ "$(id -u)" -eq 0 ] || { echo "slurm-test: run as root (slurmd starts jobs as their users)" >&2; exit 2; }
step() { echo "== $*"; STEP="$*"; }
fail() { echo "slurm-test: FAILED at step '$STEP': $*" >&2; exit 1; }
STEP="setup"
trap 'rc=$?; [ $rc -eq 0 ] || echo "slurm-test: FAILED at step '"'"'$STEP'"'"' (exit $rc)" >&2; cleanup' EXIT

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
fi
tools/ensure-packages.sh pkg-config libopenblas-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev dataset-fashion-mnist
[ -x .build/release/clipcl ] || swift build -c release --product clipcl
BIN=$REPO/.build/release/clipcl
MODEL=$REPO/Tests/Fixtures/clip/hf-tiny

D=$(mktemp -d /tmp/clipcl-slurm.XXXXXX)
chmod 755 "$D"
PIDS=()
cleanup() {
  for f in "$D"/slurmd.pid "$D"/slurmctld.pid "$D"/munged.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  sleep 1
  for f in "$D"/slurmd.pid "$D"/slurmctld.pid "$D"/munged.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  [ -n "${KEEP:-}" ] && echo "kept $D" || rm -rf "$D"
}

step "start munged"
mkdir -p "$D/munge" "$D/spool" "$D/state" "$D/work"
chmod 700 "$D/munge"
dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$D/munge/munge.key"
munged --key-file="$D/munge/munge.key" --socket="$D/munge/munge.socket" --pid-file="$D/munged.pid" \
  --log-file="$D/munge/munged.log" --seed-file="$D/munge/munged.seed" --force
for _ in $(seq 50); do [ -S "$D/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$D/munge/munge.socket" ] || fail "munged did not create its socket ($(tail -2 "$D/munge/munged.log"))"

step "start slurmctld and slurmd"
host=$(hostname -s)
mem=$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)
cat > "$D/slurm.conf" <<EOF
ClusterName=clipcl-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
SlurmdParameters=config_overrides
MpiDefault=none
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
# One "GPU" whose device file is /dev/null (slurmd drops file-less GPUs; without task/cgroup nothing is enforced):
# enough for the scheduler to place --gres=gpu:1 jobs. torch finds no CUDA and runs on the CPU.
echo "NodeName=$host Name=gpu File=/dev/null" > "$D/gres.conf"
export SLURM_CONF=$D/slurm.conf
slurmctld -i
slurmd
for _ in $(seq 100); do
  sinfo -h -o %T 2>/dev/null | grep -qE "^idle" && break; sleep 0.2
done
sinfo -h -o %T | grep -qE "^idle" || fail "the node is not idle: $(sinfo 2>&1 | tail -1); $(tail -3 "$D/slurmd.log")"
sinfo

# Waits until no job of ours is pending or running; fails if any ended in another state than COMPLETED.
wait_jobs() {
  local t0=$SECONDS
  while squeue -h | grep -q .; do
    [ $((SECONDS - t0)) -lt 1200 ] || fail "jobs still queued after 20 min: $(squeue)"
    sleep 1
  done
}

# The one-process reference.
step "one-process clipcl extract (reference)"
for split in train test; do
  "$BIN" extract --model "$MODEL" --offline --dataset fashion-mnist --split "$split" \
    --out "$D/reference" >/dev/null 2>&1 || fail "reference extraction of $split"
done

same_as_reference() {  # same_as_reference DIR: every file of the reference and DIR equal, and no other files
  diff <(cd "$D/reference" && find . -type f ! -name .lock | sort) <(cd "$1" && find . -type f ! -name .lock | sort) >/dev/null \
    || fail "$1 holds other files than the reference"
  (cd "$D/reference" && find . -type f ! -name .lock) | while read -r f; do cmp -s "$D/reference/$f" "$1/$f" || fail "$f differs"; done
  echo "  cmp: every file of $1 identical to the one-process extract ($(find "$1" -type f ! -name .lock | wc -l) files)"
}

run_example() {  # run_example NAME [requeue]
  local out=$D/work/$1
  mkdir -p "$out"
  (cd "$out" && CLIPCL=$BIN MODEL=$MODEL DATASET=fashion-mnist ROOT=/usr/share/datasets/fashion-mnist SPLITS="train test" \
     OUT=$out TASKS=3 SBATCH_MEM_PER_NODE=2G \
     bash "$REPO/examples/slurm/extract-array.sh") | tee "$out/submit.txt"
  if [ "${2:-}" = requeue ]; then
    local array; array=$(grep -oE 'array [0-9]+' "$out/submit.txt" | awk '{print $2}')
    for _ in $(seq 600); do
      [ "$(squeue -h -j "${array}_1" -o %T 2>/dev/null)" = RUNNING ] && \
        ls "$out/parts/part-1" 2>/dev/null | grep -q 'train-.*safetensors' && break
      sleep 0.2
    done
    scontrol requeue "${array}_1" || fail "scontrol requeue ${array}_1"
    echo "  requeued array task ${array}_1 while it ran (Slurm holds a requeued job about 2 minutes before it starts again)"
  fi
  wait_jobs
  if [ "${2:-}" = requeue ]; then
    grep -h "resuming" "$out"/clipcl-extract-*_1.log | sed 's/^/  task 1 after the requeue: /' \
      || echo "  task 1 had finished before the requeue took effect: its rerun found every shard"
  fi
  [ -f "$out/cache/meta.json" ] || fail "no merged cache ($(cat "$out"/clipcl-merge-*.log 2>/dev/null | tail -3))"
  same_as_reference "$out/cache"
}

step "array of 3 extraction tasks + dependent merge"
t0=$SECONDS; run_example plain; echo "  $((SECONDS - t0)) s"
step "the same with one array task requeued while it runs"
t0=$SECONDS; run_example requeued requeue; echo "  $((SECONDS - t0)) s"

step "a sweep as an array (one grid point per task) + the dependent --collect"
sweep_args=(--config configs/fashion-mnist-b0inc2.json --features "$D/work/plain/cache" --grid method=zeroshot,ncm,linear --grid seeds=0,1)
"$BIN" sweep "${sweep_args[@]}" --out "$D/work/sweep-one" >/dev/null 2>&1 || fail "one-process clipcl sweep"
mkdir -p "$D/work/sweep"
t0=$SECONDS
(cd "$D/work/sweep" && CLIPCL=$BIN CONFIG=$REPO/configs/fashion-mnist-b0inc2.json FEATURES=$D/work/plain/cache \
   GRID="method=zeroshot,ncm,linear seeds=0,1" OUT=$D/work/sweep TASKS=3 SBATCH_MEM_PER_NODE=2G \
   bash "$REPO/examples/slurm/sweep-array.sh") | sed 's/^/  /'
wait_jobs
[ -f "$D/work/sweep/comparison.csv" ] || fail "no comparison.csv ($(tail -3 "$D"/work/sweep/clipcl-collect-*.log 2>/dev/null))"
# Every column but the last (the training seconds).
table() { sed 's/,[^,]*$//' "$1/comparison.csv"; }
cmp -s <(table "$D/work/sweep-one") <(table "$D/work/sweep") \
  || fail "the collected table differs from the one-process sweep's: $(diff <(table "$D/work/sweep-one") <(table "$D/work/sweep") | head -4)"
echo "  comparison.csv (all columns but train_s) identical to the one-process sweep: $(($(wc -l < "$D/work/sweep/comparison.csv") - 1)) rows; $((SECONDS - t0)) s"

step "GPU variant: plan job, 3 array tasks with --gres=gpu:1 (tools/extract_torch.py), merge"
# The throwaway interop venv has torch (CPU), transformers and open_clip; it also serves kubernetes-validate below.
PY=$(tools/python-interop-venv.sh)
[ -n "$PY" ] || fail "no Python venv with torch (tools/python-interop-venv.sh)"
out=$D/work/gpu
mkdir -p "$out"
t0=$SECONDS
(cd "$out" && CLIPCL=$BIN PYTHON=$PY MODEL=$MODEL DATASET=fashion-mnist ROOT=/usr/share/datasets/fashion-mnist \
   SPLITS="train test" OUT=$out TASKS=3 SBATCH_MEM_PER_NODE=2G \
   bash "$REPO/examples/slurm/extract-gpu-array.sh") | tee "$out/submit.txt" | sed 's/^/  /'
array=$(grep -oE 'array [0-9]+' "$out/submit.txt" | awk '{print $2}')
gres=$(scontrol show job "${array}_0" 2>/dev/null | grep -oE 'TresPerNode=[^ ]*' || true)
[ "$gres" = "TresPerNode=gres:gpu:1" ] || fail "array task ${array}_0 does not request one GPU ($gres)"
echo "  the array tasks request $gres"
wait_jobs
[ -f "$out/cache/meta.json" ] || fail "no merged cache ($(tail -3 "$out"/clipcl-*.log 2>/dev/null))"
for f in meta.json text.safetensors; do cmp -s "$D/reference/$f" "$out/cache/$f" || fail "$f differs from the one-process extract's"; done
"$PY" - "$D/reference" "$out/cache" <<'PYEOF' || fail "the GPU variant's shards differ from the one-process extract's"
import glob, json, os, sys
import numpy as np
from safetensors import safe_open
ref, got = sys.argv[1], sys.argv[2]
names = sorted(os.path.basename(p) for p in glob.glob(f"{ref}/*-0*.safetensors"))
assert names == sorted(os.path.basename(p) for p in glob.glob(f"{got}/*-0*.safetensors")), "other shard files"
worst = flips = total = 0
for n in names:
    with safe_open(f"{ref}/{n}", "np") as a, safe_open(f"{got}/{n}", "np") as b:
        for k in ("ids", "skipped", "first_index"):
            assert json.loads(a.metadata()[k]) == json.loads(b.metadata()[k]), f"{n}: {k}"
        assert (a.get_tensor("labels") == b.get_tensor("labels")).all(), f"{n}: labels"
        x, y = a.get_tensor("features"), b.get_tensor("features")
        # fp32 features within 1e-5 (as ExtractTorchTests checks), then each rounded to float16: at most one step apart.
        step = np.spacing(np.maximum(np.abs(x), np.abs(y))).astype(np.float32)
        assert (np.abs(x.astype(np.float32) - y.astype(np.float32)) <= step + 1e-5).all(), f"{n}: features"
        worst = max(worst, float(np.abs(x.astype(np.float32) - y.astype(np.float32)).max()))
        flips += int((x != y).sum()); total += x.size
print(f"  {len(names)} shards: same ids, labels and skipped; {flips} of {total} float16 features differ "
      f"(largest difference {worst:.2e}), the rest identical")
PYEOF
echo "  $((SECONDS - t0)) s"

step "Kubernetes manifest, offline validation"
# kubectl's --dry-run=client still asks an API server for its resource list, so the schema check is
# kubernetes-validate (PyPI; the API's OpenAPI schemas bundled, --strict refuses unknown fields), in the
# throwaway interop venv.
"$PY" -m pip install -q kubernetes-validate >/dev/null 2>&1 || fail "pip install kubernetes-validate"
"$(dirname "$PY")/kubernetes-validate" --strict examples/kubernetes/*.yaml | sed 's/^/  /'
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "examples/kubernetes does not validate against the Kubernetes API schema"
echo "slurm-test: all steps passed"
