"""The running time of a long run from its log (see logged_run.sh).

    python scripts/run_time.py results/medium.log

Lists each stretch between a `=== start` line and its `=== end` line, their
sum (the time spent running), and the wall time from the first start to the
last end. A stretch the machine stopped under has no end line; the next
stretch's start closes it with a `=== cut off` line, the time of its last
line, and it is counted to there. One with neither (still running, or from
a log written before cut-off lines) is listed as such and not counted.
"""

import datetime
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from errors import exit_status_of  # pylint: disable=g-import-not-at-top,wrong-import-position

START = re.compile(r"^=== start (\S+ \S+) UTC commit (\S+)")
END = re.compile(r"^=== end (\S+ \S+) UTC exit (-?\d+) after (\d+) s$")
CUT_OFF = re.compile(r"^=== cut off \S+ \S+ UTC after (\d+) s:")


def stretches(lines):
  """(start time, commit, seconds or None, exit status, or None when it was
  cut off or has not ended) each."""
  found = []
  for line in lines:
    if match := START.match(line):
      found.append([parse_time(match[1]), match[2], None, None])
    elif found and found[-1][2] is None:
      if match := END.match(line):
        found[-1][2:] = int(match[3]), int(match[2])
      elif match := CUT_OFF.match(line):
        found[-1][2] = int(match[1])
  return [tuple(stretch) for stretch in found]


def how_it_ended(seconds, status):
  if seconds is None:
    return "no end line (not counted)"
  if status is None:
    return "%s to its last line, cut off" % hours(seconds)
  return "%s, exit %d" % (hours(seconds), status)


def parse_time(text):
  return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def hours(seconds):
  return "%d h %02d min" % (seconds // 3600, seconds % 3600 // 60)


def main(path):
  try:
    with open(path, encoding="utf-8") as f:
      found = stretches(f)
  except (OSError, UnicodeDecodeError) as e:
    sys.exit("error: cannot read %s: %s"
             % (path, getattr(e, "strerror", None) or e))
  if not found:
    sys.exit("error: %s has no '=== start' line of logged_run.sh" % path)
  for number, (start, commit, seconds, status) in enumerate(found, 1):
    print("stretch %d: %s UTC, commit %s, %s"
          % (number, start, commit, how_it_ended(seconds, status)))
  counted = [s for s in found if s[2] is not None]
  print("running: %s in %d stretch%s" % (
      hours(sum(s[2] for s in counted)), len(found),
      "" if len(found) == 1 else "es"))
  if counted:
    end = max(start + datetime.timedelta(seconds=seconds)
              for start, _, seconds, _ in counted)
    print("wall time from first start to last end: %s"
          % hours((end - found[0][0]).total_seconds()))
  return 0


if __name__ == "__main__":
  if len(sys.argv) != 2:
    sys.exit("usage: %s LOG" % sys.argv[0])
  sys.exit(exit_status_of(main, sys.argv[1]))
