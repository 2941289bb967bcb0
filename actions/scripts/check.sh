#!/usr/bin/env bash
# Stop at once on a command the action does not have, before anything is installed:
# otherwise every later step's `if:` is false and the job passes having done nothing.
#
# Inputs (environment): INPUT_COMMAND.
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"

case "${INPUT_COMMAND-}" in
  plan | run | report) echo "dtf action: ${INPUT_COMMAND}" ;;
  *) dtf_die "input command must be plan, run or report; got: ${INPUT_COMMAND:-<empty>}" ;;
esac
