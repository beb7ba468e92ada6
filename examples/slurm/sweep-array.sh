#!/bin/bash
# A sweep on Slurm: a job array whose task i runs the grid points p with p % N == i (every seed of each), each into
# its own sub-folder of $OUT, then a job, once every task succeeded, that builds the comparison table, CSV and
# report.html from those folders, exactly as a one-process `clipcl sweep` writes them.
#
#   Submit from a login node:   CONFIG=configs/cifar100-b0inc10.json FEATURES=... GRID="method=ncm,linear,rapf seeds=0,1,2" \
#                               bash examples/slurm/sweep-array.sh
#
# A task that is preempted or requeued resumes its points (`clipcl sweep` resumes every run it finds); a sweep
# killed half-way can be collected once the missing points ran: resubmit, the finished points are reused.
#
#SBATCH --job-name=clipcl-sweep
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --output=clipcl-sweep-%A_%a.log

set -euo pipefail

# ---- settings (override from the environment) --------------------------------------------------------------
CLIPCL=${CLIPCL:-clipcl}
CONFIG=${CONFIG:-configs/cifar100-b0inc10.json}  # a run config (clipcl run --config)
FEATURES=${FEATURES:-}                           # the feature cache, if not the config's "features"
GRID=${GRID:-"method=ncm,linear,rapf"}           # space-separated KEY=V1,V2 axes (clipcl sweep --grid)
OUT=${OUT:-$PWD/runs/sweep}                      # must be on a file system shared by all nodes
TASKS=${TASKS:-4}                                # number of array tasks
# --------------------------------------------------------------------------------------------------------------

sweep() {
    local grid=() axis
    for axis in $GRID; do grid+=(--grid "$axis"); done
    "$CLIPCL" sweep --config "$CONFIG" ${FEATURES:+--features "$FEATURES"} "${grid[@]}" --out "$OUT" "$@"
}

if [[ "${1:-}" != "--task" && "${1:-}" != "--collect" ]]; then
    mkdir -p "$OUT"
    export CLIPCL CONFIG FEATURES GRID OUT TASKS
    array_id=$(sbatch --parsable --export=ALL --array="0-$((TASKS - 1))" "$0" --task)
    collect_id=$(sbatch --parsable --export=ALL --dependency="afterok:${array_id}" --kill-on-invalid-dep=yes \
        --job-name=clipcl-collect --cpus-per-task=1 --mem=4G --time=01:00:00 --output="clipcl-collect-%j.log" \
        "$0" --collect)
    echo "submitted sweep array ${array_id} (${TASKS} tasks) and collect job ${collect_id}"
    exit 0
fi

if [[ "$1" == "--task" ]]; then
    i=${SLURM_ARRAY_TASK_ID:?not running inside a Slurm job array}
    n=${SLURM_ARRAY_TASK_COUNT:-$TASKS}
    sweep --shard "$i/$n" --threads "${SLURM_CPUS_PER_TASK:-1}"
    exit 0
fi

# --collect
sweep --collect
echo "sweep collected: $OUT/comparison.csv, $OUT/report.html"
