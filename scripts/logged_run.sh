#!/usr/bin/env bash
# Runs a long command with its output appended to a log, between lines that
# say when, where and at which commit each stretch ran, so that a log of a run
# stopped and resumed many times shows every stretch and how long it took.
# A second line names the Python, TensorFlow and NumPy versions and the
# processor (environment.py): the same seed gives the same digits only there.
# A TERM or INT to this script is passed on to the command, which saves.
#
#   setsid nohup scripts/logged_run.sh ~/medium.log python ptb_word_lm.py ... &
set -uo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 LOG COMMAND [ARGUMENT ...]" >&2
  exit 2
fi
log=$1
shift
here=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
printf -v command '%q ' "$@"  # quoted as typed, on one line
echo "=== start $(date -u '+%Y-%m-%d %H:%M:%S UTC') commit $commit" \
  "host $(hostname) $(nproc) cores: ${command% }" >> "$log"
# The versions of the Python that runs the command (a virtualenv's python).
python=python3
[[ $(basename "$1") == python* ]] && python=$1
echo "=== on $("$python" "$here/environment.py" 2>&1 | tail -n 1)" >> "$log"
started=$(date +%s)
"$@" >> "$log" 2>&1 &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
# `wait` returns early when a trapped signal arrives; wait again until the
# command has finished saving and exited.
while true; do
  wait "$child"
  status=$?
  kill -0 "$child" 2>/dev/null || break
done
echo "=== end $(date -u '+%Y-%m-%d %H:%M:%S UTC') exit $status after" \
  "$(( $(date +%s) - started )) s" >> "$log"
exit "$status"
