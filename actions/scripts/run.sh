#!/usr/bin/env bash
# `command: run`: run this job's shard of the plan and leave its bundle for upload.
#
# dtf run writes the shard's results and its bundle (dtf-shard-K.zip) into one
# folder. The bundle is uploaded by the next step of the action even when tests
# failed or the job was cancelled (dtf writes what it collected, marked partial), so
# the report job always has every shard that ran.
#
# Inputs (environment): INPUT_PLAN (default: the plan the action downloaded),
# INPUT_SHARD, INPUT_FRAMEWORK or INPUT_RUN_COMMAND, INPUT_CONFIG, INPUT_ARGS (one
# argument a line), INPUT_FAIL_ON_FAILURES, INPUT_WORKING_DIRECTORY, DTF_BIN.
# Outputs: bundle, results (the folder), summary (its summary.json), result (passed,
# failed or error), exit-code.
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"

dtf=$(dtf_bin)
scratch=$(dtf_scratch)
plan=${INPUT_PLAN:-"$scratch/plan/plan.json"}
shard=${INPUT_SHARD-}
[[ -n $shard ]] || dtf_die "input shard is empty: run the action in the matrix job from the plan (it reads matrix.shard) or pass shard explicitly"
[[ $shard =~ ^[1-9][0-9]*$ ]] || dtf_die "input shard must be a whole number of at least 1, got: $shard"
framework=${INPUT_FRAMEWORK-}
template=${INPUT_RUN_COMMAND-}
if [[ -n $framework && -n $template ]]; then
  dtf_die "give either framework or run-command, not both"
elif [[ -z $framework && -z $template ]]; then
  dtf_die "command run needs a framework (cargo-nextest, pytest, go, jest, vitest) or a run-command template"
fi
fail_on_failures=true
dtf_bool fail-on-failures "${INPUT_FAIL_ON_FAILURES:-true}" || fail_on_failures=false

dtf_enter_workdir
# A relative plan path means the working directory, as every other path input does.
[[ -f $plan ]] || dtf_die "no plan at ${plan}: run the action with command plan in an earlier job (it uploads the plan), or pass plan"
results="$scratch/results/shard-${shard}"
rm -rf -- "$results"

args=(run --plan "$plan" --shard "$shard" --out-dir "$results")
if [[ -n $framework ]]; then
  args+=(--framework "$framework")
else
  args+=(--command "$template")
fi
if [[ -n ${INPUT_CONFIG-} ]]; then
  args+=(--config "$INPUT_CONFIG")
fi
dtf_lines "${INPUT_ARGS-}"
args+=(${DTF_LINES[@]+"${DTF_LINES[@]}"})

# A cancelled job's step is stopped by signalling this shell, not its children: pass
# the signal on to dtf, which then writes what it has collected, marked partial, and
# exits 6, and wait for it to finish doing so.
signalled=false
forward() {
  signalled=true
  kill -TERM "$child" 2>/dev/null || true
}
"$dtf" "${args[@]}" &
child=$!
trap forward INT TERM
code=0
wait "$child" || code=$?
# A signal ends `wait` early (status 128+N); wait again for dtf's own exit status
# (127: there is none left to wait for, keep what we have).
while [[ $signalled == true && $code -gt 128 ]]; do
  next=0
  wait "$child" || next=$?
  [[ $next -eq 127 ]] && break
  code=$next
done
trap - INT TERM

case $code in
  0) result=passed ;;
  1) result=failed ;;
  *) result=error ;;
esac
bundle="$results/dtf-shard-${shard}.zip"
# A run that stopped before packing (an error, not a test failure) may still have
# written results worth keeping next to the other shards.
if [[ ! -f $bundle && -d $results ]] && [[ -n "$(ls -A -- "$results" 2>/dev/null)" ]]; then
  "$dtf" artifacts pack "$results" --output "$bundle" || rm -f -- "$bundle"
fi

dtf_set_output exit-code "$code"
dtf_set_output result "$result"
dtf_set_output results "$results"
if [[ -f $bundle ]]; then
  dtf_set_output bundle "$bundle"
fi
if [[ -f "$results/summary.json" ]]; then
  dtf_set_output summary "$results/summary.json"
fi

case $code in
  0) ;;
  1)
    if [[ $fail_on_failures == true ]]; then
      dtf_error "shard ${shard}: tests failed"
      exit 1
    fi
    dtf_warning "shard ${shard}: tests failed (fail-on-failures is false)"
    ;;
  6)
    dtf_error "shard ${shard}: dtf run was cancelled; the results it had collected are uploaded, marked partial"
    exit 6
    ;;
  *) dtf_die "shard ${shard}: dtf run failed with exit code ${code}; see its message above" ;;
esac
