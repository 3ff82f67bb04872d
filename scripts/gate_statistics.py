"""What a trained model's gates do over a whole text, by where a word stands.

    python scripts/gate_statistics.py --checkpoint ~/small-ckpt --data_path ../shared/data/ptb

Runs the checkpoint over PTB's test set (or --file, read as the PTB files
are) and prints, per layer and gate, the mean activation and the shares of
units shut (under 0.1) and open (over 0.9) at three kinds of step: where the
input is <eos> (a sentence has just ended), where it is a sentence's first
word, and everywhere else. The README's reading of the gates comes from it.
"""

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import checkpoint_metadata  # pylint: disable=g-import-not-at-top,wrong-import-position
import download  # pylint: disable=g-import-not-at-top,wrong-import-position
from errors import exit_status_of  # pylint: disable=g-import-not-at-top,wrong-import-position
import internals  # pylint: disable=g-import-not-at-top,wrong-import-position
import reader  # pylint: disable=g-import-not-at-top,wrong-import-position


def statistics(words, layers):
  """Rows (layer, gate, where, mean, shut share, open share, steps)."""
  after_eos = np.array([False] + [w == reader.EOS for w in words[:-1]])
  at_eos = np.array([w == reader.EOS for w in words])
  places = {"<eos>": at_eos, "first word": after_eos & ~at_eos,
            "other words": ~at_eos & ~after_eos}
  rows = []
  for number, layer in enumerate(layers, 1):
    for part, values in layer.items():
      if not internals.is_gate(part):
        continue
      for where, chosen in places.items():
        units = values[chosen]
        rows.append((number, part, where, units.mean(),
                     (units < internals.SHUT).mean(),
                     (units > internals.OPEN).mean(), int(chosen.sum())))
  return rows


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--checkpoint", required=True, type=os.path.expanduser)
  parser.add_argument("--data_path", type=os.path.expanduser,
                      default=os.environ.get("PTB_DATA"),
                      help="the PTB folder (or one holding ptb/), for its test set")
  parser.add_argument("--file", type=os.path.expanduser,
                      help="another text than the test set")
  args = parser.parse_args(argv)

  def run():
    # What can be said before TensorFlow loads is: in a second, not after
    # eight.
    checkpoint_metadata.load_for_use(args.checkpoint)
    # Found, or downloaded, as training and `lm.py evaluate` find it.
    path = args.file or os.path.join(download.ensure_ptb_files(
        args.data_path or download.DEFAULT_DATA_PATH), reader.TEST_FILE)
    words = reader.read_corpus_file(path)
    import inference  # pylint: disable=g-import-not-at-top
    lm = inference.LanguageModel.load(args.checkpoint)
    words = [lm.id_to_word[i] for i in lm.ids(words)]
    print("%s on %s (%d words)" % (args.checkpoint, path, len(words)))
    print("layer  gate          at            mean  <0.1   >0.9   steps")
    for number, part, where, mean, shut, opened, steps in statistics(
        words, lm.inside(words)):
      print("%5d  %-12s  %-12s  %.3f  %4.1f%%  %4.1f%%  %6d" % (
          number, part.replace("_gate", ""), where, mean, 100 * shut,
          100 * opened, steps))
    return 0

  return exit_status_of(run)


if __name__ == "__main__":
  sys.exit(main())
