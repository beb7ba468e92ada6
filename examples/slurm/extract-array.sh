#!/bin/bash
# Sharded feature extraction on Slurm: a job array of N extraction tasks, then a merge job that starts only when
# every task succeeded.
#
#   Submit from a login node:   bash examples/slurm/extract-array.sh
#   (the script submits itself as the array with `sbatch`, then the dependent merge job)
#
# Task i of N runs `clipcl extract --shard i/N`: it encodes the chunks c with c % N == i into its own folder
# $OUT/parts/part-i. A task that is preempted, times out or crashes can simply be resubmitted (or requeued):
# the rerun continues with the missing chunks. The merge verifies every checksum and refuses gaps/overlaps;
# its result is bit-identical to a single-machine run.
#
#SBATCH --job-name=clipcl-extract
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --output=clipcl-extract-%A_%a.log

set -euo pipefail

# ---- settings (override from the environment) --------------------------------------------------------------
CLIPCL=${CLIPCL:-clipcl}
MODEL=${MODEL:-openai/clip-vit-base-patch16}       # hub id (pre-download it: nodes may be offline) or a local path
DATASET=${DATASET:-cifar100}
ROOT=${ROOT:-/datasets/cifar100}
SPLITS=${SPLITS:-"train test"}
OUT=${OUT:-$PWD/features/$DATASET}               # must be on a file system shared by all nodes
TASKS=${TASKS:-8}                                # number of array tasks = number of shards
# --------------------------------------------------------------------------------------------------------------

if [[ "${1:-}" != "--task" && "${1:-}" != "--merge" ]]; then
    # Login node: submit the array, then the merge with afterok on the whole array.
    mkdir -p "$OUT/parts"
    export CLIPCL MODEL DATASET ROOT SPLITS OUT TASKS
    array_id=$(sbatch --parsable --export=ALL --array="0-$((TASKS - 1))" "$0" --task)
    merge_id=$(sbatch --parsable --export=ALL --dependency="afterok:${array_id}" --kill-on-invalid-dep=yes \
        --job-name=clipcl-merge --cpus-per-task=1 --mem=4G --time=01:00:00 --output="clipcl-merge-%j.log" \
        "$0" --merge)
    echo "submitted extraction array ${array_id} (${TASKS} tasks) and merge job ${merge_id}"
    exit 0
fi

if [[ "$1" == "--task" ]]; then
    i=${SLURM_ARRAY_TASK_ID:?not running inside a Slurm job array}
    n=${SLURM_ARRAY_TASK_COUNT:-$TASKS}
    for split in $SPLITS; do
        "$CLIPCL" extract --model "$MODEL" --offline --dataset "$DATASET" --root "$ROOT" --split "$split" \
            --out "$OUT/parts/part-$i" --shard "$i/$n" --threads "${SLURM_CPUS_PER_TASK:-1}"
    done
    exit 0
fi

# --merge
parts=()
for ((i = 0; i < TASKS; i++)); do parts+=("$OUT/parts/part-$i"); done
"$CLIPCL" extract --merge --out "$OUT/cache" "${parts[@]}"
"$CLIPCL" features verify "$OUT/cache"
echo "feature cache ready: $OUT/cache (the part folders in $OUT/parts can now be deleted)"
