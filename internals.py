"""What a trained model computes inside, shown to a person: `lm.py gates`.

For each word of a text and each recurrent layer: the gates (the share of
their units nearly shut, under 0.1, and nearly open, over 0.9, as Karpathy,
Johnson and Fei-Fei 2015 counted them in "Visualizing and Understanding
Recurrent Networks"), the candidate, the cell state and the output. As a
table, as heatmaps (matplotlib), or every value in an .npz file.
"""

import contextlib
import os
import tempfile

import numpy as np

from errors import InputError
from errors import os_errors_said_as

SHUT, OPEN = 0.1, 0.9  # a gate unit under SHUT lets ~nothing through
# Short column names: (part, heading).
HEADINGS = {"input_gate": "input", "forget_gate": "forget",
            "output_gate": "output", "reset_gate": "reset",
            "update_gate": "update", "candidate": "cand",
            "cell_state": "cell", "output": "h"}


def is_gate(part):
  return part.endswith("_gate")


def table(words, layers):
  """Lines of text: per layer, one row per word. A gate shows its mean and
  its shut and open shares; the candidate, cell state and output (which
  are signed) their mean absolute value."""
  width = max(len("word"), *(len(word) for word in words))
  lines = []
  for number, layer in enumerate(layers, 1):
    gates = [part for part in layer if is_gate(part)]
    others = [part for part in layer if not is_gate(part)]
    lines.append("layer %d" % number)
    lines.append("  ".join(["%-*s" % (width, "")]
                           + ["%-19s" % (HEADINGS[part] + " gate")
                              for part in gates]
                           + ["%6s" % HEADINGS[part] for part in others]))
    lines.append("  ".join(["%-*s" % (width, "word")]
                           + ["%5s %6s %6s" % ("mean", "<0.1", ">0.9")] * len(gates)
                           + ["%6s" % "|mean|"] * len(others)))
    for position, word in enumerate(words):
      cells = ["%-*s" % (width, word)]
      for part in gates:
        units = layer[part][position]
        cells.append("%5.2f %5.0f%% %5.0f%%" % (
            units.mean(), 100 * (units < SHUT).mean(),
            100 * (units > OPEN).mean()))
      cells += ["%6.3f" % np.abs(layer[part][position]).mean()
                for part in others]
      lines.append("  ".join(cells))
    lines.append("")
  return lines[:-1]


def array_name(number, part):
  return "layer%d/%s" % (number, part)


def save_npz(path, words, layers):
  """Every value: arrays [words, units] named "layer1/forget_gate", ...,
  and "words". Written aside and renamed: never half a file."""
  arrays = {array_name(number, part): values
            for number, layer in enumerate(layers, 1)
            for part, values in layer.items()}
  arrays["words"] = np.asarray(words)
  with written_aside(path) as f:
    np.savez(f, **arrays)


@contextlib.contextmanager
def written_aside(path):
  """A binary file to write that becomes `path` when the block ends, and
  is removed if it fails: never half a file at `path`."""
  with os_errors_said_as("cannot write %s" % path):
    f = tempfile.NamedTemporaryFile(  # pylint: disable=consider-using-with
        dir=os.path.dirname(os.path.abspath(path)), prefix=".partial-",
        delete=False)
  try:
    with f, os_errors_said_as("cannot write %s" % path):
      yield f
    # Said of `path`, not of the temporary file: `path` may be a folder.
    with os_errors_said_as("cannot write %s" % path):
      # A temporary file is private (0600); the result gets the usual mode.
      umask = os.umask(0)
      os.umask(umask)
      os.chmod(f.name, 0o666 & ~umask)
      os.replace(f.name, path)
  except BaseException:
    os.remove(f.name)
    raise


def image_format(path):
  """The format a picture named `path` is written in: that of its name, so
  that "plot" is not written to plot.png, nor a folder "runs" to runs.png;
  png when the name has none."""
  return os.path.splitext(path)[1][1:].lower() or "png"


def plotter(path):
  """pyplot and the file format for `path`, or an InputError when
  matplotlib is missing or cannot write that format: lm.py asks before the
  model loads, so that the user hears it in a second, not after ten."""
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise InputError("--plot needs matplotlib: pip install matplotlib "
                     "(the table and --save do not)") from None
  matplotlib.use("Agg")  # files only, no display needed
  from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  kind = image_format(path)
  supported = pyplot.gcf().canvas.get_supported_filetypes()
  pyplot.close()
  if kind not in supported:
    raise InputError("--plot %s: matplotlib cannot write .%s files; use "
                     ".png, .pdf or .svg" % (path, kind))
  return pyplot, kind


def plot(path, words, layers):
  """Heatmaps, units by words: a row of panels per layer, one per part."""
  pyplot, kind = plotter(path)
  parts = list(layers[0])
  figure, axes = pyplot.subplots(
      len(layers), len(parts), squeeze=False,
      figsize=(max(3, 0.28 * len(words) + 1) * len(parts), 3.2 * len(layers)))
  for number, (layer, row) in enumerate(zip(layers, axes), 1):
    for part, axis in zip(parts, row):
      values = layer[part].T  # [units, words]
      if is_gate(part):
        image = axis.imshow(values, aspect="auto", cmap="viridis",
                            vmin=0, vmax=1, interpolation="nearest")
      else:
        limit = float(np.abs(values).max()) or 1.0
        image = axis.imshow(values, aspect="auto", cmap="RdBu_r",
                            vmin=-limit, vmax=limit, interpolation="nearest")
      axis.set_title("layer %d %s" % (number, part.replace("_", " ")))
      axis.set_xticks(range(len(words)))
      axis.set_xticklabels(words, rotation=90, fontsize=8)
      axis.set_ylabel("unit")
      axis.yaxis.get_major_locator().set_params(integer=True)
      figure.colorbar(image, ax=axis)
  figure.tight_layout()
  with written_aside(path) as f:
    figure.savefig(f, format=kind, dpi=90)
