"""Do two training logs print the same numbers?

    python scripts/compare_logs.py results/large.log results/large-seed1-intel.log

Reads the perplexities each log printed (the progress lines, each epoch's
train and valid, the test) and compares, digit for digit, those that both
printed: the check that a run on another machine, or one stopped and
resumed many times, is still the same run. Prints the epochs' train and
valid side by side, then every line that differs. Exit 0 when each line
both printed is the same; 1 when one differs, or when they share none.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from check_digits import PROGRESS  # pylint: disable=g-import-not-at-top,wrong-import-position
from errors import exit_status_of  # pylint: disable=g-import-not-at-top,wrong-import-position
from plot_runs import EPOCH_LINE, TEST_LINE  # pylint: disable=g-import-not-at-top,wrong-import-position

# The epoch a progress line belongs to is that of the last "Epoch: N
# Learning rate" line; a resumed run prints that line again first.
EPOCH = re.compile(r"^Epoch: (\d+) Learning rate: ")
# Two runs that part early differ in every line after: the first few say
# where and by how much.
SHOWN = 10


def perplexities(path):
  """{(epoch, line): perplexity as printed}, in the log's order. line is a
  progress line's fraction ("0.306"), "Train", "Valid" or "Test" (epoch
  None). A line printed twice (a run resumed from an earlier save after a
  kill -9 prints it again) keeps its first value."""
  try:
    with open(path, encoding="utf-8") as f:
      lines = f.read().splitlines()
  except (OSError, UnicodeDecodeError) as e:
    sys.exit("error: cannot read %s: %s"
             % (path, getattr(e, "strerror", None) or e))
  found, epoch = {}, None
  for line in lines:
    if match := EPOCH.match(line):
      epoch = int(match[1])
    elif (match := PROGRESS.match(line)) and epoch is not None:
      found.setdefault((epoch, match[1]), match[2])
    elif match := EPOCH_LINE.match(line):
      found.setdefault((int(match[1]), match[2]), match[3])
    elif match := TEST_LINE.match(line):
      found.setdefault((None, "Test"), match[1])
  if not found:
    sys.exit("error: %s has no perplexity lines of ptb_word_lm.py" % path)
  return found


def relative(text_a, text_b):
  """How far apart two printed perplexities are, as A / B - 1."""
  b = float(text_b)
  return "A / B - 1 = %+.1e" % (float(text_a) / b - 1) if b else "B is 0"


def describe(key):
  epoch, line = key
  if epoch is None:
    return "test"
  return "epoch %d %s" % (epoch, line if line[0].isdigit() else line.lower())


def main(path_a, path_b):
  a, b = perplexities(path_a), perplexities(path_b)
  shared = [key for key in a if key in b]
  if not shared:
    sys.exit("error: %s and %s share no perplexity line (the same epoch "
             "and line)" % (path_a, path_b))
  print("A: %s\nB: %s" % (path_a, path_b))
  epochs = sorted({epoch for epoch, line in shared
                   if line in ("Train", "Valid")})
  if epochs:
    print("%5s  %10s %10s  %10s %10s" % ("epoch", "train A", "train B",
                                          "valid A", "valid B"))
    for epoch in epochs:
      print("%5d  %10s %10s  %10s %10s" % (
          epoch, *(log.get((epoch, line), "-") for line in ("Train", "Valid")
                   for log in (a, b))))
  differ = [key for key in shared if a[key] != b[key]]
  for key in differ[:SHOWN]:
    print("differs: %s: %s in A, %s in B (%s)" % (
        describe(key), a[key], b[key], relative(a[key], b[key])))
  if len(differ) > SHOWN:
    print("differs: ... and %d lines more" % (len(differ) - SHOWN))
  print("%s: %d of the %d lines both logs printed, from %s to %s" % (
      "differ" if differ else "same", len(differ) if differ else len(shared),
      len(shared), describe(shared[0]), describe(shared[-1])))
  return 1 if differ else 0


if __name__ == "__main__":
  if len(sys.argv) != 3:
    sys.exit("usage: %s LOG_A LOG_B" % sys.argv[0])
  sys.exit(exit_status_of(main, sys.argv[1], sys.argv[2]))
