"""Plots train and valid perplexity per epoch from training logs.

    pip install matplotlib  # only this script needs it
    python scripts/plot_runs.py results/small.log results/medium.log \
        --output results/perplexity.png

One panel per log (named by the log's file name), with the points that
published re-runs of the reference printed, where there are some.
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from errors import InputError, exit_status_of  # pylint: disable=g-import-not-at-top,wrong-import-position
import internals  # pylint: disable=g-import-not-at-top,wrong-import-position

EPOCH_LINE = re.compile(r"^Epoch: (\d+) (Train|Valid) Perplexity: ([\d.]+)$")
TEST_LINE = re.compile(r"^Test Perplexity: ([\d.]+)$")

# (epoch, train, valid) that published re-runs of the reference printed,
# ranges as (low, high); from shared/docs/reference.md.
PUBLISHED = {
    "small": [(1, (266, 271), (178, 182)), (2, (133, 134), (142, 143)),
              (13, (36.6, 36.8), (121.5, 122.9))],
    "medium": [(1, (360.8, 360.8), (208.9, 208.9)),
               (39, (44.0, 44.0), (87.5, 87.5))],
}


def read_log(path):
  """{"Train": {epoch: perplexity}, "Valid": {...}} and the test perplexity
  (None if the run has not ended). An epoch printed twice (a run resumed
  mid-epoch) keeps its last value."""
  curves, test = {"Train": {}, "Valid": {}}, None
  with open(path, encoding="utf-8") as f:
    for line in f:
      line = line.strip()
      if match := EPOCH_LINE.match(line):
        curves[match[2]][int(match[1])] = float(match[3])
      elif match := TEST_LINE.match(line):
        test = float(match[1])
  return curves, test


def panel_title(name, curves, test):
  """The log's name and its test perplexity, or, for a run without one (still
  going, or ended early), how many epochs it has."""
  if test is not None:
    return "%s (test %.3f)" % (name, test)
  epochs = max(curves["Train"])
  return "%s (%d epoch%s, not finished)" % (name, epochs,
                                            "" if epochs == 1 else "s")


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("logs", nargs="+")
  parser.add_argument("--output", default="results/perplexity.png")
  args = parser.parse_args(argv)
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top
  except ImportError:
    sys.exit("error: this script needs matplotlib: pip install matplotlib")
  matplotlib.use("Agg")  # files only, no display needed
  from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  from matplotlib import ticker  # pylint: disable=g-import-not-at-top

  figure, axes = pyplot.subplots(1, len(args.logs), squeeze=False,
                                 figsize=(6 * len(args.logs), 4.5))
  for axis, path in zip(axes[0], args.logs):
    name = os.path.splitext(os.path.basename(path))[0]
    try:
      curves, test = read_log(path)
    except (OSError, UnicodeDecodeError) as e:
      sys.exit("error: cannot read %s: %s"
               % (path, getattr(e, "strerror", None) or e))
    if not curves["Train"]:
      sys.exit("error: %s has no 'Epoch: N Train Perplexity' line" % path)
    for split, color in (("Train", "tab:blue"), ("Valid", "tab:orange")):
      epochs = sorted(curves[split])
      axis.plot(epochs, [curves[split][e] for e in epochs], "o-",
                markersize=3, color=color, label=split.lower())
    for index, (epoch, *ranges) in enumerate(PUBLISHED.get(name, [])):
      for (low, high), color in zip(ranges, ("tab:blue", "tab:orange")):
        axis.errorbar(epoch, (low + high) / 2, yerr=(high - low) / 2,
                      fmt="x", color="black", capsize=3, markersize=8,
                      label="published re-runs" if index == 0 and
                      color == "tab:blue" else None)
    axis.set(title=panel_title(name, curves, test), xlabel="epoch",
             ylabel="perplexity", yscale="log")
    # Whole epochs, from 0 on, also for a run that has finished one.
    axis.set_xlim(0, max(curves["Train"]) + 1)
    axis.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    axis.yaxis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))
    axis.yaxis.set_major_formatter(ticker.ScalarFormatter())
    axis.yaxis.set_minor_formatter(ticker.NullFormatter())
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
  figure.tight_layout()
  # Written aside: an interrupted run leaves the last plot, not half a new one.
  try:
    with internals.written_aside(args.output) as f:
      figure.savefig(f, dpi=100, format=internals.image_format(args.output))
  except InputError as e:  # no such folder; the name of a folder
    sys.exit("error: %s" % e)
  except ValueError as e:  # a kind matplotlib cannot write
    sys.exit("error: cannot write %s: %s" % (args.output, e))
  print("wrote %s" % args.output)
  return 0


if __name__ == "__main__":
  sys.exit(exit_status_of(main))
