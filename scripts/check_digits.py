"""Does this code (or another commit) print a committed log's first digits?

    python scripts/check_digits.py results/small.log --data_path ../shared/data/ptb
    python scripts/check_digits.py ~/large.log --commit 3f2c1ab --lines 1

Runs the log's own command (its flags, with --data_path replaced and no
--save_path, so no run is resumed or disturbed) until it has printed the
first `--lines` progress lines of epoch 1, stops it, and compares their
perplexities with the log's, digit for digit. With --commit, runs that
commit from a temporary checkout: the check before moving a long run to a
newer commit, which must compute the same numbers. Exit 0 when every digit
is the same; 1 with the differences (and by how much) otherwise.
"""

import argparse
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from errors import exit_status_of  # pylint: disable=g-import-not-at-top,wrong-import-position

# How a log says what ran: the header of results/small.log, or the start
# line of scripts/logged_run.sh.
COMMAND = re.compile(r"^(?:# command: |=== start .* cores: )(.*ptb_word_lm\.py.*)$")
PROGRESS = re.compile(r"^(\d\.\d{3}) perplexity: (\d+\.\d{3}) speed: \d+ wps$")
# Flags that say where, not what: they must not point into the logged run.
WHERE_FLAGS = ("--data_path", "--save_path")


def read_log(path, count):
  """The log's training flags and its first `count` progress lines of
  epoch 1, as (fraction, perplexity) strings."""
  try:
    with open(path, encoding="utf-8") as f:
      lines = f.read().splitlines()
  except OSError as e:
    sys.exit("error: cannot read %s: %s" % (path, e.strerror or e))
  commands = [m[1] for m in map(COMMAND.match, lines) if m]
  if not commands:
    sys.exit("error: %s names no ptb_word_lm.py command (a '# command:' or "
             "'=== start' line)" % path)
  flags = training_flags(commands[0])
  # The progress lines right after the first "Epoch: 1 Learning rate".
  first = next((i for i, line in enumerate(lines)
                if line.startswith("Epoch: 1 Learning rate: ")), len(lines))
  progress = []
  for line in lines[first + 1:]:
    if not (match := PROGRESS.match(line)):
      break
    progress.append(match.groups())
  if len(progress) < count:
    sys.exit("error: %s has %d progress lines of epoch 1, fewer than --lines "
             "%d" % (path, len(progress), count))
  return flags, progress[:count]


def training_flags(command):
  """The flags of a ptb_word_lm.py command line, less WHERE_FLAGS."""
  words = shlex.split(command)
  script = next(i for i, word in enumerate(words)
                if word.endswith("ptb_word_lm.py"))
  flags, value_follows = [], False
  for word in words[script + 1:]:
    if value_follows:  # the value of a dropped flag (--save_path /x)
      value_follows = False
    elif word.startswith(WHERE_FLAGS):
      value_follows = word in WHERE_FLAGS
    else:
      flags.append(word)
  return flags


def run_until(checkout, flags, data_path, count):
  """The first `count` progress lines that `checkout`'s ptb_word_lm.py
  prints with `flags`; the run is stopped once they are there."""
  process = subprocess.Popen(
      [sys.executable, os.path.join(checkout, "ptb_word_lm.py"), *flags,
       "--data_path=" + data_path],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=checkout)
  printed = []
  try:
    for line in process.stdout:
      if match := PROGRESS.match(line.strip()):
        printed.append(match.groups())
        if len(printed) == count:
          break
  finally:
    process.send_signal(signal.SIGTERM)  # no --save_path: nothing is saved
    _, stderr = process.communicate(timeout=600)
  if len(printed) < count:
    errors = [l for l in stderr.splitlines() if l.startswith("error:")]
    sys.exit("error: the run ended before %d progress lines: %s"
             % (count, errors[-1] if errors else stderr.strip()[-500:]))
  return printed


def differences(expected, printed, source="the log"):
  """One line per progress line that differs from `source`'s, with the
  relative difference of its perplexity."""
  found = []
  for (fraction, logged), (now_fraction, now) in zip(expected, printed):
    if (fraction, logged) != (now_fraction, now):
      found.append("at %s of epoch 1: %s has %s, this run %s (relative "
                   "difference %.1e)" % (fraction, source, logged, now,
                                         abs(float(now) / float(logged) - 1)))
  return found


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("log")
  parser.add_argument("--lines", type=int, default=2,
                      help="progress lines of epoch 1 to compare (default 2)")
  parser.add_argument("--commit", help="run this commit's code (default: the "
                      "working tree's)")
  parser.add_argument("--data_path", default=os.environ.get("PTB_DATA"),
                      help="the PTB folder (default: $PTB_DATA)")
  args = parser.parse_args(argv)
  if args.lines < 1:
    sys.exit("error: --lines must be 1 or more, got %d" % args.lines)
  if not args.data_path:
    sys.exit("error: give --data_path or set PTB_DATA to the PTB folder")
  flags, expected = read_log(args.log, args.lines)
  data_path = os.path.abspath(os.path.expanduser(args.data_path))
  if args.commit:
    with tempfile.TemporaryDirectory(prefix="check-digits-") as folder:
      checkout = os.path.join(folder, "checkout")
      added = subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach",
                              checkout, args.commit], capture_output=True,
                             text=True, check=False)
      if added.returncode:
        sys.exit("error: cannot check out %s: %s"
                 % (args.commit, added.stderr.strip().splitlines()[-1]))
      try:
        printed = run_until(checkout, flags, data_path, args.lines)
      finally:
        subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force",
                        checkout], capture_output=True, check=False)
  else:
    printed = run_until(ROOT, flags, data_path, args.lines)
  found = differences(expected, printed)
  for line in found:
    print(line)
  if found:
    return 1
  print("the same digits as %s: %s" % (args.log, ", ".join(
      perplexity for _, perplexity in printed)))
  return 0


if __name__ == "__main__":
  sys.exit(exit_status_of(main))
