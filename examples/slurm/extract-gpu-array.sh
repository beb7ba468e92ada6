#!/bin/bash
# Sharded feature extraction on Slurm GPU nodes with PyTorch: a plan job (clipcl, CPU), a job array of N GPU tasks
# (tools/extract_torch.py), then a merge job (clipcl), each starting only when the previous stage succeeded.
#
#   Submit from a login node:   bash examples/slurm/extract-gpu-array.sh
#
# The plan (`clipcl extract --plan`) holds the cache's meta.json and text features and the split's samples in
# dataset order, so GPU tasks need only Python with torch, numpy, safetensors, pillow and transformers (HF
# checkpoints) or open_clip_torch (open_clip ones). Task i of N encodes the chunks c with c % N == i into
# $OUT/parts/part-i in clipcl's cache format; a preempted or requeued task continues with its missing chunks. The
# merge checks every checksum and refuses gaps and overlaps. fp32 features match a CPU `clipcl extract` within 1e-5
# (torch with TF32 off); the merged cache works with every clipcl command.
#
# The directives below are the GPU tasks'; the plan and merge jobs override them on their sbatch lines. The GPU
# itself is requested on the array's sbatch line (--gres=gpu:1), so the CPU-only jobs do not wait for one.
#SBATCH --job-name=clipcl-extract-gpu
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --output=clipcl-extract-gpu-%A_%a.log

set -euo pipefail

# ---- settings (override from the environment) --------------------------------------------------------------
CLIPCL=${CLIPCL:-clipcl}
PYTHON=${PYTHON:-python3}                         # an interpreter with torch (CUDA build) and transformers/open_clip
EXTRACT_TORCH=${EXTRACT_TORCH:-$(cd "$(dirname "$0")/../.." && pwd)/tools/extract_torch.py}
MODEL=${MODEL:-openai/clip-vit-base-patch16}      # hub id (pre-download it: nodes may be offline) or a local folder
DATASET=${DATASET:-cifar100}
ROOT=${ROOT:-/datasets/cifar100}
SPLITS=${SPLITS:-"train test"}
DTYPE=${DTYPE:-f32}                              # f32 (TF32 off) or bf16 (torch.autocast)
OUT=${OUT:-$PWD/features/$DATASET}               # must be on a file system shared by all nodes
TASKS=${TASKS:-4}                                # number of GPU array tasks
# --------------------------------------------------------------------------------------------------------------

if [[ "${1:-}" != "--plan" && "${1:-}" != "--task" && "${1:-}" != "--merge" ]]; then
    # Login node: the plan on a CPU node, the GPU array after it, the merge after the whole array.
    mkdir -p "$OUT/parts"
    export CLIPCL PYTHON EXTRACT_TORCH MODEL DATASET ROOT SPLITS DTYPE OUT TASKS
    plan_id=$(sbatch --parsable --export=ALL --job-name=clipcl-plan --cpus-per-task=4 --mem=8G \
        --time=01:00:00 --output="clipcl-plan-%j.log" "$0" --plan)
    array_id=$(sbatch --parsable --export=ALL --dependency="afterok:${plan_id}" --kill-on-invalid-dep=yes \
        --gres=gpu:1 --array="0-$((TASKS - 1))" "$0" --task)
    merge_id=$(sbatch --parsable --export=ALL --dependency="afterok:${array_id}" --kill-on-invalid-dep=yes \
        --job-name=clipcl-merge --cpus-per-task=1 --mem=4G --time=01:00:00 --output="clipcl-merge-%j.log" \
        "$0" --merge)
    echo "submitted plan job ${plan_id}, GPU extraction array ${array_id} (${TASKS} tasks) and merge job ${merge_id}"
    exit 0
fi

if [[ "$1" == "--plan" ]]; then
    for split in $SPLITS; do
        "$CLIPCL" extract --model "$MODEL" --offline --dataset "$DATASET" --root "$ROOT" --split "$split" \
            --dtype "$DTYPE" --plan "$OUT/plan" --threads "${SLURM_CPUS_PER_TASK:-1}"
    done
    exit 0
fi

if [[ "$1" == "--task" ]]; then
    i=${SLURM_ARRAY_TASK_ID:?not running inside a Slurm job array}
    n=${SLURM_ARRAY_TASK_COUNT:-$TASKS}
    for split in $SPLITS; do
        HF_HUB_OFFLINE=1 "$PYTHON" "$EXTRACT_TORCH" --plan "$OUT/plan" --split "$split" --out "$OUT/parts/part-$i" \
            --shard "$i/$n" --workers "${SLURM_CPUS_PER_TASK:-1}" --quiet
    done
    exit 0
fi

# --merge
parts=()
for ((i = 0; i < TASKS; i++)); do parts+=("$OUT/parts/part-$i"); done
"$CLIPCL" extract --merge --out "$OUT/cache" "${parts[@]}"
"$CLIPCL" features verify "$OUT/cache"
echo "feature cache ready: $OUT/cache (the plan $OUT/plan and the part folders in $OUT/parts can now be deleted)"
