#!/usr/bin/env bash
# `command: report`: merge every shard's bundle, compare with the base branch, and
# publish: the one sticky pull-request comment, a check run and the job summary.
#
# The action downloads the shard bundles before this runs. Publishing problems (a
# read-only token on a pull request from a fork, an API outage) are dtf publish's to
# soften into a notice; they never hide the tests' result, which decides the outputs
# and, with fail-on-failures, the step.
#
# The history database (dtf-history.db) travels inside the report artifact: the base
# branch's copy comes with the baseline, judges flakiness, durations and the trend,
# gets this build added, and goes on in this build's report artifact.
#
# Inputs (environment): INPUT_RESULTS (one path or glob a line; default: the
# downloaded bundles), INPUT_CONFIG, INPUT_BASELINE, INPUT_HISTORY_BUILDS,
# INPUT_PUBLISH, INPUT_ARTIFACT_NAME, INPUT_ARGS (one argument a line, for dtf
# report), INPUT_FAIL_ON_FAILURES, INPUT_WORKING_DIRECTORY, DTF_BIN, INPUT_TOKEN (for
# dtf baseline and dtf publish only), GITHUB_STEP_SUMMARY.
# Outputs: summary (summary.json), report-dir, result (passed or failed), comment-url
# (when dtf publish reports one).
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"

dtf_take_token
dtf=$(dtf_bin)
scratch=$(dtf_scratch)
fail_on_failures=true
dtf_bool fail-on-failures "${INPUT_FAIL_ON_FAILURES:-true}" || fail_on_failures=false
publish=true
dtf_bool publish "${INPUT_PUBLISH:-true}" || publish=false
history_builds=${INPUT_HISTORY_BUILDS:-100}
[[ $history_builds =~ ^[0-9]+$ ]] || dtf_die "input history-builds must be a whole number (0 keeps no history), got: $history_builds"
dtf_enter_workdir
# Error-category rules and named queries; dtf.toml here when the input names none,
# as dtf plan and dtf run do.
config=${INPUT_CONFIG-}
if [[ -z $config && -f dtf.toml ]]; then
  config=dtf.toml
fi

out="$scratch/report"
rm -rf -- "$out"
mkdir -p -- "$out"

