"""Does the training step gain from leaving its large products to oneDNN?

    python benchmarks/xla_scope.py [--shapes small,medium] [--rounds 3]

matmul_kernels.py finds XLA's kernels slower than uncompiled TensorFlow's
(oneDNN) for the large products of medium and large (input projections,
softmax), and the step is compiled whole by XLA. This times two training
steps of the same model in one process, in alternating rounds:

  whole step     Trainer.train_step as training runs it, all of it XLA
  loops only     the step uncompiled, with only the recurrent loops
                 (recurrent.lstm_steps and lstm_backward_steps) compiled
                 by XLA, so that every large product runs on oneDNN

and prints the median words/s of each round and their ratio. The second
would change the printed digits (other kernels round the products), so it
is measured here rather than offered.
"""

import argparse
import contextlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import benchmark  # pylint: disable=g-import-not-at-top,wrong-import-position
import configs  # pylint: disable=g-import-not-at-top,wrong-import-position
from errors import exit_status_of  # pylint: disable=g-import-not-at-top,wrong-import-position
from matmul_kernels import median_seconds  # pylint: disable=g-import-not-at-top,wrong-import-position


@contextlib.contextmanager
def loops_alone_compiled():
  """While active, a step traced uses XLA-compiled recurrent loops (the
  step must then be compiled without jit_compile to keep the rest out)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import recurrent  # pylint: disable=g-import-not-at-top
  originals = recurrent.lstm_steps, recurrent.lstm_backward_steps
  recurrent.lstm_steps, recurrent.lstm_backward_steps = (
      tf.function(loop, jit_compile=True, autograph=False)
      for loop in originals)
  try:
    yield
  finally:
    recurrent.lstm_steps, recurrent.lstm_backward_steps = originals


def loops_only_trainer(config):
  """A Trainer whose step compiles only the recurrent loops with XLA."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import trainer  # pylint: disable=g-import-not-at-top
  loops_only = trainer.Trainer(config)
  # pylint: disable=protected-access
  loops_only._compiled_train_step = tf.function(loops_only._train_step,
                                                autograph=False)
  return loops_only


def step_timer(model_trainer, config):
  """A function that runs one training step on fixed random words and
  returns its cost; the first call traces and compiles."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  words = [tf.constant(rng.integers(0, config.vocab_size, (
      config.batch_size, config.num_steps)), tf.int32) for _ in range(2)]
  state = [model_trainer.model.zero_state(config.batch_size)]

  def step():
    cost, state[0] = model_trainer.train_step(*words, state[0],
                                              tf.constant(1.0))
    return float(cost)
  return step


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--shapes", default="small,medium")
  parser.add_argument("--rounds", type=int, default=3)
  args = parser.parse_args()
  names = benchmark.shape_names(parser, args.shapes)
  if args.rounds < 1:
    parser.error("--rounds must be at least 1, not %d" % args.rounds)
  import trainer  # pylint: disable=g-import-not-at-top
  print("| shape | round | whole step words/s | loops only words/s | "
        "loops only / whole |")
  print("|---|---|---|---|---|")
  for name in names:
    config = configs.get_config(name)
    whole = step_timer(trainer.Trainer(config), config)
    with loops_alone_compiled():
      loops_only = step_timer(loops_only_trainer(config), config)
      loops_only()  # traced now, while the compiled loops are swapped in
    words = config.batch_size * config.num_steps
    for number in range(1, args.rounds + 1):
      whole_speed = words / median_seconds(whole)
      loops_speed = words / median_seconds(loops_only)
      print("| %s | %d | %.0f | %.0f | %.2f |" % (
          name, number, whole_speed, loops_speed, loops_speed / whole_speed),
            flush=True)


if __name__ == "__main__":
  sys.exit(exit_status_of(main))
