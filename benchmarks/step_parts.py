"""Where the time of a replicated training step goes, and what it sums.

    python benchmarks/step_parts.py [--shape medium] [--workers 2]

Starts --workers TF_CONFIG workers on 127.0.0.1, each pinned to its own
share of this machine's cores (as benchmark.py --workers does), and times
the replicated step three ways, in turn, median ms over repeats:

  step              Trainer.train_step, as training runs it
  without the sum   the same with the all-reduce handing back its input
                    (wrong numbers; the time of everything else)
  without update    the same without clipping and the SGD update
  softmax split by vocabulary (bound)
                    the sum of what a softmax split by vocabulary over the
                    workers would exchange instead of its weight's gradient
                    (an upper bound on that change's gain)

The differences are what the sum and the update cost. Then, pinned to one
worker's cores: the one-process step on the whole batch, and the forward
and backward pass of one replica's share of the rows. Last, the bytes a
step sums (what the all-reduce is given, per worker) and the bytes that
crossed the loopback device per step (/proc/net/dev: all workers' traffic
with its framing).
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import benchmark  # pylint: disable=g-import-not-at-top,wrong-import-position
import distribute  # pylint: disable=g-import-not-at-top,wrong-import-position
from errors import exit_status_of  # pylint: disable=g-import-not-at-top,wrong-import-position

REPEATS = 6


def loopback_bytes():
  with open("/proc/net/dev", encoding="ascii") as f:
    for line in f:
      if line.strip().startswith("lo:"):
        return int(line.split(":")[1].split()[0])
  return 0


def median_ms(function):
  function()  # the first call traces and compiles
  function()
  times = []
  for _ in range(REPEATS):
    start = time.perf_counter()
    function()
    times.append(time.perf_counter() - start)
  return 1000 * statistics.median(times)


def random_batch(config):
  import numpy as np  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  return rng.integers(0, config.vocab_size,
                      [config.batch_size, config.num_steps]).astype(np.int32)


def time_worker(shape):
  """In a worker: the step three ways, the bytes summed and sent."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import configs  # pylint: disable=g-import-not-at-top
  import trainer  # pylint: disable=g-import-not-at-top
  config = configs.get_config(shape)
  strategy = distribute.make_strategy(0, 1)
  batch = random_batch(config)
  all_reduce = tf.distribute.ReplicaContext.all_reduce
  apply = trainer.Trainer._apply
  summed = []

  def recorded_all_reduce(context, reduce_op, value, options=None):
    summed[:] = [t.shape.num_elements() * t.dtype.size
                 for t in tf.nest.flatten(value)]
    return all_reduce(context, reduce_op, value, options)

  def softmax_split_all_reduce(context, reduce_op, value, options=None):
    # The sum a softmax split by vocabulary over the workers would need:
    # not the softmax weight's gradient (each worker would update its own
    # columns), but the LSTM's outputs and their gradients for every row
    # (2 x rows x hidden). An upper bound on its gain: its three
    # exchanges are timed here as one.
    flat = tf.nest.flatten(value)
    kept = [t.shape != (config.hidden_size, config.vocab_size) for t in flat]
    outputs = tf.zeros([2, config.batch_size * config.num_steps,
                        config.hidden_size])
    summed = iter(all_reduce(context, reduce_op,
                             [t for t, k in zip(flat, kept) if k] + [outputs],
                             options))
    return tf.nest.pack_sequence_as(
        value, [next(summed) if k else t for t, k in zip(flat, kept)])

  variants = {
      "step": (recorded_all_reduce, apply),
      "without the sum": (lambda context, op, value, options=None:
                          tf.nest.map_structure(tf.identity, value), apply),
      "without update": (recorded_all_reduce, lambda *_: None),
      "softmax split by vocabulary (bound)": (softmax_split_all_reduce, apply),
  }
  times = {}
  for name, (reduce_fn, apply_fn) in variants.items():
    tf.distribute.ReplicaContext.all_reduce = reduce_fn
    trainer.Trainer._apply = apply_fn
    model = trainer.Trainer(config, strategy=strategy)
    arguments = (batch, batch, model.model.zero_state(config.batch_size),
                 tf.constant(1.0), tf.constant([0.0, 0.0]))
    times[name] = median_ms(lambda: model.train_step(*arguments)[0].numpy())
    if name == "step":
      before = loopback_bytes()
      for _ in range(REPEATS):
        model.train_step(*arguments)[0].numpy()
      sent = (loopback_bytes() - before) / REPEATS
  return {"times": times, "summed_bytes": sum(summed), "loopback_bytes": sent}


def time_alone(shape, workers):
  """One process: the whole batch's step, and one replica's share."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import configs  # pylint: disable=g-import-not-at-top
  import trainer  # pylint: disable=g-import-not-at-top
  config = configs.get_config(shape)
  model = trainer.Trainer(config)
  batch = random_batch(config)
  state = model.model.zero_state(config.batch_size)
  share = config.batch_size // workers
  gradients = tf.function(model._gradients, jit_compile=True,  # pylint: disable=protected-access
                          autograph=False)
  keys = model.dropout_keys()
  return {"times": {
      "one process, whole batch": median_ms(lambda: model.train_step(
          batch, batch, state, tf.constant(1.0))[0].numpy()),
      "one replica's forward and backward": median_ms(lambda: gradients(
          batch[:share], batch[:share], state[:, :, :share], keys,
          rows=(0, config.batch_size))[0].numpy())}}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--shape", default="medium",
                      choices=list(benchmark.SCHEDULE))
  parser.add_argument("--workers", type=int, default=2)
  parser.add_argument("--child", choices=["worker", "alone"],
                      help=argparse.SUPPRESS)
  parser.add_argument("--cores", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    benchmark.pin_threads(args.cores)
    measured = (time_worker(args.shape) if args.child == "worker"
                else time_alone(args.shape, args.workers))
    print(json.dumps(measured))
    return
  cores = len(os.sched_getaffinity(0))
  if not 2 <= args.workers <= cores:
    parser.error("--workers must be from 2 to this machine's %d cores, not %d"
                 % (cores, args.workers))
  shares = benchmark.core_shares(args.workers)
  command = [sys.executable, os.path.abspath(__file__), "--shape", args.shape,
             "--workers", str(args.workers)]
  chief = benchmark.run_workers(args.shape, command + ["--child", "worker"],
                                shares)
  alone = benchmark.run_child(args.shape, command + [
      "--child", "alone", "--cores", ",".join(map(str, shares[0]))])
  print("%s, %d workers on %d core(s) each:" % (args.shape, args.workers,
                                                 len(shares[0])))
  for name, milliseconds in list(chief["times"].items()) + list(
      alone["times"].items()):
    print("  %-36s %7.0f ms" % (name, milliseconds))
  print("  summed per step per worker           %7.1f MB" % (
      chief["summed_bytes"] / 1e6))
  print("  loopback traffic per step (all)      %7.1f MB" % (
      chief["loopback_bytes"] / 1e6))


if __name__ == "__main__":
  sys.exit(exit_status_of(main))
