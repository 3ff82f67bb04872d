"""The speed of the model's matrix products, kernel by kernel.

    python benchmarks/matmul_kernels.py [--shapes small,medium,large]

A training step's time is mostly its matrix products (benchmark.py's
"fraction" column), and which kernel runs them is not ours to pick once
XLA compiles the step. This times each product shape of the model three
ways: compiled by XLA (as training runs it), uncompiled TensorFlow
(oneDNN on x86), and PyTorch when torch is installed. Median GFLOP/s of
repeated products in one process; try XLA's own options with XLA_FLAGS.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import benchmark  # pylint: disable=g-import-not-at-top,wrong-import-position
import configs  # pylint: disable=g-import-not-at-top,wrong-import-position
from errors import exit_status_of  # pylint: disable=g-import-not-at-top,wrong-import-position

REPEATS = 30


def product_shapes(config):
  """(what, m, k, n, chain) of the [m, k] x [k, n] products of a training
  step; `chain` products run one after the other in one call, each on the
  last one's output, as the recurrent loop runs them (timed alone, a
  product that small would time the call, not the kernel)."""
  words = config.batch_size * config.num_steps
  hidden = config.hidden_size
  return [
      ("recurrent step", config.batch_size, hidden, 4 * hidden,
       config.num_steps),
      ("input projection", words, hidden, 4 * hidden, 1),
      ("softmax", words, hidden, config.vocab_size, 1),
  ]


def chained_tf_products(chain, k):
  """x, w -> the chain of products x @ w, each fed its first k columns."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def products(x, w):
    return tf.while_loop(lambda t, _: t < chain,
                         lambda t, x: (t + 1, tf.matmul(x, w)[:, :k]),
                         (0, x), maximum_iterations=chain)[1]
  return products


def median_seconds(run):
  run()  # warm-up (and, for XLA, compilation)
  times = []
  for _ in range(REPEATS):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--shapes", default="small,medium,large")
  args = parser.parse_args()
  names = benchmark.shape_names(parser, args.shapes)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  with_torch = benchmark.torch_available()
  if with_torch:
    import torch  # pylint: disable=g-import-not-at-top
  columns = ["XLA", "TensorFlow"] + (["PyTorch"] if with_torch else [])
  print("| shape | product | m x k x n | %s |" % " | ".join(
      "%s GFLOP/s" % column for column in columns))
  print("|---|---|---|%s" % ("---|" * len(columns)))
  for name in names:
    for what, m, k, n, chain in product_shapes(configs.get_config(name)):
      # Scaled so that a chain's values neither vanish nor overflow.
      a = tf.random.normal([m, k])
      b = tf.random.normal([k, n], stddev=k ** -0.5)
      products = chained_tf_products(chain, k)
      seconds = [median_seconds(lambda f=f: f(a, b).numpy()) for f in (
          tf.function(products, jit_compile=True, autograph=False),
          tf.function(products, autograph=False))]
      if with_torch:
        ta, tb = torch.from_numpy(a.numpy()), torch.from_numpy(b.numpy())

        def torch_products():
          x = ta
          for _ in range(chain):
            x = (x @ tb)[:, :k]
          return x
        seconds.append(median_seconds(torch_products))
      print("| %s | %s | %d x %d x %d%s | %s |" % (
          name, what, m, k, n, " (%d in a row)" % chain if chain > 1 else "",
          " | ".join("%.0f" % (chain * 2 * m * k * n / s / 1e9)
                     for s in seconds)))


if __name__ == "__main__":
  sys.exit(exit_status_of(main))