dtf_lines "${INPUT_RESULTS-}"
inputs=(${DTF_LINES[@]+"${DTF_LINES[@]}"})
timelines=()
if [[ ${#inputs[@]} -eq 0 ]]; then
  bundles="$scratch/bundles"
  shopt -s nullglob
  found=("$bundles"/*.zip)
  shopt -u nullglob
  if [[ ${#found[@]} -eq 0 ]]; then
    dtf_die "no shard bundles in ${bundles}: did the test jobs run the action with command run and the same artifact-name?"
  fi
  echo "shard bundles: ${#found[@]}"
  # Each bundle's timeline draws that shard's runs in the HTML report.
  for b in "${found[@]}"; do
    name=$(basename -- "$b" .zip)
    if "$dtf" -q artifacts unpack "$b" -d "$scratch/unpacked/$name" && [[ -f "$scratch/unpacked/$name/timeline.json" ]]; then
      timelines+=(--timeline "$scratch/unpacked/$name/timeline.json")
    fi
  done
  inputs=("$bundles")
fi

args=(report --out-dir "$out" --keep-going --fail-on-failures)
baseline=''
if dtf_bool baseline "${INPUT_BASELINE-}" && dtf_fetch_baseline "$scratch/baseline"; then
  baseline=$DTF_BASELINE_DIR
  args+=(--baseline "$baseline")
fi
db=''
if [[ $history_builds -gt 0 ]]; then
  db="$out/dtf-history.db"
  if [[ -n $baseline && -f "$baseline/dtf-history.db" ]]; then
    cp -- "$baseline/dtf-history.db" "$db"
    # A history that cannot be read would make the report fail; start a new one.
    if ! "$dtf" -q history list --db "$db" --limit 1 >/dev/null; then
      dtf_warning "the base branch's history cannot be read (see above); starting a new one"
      rm -f -- "$db"
    fi
  fi
  # A history that does not exist yet is a first build: the comparison (and with it
  # the pull-request comment, comment.md) is still made.
  args+=(--db "$db")
fi
if [[ -n $config ]]; then
  args+=(--config "$config")
fi
args+=(${timelines[@]+"${timelines[@]}"})
dtf_lines "${INPUT_ARGS-}"
args+=(${DTF_LINES[@]+"${DTF_LINES[@]}"})
args+=(-- "${inputs[@]}")

code=0
"$dtf" "${args[@]}" || code=$?
case $code in
  0) result=passed ;;
  1) result=failed ;;
  3)
    # --keep-going wrote the reports from what could be read; a shard that could not
    # be read is missing from them, so this cannot count as passed.
    result=failed
    dtf_warning "some results could not be read (listed above and in the report); the report holds the rest"
    ;;
  *) dtf_die "dtf report failed with exit code ${code}; see its message above" ;;
esac
[[ -f "$out/summary.json" ]] || dtf_die "dtf report wrote no summary.json into ${out}"
if [[ -n $db ]]; then
  ingest=(history ingest --db "$db" --keep-builds "$history_builds" --keep-going)
  if [[ -n $config ]]; then
    ingest+=(--config "$config")
  fi
  if [[ -z ${INPUT_RESULTS-} && -f "$scratch/plan/plan.json" ]]; then
    ingest+=(--plan "$scratch/plan/plan.json")
  fi
  "$dtf" "${ingest[@]}" -- "${inputs[@]}" ||
    dtf_warning "this build could not be added to the history (see above); the report is complete without it"
fi
dtf_set_output summary "$out/summary.json"
dtf_set_output report-dir "$out"
dtf_set_output result "$result"

if [[ $publish == true ]]; then
  # dtf publish exits 0 when the provider refuses or cannot be reached (a fork's
  # read-only token): it says so, and puts the comment into the job summary instead.
  log="$scratch/publish.log"
  publish_code=0
  dtf_with_token publish --from-report "$out" 2>"$log" || publish_code=$?
  # Its notices (a comment not posted, and why) become annotations on the run's page.
  while IFS= read -r line || [[ -n $line ]]; do
    case "$line" in
      'notice: '*) dtf_notice "dtf publish: ${line#notice: }" ;;
      'warning: '*) dtf_warning "dtf publish: ${line#warning: }" ;;
      *) printf '%s\n' "$line" ;;
    esac
  done <"$log"
  if [[ $publish_code -eq 0 ]]; then
    url=$(sed -n -E 's#^comment: (created|updated) (https://[^[:space:]]+)$#\2#p' "$log" | head -n 1)
    if [[ -n $url ]]; then
      dtf_set_output comment-url "$url"
    fi
  else
    dtf_warning "dtf publish failed with exit code ${publish_code} (see above); the results are in the report artifact and the outputs"
  fi
elif [[ -n ${GITHUB_STEP_SUMMARY-} && -f "$out/summary.md" ]]; then
  # GitHub refuses a job summary over 1 MiB; a cut summary says where the rest is.
  limit=$((1024 * 1024 - 256))
  if [[ $(wc -c <"$out/summary.md") -le $limit ]]; then
    cat -- "$out/summary.md" >>"$GITHUB_STEP_SUMMARY"
  else
    # Whole lines only, so no table row or character is cut in half.
    head -c "$limit" -- "$out/summary.md" | sed '$d' >>"$GITHUB_STEP_SUMMARY"
    printf '\n\n_The summary is cut here to fit the job summary; the whole report is in the report artifact._\n' >>"$GITHUB_STEP_SUMMARY"
  fi
fi

if [[ $result == failed ]]; then
  if [[ $fail_on_failures == true ]]; then
    dtf_error "tests failed: see the report"
    exit 1
  fi
  dtf_warning "tests failed (fail-on-failures is false)"
fi
