#!/usr/bin/env bash
# `command: plan`: split the suite into shards and hand GitHub the matrix.
#
# Writes plan.json (which every shard job downloads, so all of them run the same
# plan) and the one-line matrix JSON for `fromJSON(needs.<job>.outputs.matrix)`.
# Durations come from the `timings` input and, with `baseline: true`, from the base
# branch's last report.
#
# Inputs (environment): INPUT_SHARDS, INPUT_CONFIG, INPUT_TIMINGS (one path or glob a
# line), INPUT_BASELINE, INPUT_ARTIFACT_NAME, INPUT_ARGS (one argument a line),
# INPUT_WORKING_DIRECTORY, DTF_BIN, INPUT_TOKEN (for dtf baseline only).
# Outputs: matrix, plan (the path of plan.json).
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"

dtf_take_token
dtf=$(dtf_bin)
scratch=$(dtf_scratch)
mkdir -p -- "$scratch/plan"
plan="$scratch/plan/plan.json"
rm -f -- "$plan"
dtf_enter_workdir

args=(plan --emit github-matrix --output "$plan")
if [[ -n ${INPUT_SHARDS-} ]]; then
  [[ $INPUT_SHARDS =~ ^[1-9][0-9]*$ ]] || dtf_die "input shards must be a whole number of at least 1, got: $INPUT_SHARDS"
  args+=(--shards "$INPUT_SHARDS")
fi
if [[ -n ${INPUT_CONFIG-} ]]; then
  args+=(--config "$INPUT_CONFIG")
fi
# Oldest first, as dtf weighs the last one most: the base branch's last build comes
# before timings the workflow passes itself.
if dtf_bool baseline "${INPUT_BASELINE-}" && dtf_fetch_baseline "$scratch/plan/baseline"; then
  args+=(--timings "$DTF_BASELINE_DIR")
fi
dtf_lines "${INPUT_TIMINGS-}"
for t in ${DTF_LINES[@]+"${DTF_LINES[@]}"}; do
  args+=(--timings "$t")
done
dtf_lines "${INPUT_ARGS-}"
args+=(${DTF_LINES[@]+"${DTF_LINES[@]}"})

matrix=$("$dtf" "${args[@]}") || dtf_die "dtf plan failed (exit $?); see its message above"
# GitHub reads a step output up to the newline, and fromJSON needs an object.
if [[ $matrix == *$'\n'* || $matrix != '{'*'}' ]]; then
  dtf_die "dtf plan --emit github-matrix printed something other than one line of JSON: ${matrix:0:200}"
fi
[[ -f $plan ]] || dtf_die "dtf plan did not write ${plan}"

dtf_set_output matrix "$matrix"
dtf_set_output plan "$plan"
echo "matrix: ${matrix}"
