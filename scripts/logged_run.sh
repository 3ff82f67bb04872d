#!/usr/bin/env bash
# Runs a long command with its output appended to a log, between lines that
# say when, where and at which commit each stretch ran, so that a log of a run
# stopped and resumed many times shows every stretch and how long it took.
# A second line names the Python, TensorFlow and NumPy versions and the
# processor (environment.py): the same seed gives the same digits only there.
# A TERM or INT to this script is passed on to the command, which saves.
# A stretch that could not say how it ended (the machine stopped under it)
# gets a "=== cut off" line when the next one starts.
#
#   setsid nohup scripts/logged_run.sh ~/medium.log python ptb_word_lm.py ... &
set -uo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 LOG COMMAND [ARGUMENT ...]" >&2
  exit 2
fi
log=$1
shift
# One stretch at a time writes a log: a lock on it, held until the command
# (which inherits it) and this script have both exited, however they end.
if ! { exec 9>>"$log"; } 2>/dev/null; then
  echo "error: cannot write the log $log: is its folder there, and" \
    "writable?" >&2
  exit 2
fi
if ! flock --nonblock 9; then
  echo "error: $log is being written by a stretch still running; stop that" \
    "one first (kill -TERM its logged_run.sh) or give another log" >&2
  exit 2
fi
# A stretch killed with its machine or session never wrote its end line:
# close it with the time its last line was written (the log's own time).
open_since=$(awk '/^=== start /{since=$3" "$4} /^=== (end|cut off) /{since=""}
                  END{print since}' "$log")
if [[ -n $open_since ]]; then
  last_written=$(stat -c %Y "$log")
  echo "=== cut off $(date -u -d "@$last_written" '+%Y-%m-%d %H:%M:%S UTC')" \
    "after $(( last_written - $(date -u -d "$open_since" +%s) )) s:" \
    "no end line, the time is its last line's" >> "$log"
fi
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
