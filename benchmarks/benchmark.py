"""Training and evaluation speed of the small, medium and large shapes.

    python benchmarks/benchmark.py [--shapes small,medium,large] [--rounds 3]
        [--rnn_mode block] [--use_fp16] [--cell gru] [--tie_embeddings]
        [--num_cpu_devices 2 | --workers 2]

Each shape runs in its own process (so that its peak memory is its own):
a few warm-up steps, then timed windows of steps on random word ids; the
table gives the median words/s over the windows. The same run measures
this machine's float32 matrix-product speed, from which follows the
arithmetic limit: words/s if every FLOP of the model ran at that speed.
When PyTorch is installed, the same model in PyTorch (pytorch_lstm.py) is
timed the same way, for a side-by-side column. With --rounds N the two
alternate N times per shape and the table gives the medians: the machine's
speed drifts, and alternating keeps the drift out of their ratio.

Replicated training is timed against one process doing the same work:
--num_cpu_devices N against one device on the same cores; --workers N
(N TF_CONFIG workers on 127.0.0.1, each pinned to its own share of the
cores, its thread pools sized to them) against one process pinned to one
worker's share. The table then gives both and the speed-up, alternated
the same way.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import distribute  # pylint: disable=g-import-not-at-top,wrong-import-position
from errors import exit_status_of  # pylint: disable=g-import-not-at-top,wrong-import-position

# (warm-up steps, timed windows, steps per window) per shape; "test" is the
# tiny config, to check in seconds that the benchmark runs.
SCHEDULE = {"small": (5, 5, 20), "medium": (3, 5, 4), "large": (2, 3, 2),
            "test": (1, 2, 2)}


def shape_names(parser, shapes):
  """The names in a --shapes value ("small,medium"); an unknown one is
  the parser's usage error."""
  names = shapes.split(",")
  unknown = [name for name in names if name not in SCHEDULE]
  if unknown:
    parser.error("--shapes: unknown %s; choose from %s"
                 % (", ".join(unknown), ",".join(SCHEDULE)))
  return names


def training_flops_per_word(config):
  """Matrix-product FLOPs per trained word: forward, and twice it backward."""
  hidden = config.hidden_size
  gates = 4 if config.cell == "lstm" else 3  # i, j, f, o or r, u, candidate
  recurrent = config.num_layers * 2 * (2 * hidden) * (gates * hidden)
  softmax = 2 * hidden * config.vocab_size
  return 3 * (recurrent + softmax)


def matmul_gflops(size=2048, repeats=10):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  a = tf.random.normal([size, size])
  b = tf.random.normal([size, size])
  product = tf.function(tf.matmul)
  product(a, b).numpy()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    product(a, b).numpy()
    times.append(time.perf_counter() - start)
  return 2 * size ** 3 / statistics.median(times) / 1e9


def torch_available():
  try:
    import torch  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return False
  return True


def core_shares(count):
  """This process's cores split into `count` equal shares, in order."""
  cores = sorted(os.sched_getaffinity(0))
  per_share = len(cores) // count
  return [cores[k * per_share:(k + 1) * per_share] for k in range(count)]


def pin_threads(cores):
  """Pins this process to `cores` ("0,1"; None leaves it as it is), with
  TensorFlow's thread pools sized to them. Call before TensorFlow starts:
  a thread keeps the cores it was started on."""
  if not cores:
    return
  cores = [int(core) for core in cores.split(",")]
  os.sched_setaffinity(0, cores)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.threading.set_intra_op_parallelism_threads(len(cores))
  tf.config.threading.set_inter_op_parallelism_threads(len(cores))


def measure_shape(name, args):
  """Runs in a child process; prints one JSON line of measurements."""
  pin_threads(args.cores)
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import configs  # pylint: disable=g-import-not-at-top

  config = configs.get_config(name).override(
      cell=args.cell, tie_embeddings=args.tie_embeddings)
  if args.framework == "pytorch":
    from pytorch_lstm import TorchTrainer  # pylint: disable=g-import-not-at-top
    model = TorchTrainer(config)
  else:
    import trainer  # pylint: disable=g-import-not-at-top
    model = trainer.Trainer(
        config, rnn_mode=args.rnn_mode, use_fp16=args.use_fp16,
        strategy=distribute.make_strategy(0, args.num_cpu_devices))
  rng = np.random.default_rng(0)
  warmup, windows, steps = SCHEDULE[name]
  shape = [config.batch_size, config.num_steps]
  batches = [(rng.integers(0, config.vocab_size, shape).astype(np.int32),
              rng.integers(0, config.vocab_size, shape).astype(np.int32))
             for _ in range(steps)]

  class Window:
    batch_size = config.batch_size

    def __len__(self):
      return steps

    def batch(self, i):
      return batches[i]

  def words_per_sec(learning_rate, count):
    rates = []
    for _ in range(count):
      start = time.perf_counter()
      model.run_epoch(Window(), learning_rate)
      rates.append(steps * config.batch_size * config.num_steps
                   / (time.perf_counter() - start))
    return statistics.median(rates)

  words_per_sec(1.0, max(1, warmup // steps))
  train = words_per_sec(1.0, windows)
  evaluate = None
  if "TF_CONFIG" not in os.environ:  # workers evaluate alone, as one process
    words_per_sec(None, 1)
    evaluate = words_per_sec(None, windows)
  peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(json.dumps({"train": train, "eval": evaluate, "peak_mib": peak_mib,
                    "cores": sorted(os.sched_getaffinity(0)),
                    "threads": tf.config.threading
                               .get_intra_op_parallelism_threads(),
                    "flops_per_word": training_flops_per_word(config)}))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--shapes", default="small,medium,large")
  parser.add_argument("--rnn_mode", default=None)
  parser.add_argument("--rounds", type=int, default=1,
                      help="processes per shape (and framework), alternated")
  parser.add_argument("--use_fp16", action="store_true",
                      help="16-bit compute, as ptb_word_lm.py --use_fp16")
  parser.add_argument("--cell", default="lstm", choices=["lstm", "gru"])
  parser.add_argument("--tie_embeddings", action="store_true",
                      help="softmax weight tied to the embedding")
  parser.add_argument("--num_cpu_devices", type=int, default=1,
                      help="replicas on logical CPU devices, as "
                           "ptb_word_lm.py --num_cpu_devices")
  parser.add_argument("--workers", type=int, default=1,
                      help="TF_CONFIG workers on 127.0.0.1, each pinned to "
                           "its own share of this machine's cores")
  parser.add_argument("--child", help=argparse.SUPPRESS)
  parser.add_argument("--cores", help=argparse.SUPPRESS)
  parser.add_argument("--framework", default="tensorflow",
                      help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    measure_shape(args.child, args)
    return
  args.shapes = shape_names(parser, args.shapes)
  if args.rounds < 1:
    parser.error("--rounds must be at least 1, not %d" % args.rounds)
  if args.num_cpu_devices < 1:
    parser.error("--num_cpu_devices must be at least 1, not %d"
                 % args.num_cpu_devices)
  if args.workers < 1:
    parser.error("--workers must be at least 1, not %d" % args.workers)
  cores = len(os.sched_getaffinity(0))
  if args.workers > cores:
    parser.error("--workers %d needs a core for each worker; this machine "
                 "lets it use %d" % (args.workers, cores))
  if args.workers > 1 and args.num_cpu_devices > 1:
    parser.error("--workers and --num_cpu_devices: choose one")
  gflops = matmul_gflops()
  print("float32 matmul 2048x2048: %.0f GFLOP/s" % gflops)
  if args.workers > 1 or args.num_cpu_devices > 1:
    time_replicated(args)
    return
  # The PyTorch side is the reference's model only: LSTM, untied.
  with_torch = (torch_available() and args.cell == "lstm"
                and not args.tie_embeddings)
  print("| shape | train words/s | arithmetic limit | fraction | "
        "eval words/s | peak memory | PyTorch nn.LSTM train words/s |")
  print("|---|---|---|---|---|---|---|")
  for name in args.shapes:
    command = child_command(name, args)
    results, torch_results = [], []
    for _ in range(args.rounds):
      results.append(run_child(name, command))
      if with_torch:
        torch_results.append(
            run_child(name, command + ["--framework", "pytorch"]))
    train = statistics.median(r["train"] for r in results)
    limit = gflops * 1e9 / results[0]["flops_per_word"]
    torch_speed = ("%.0f" % statistics.median(r["train"] for r in torch_results)
                   if with_torch else "(not measured)")
    print("| %s | %.0f | %.0f | %.0f%% | %.0f | %.0f MiB | %s |" % (
        name, train, limit, 100 * train / limit,
        statistics.median(r["eval"] for r in results),
        max(r["peak_mib"] for r in results), torch_speed))


def time_replicated(args):
  """The table of --workers or --num_cpu_devices: training words/s of the
  replicas and of one process on the cores of one of them."""
  if args.workers > 1:
    shares = core_shares(args.workers)
    alone_flags = ["--cores", ",".join(map(str, shares[0]))]
    print("| shape | one process on %d core(s) words/s | %d workers on %d "
          "core(s) each words/s | speed-up | peak memory of one |"
          % (len(shares[0]), args.workers, len(shares[0])))
  else:
    alone_flags = []
    print("| shape | one device words/s | %d logical devices words/s | "
          "speed-up | peak memory |" % args.num_cpu_devices)
  print("|---|---|---|---|---|")
  for name in args.shapes:
    command = child_command(name, args)
    alone, together = [], []
    for _ in range(args.rounds):
      alone.append(run_child(name, command + alone_flags))
      together.append(
          run_workers(name, command, shares) if args.workers > 1 else
          run_child(name, command + ["--num_cpu_devices",
                                     str(args.num_cpu_devices)]))
    alone_speed = statistics.median(r["train"] for r in alone)
    together_speed = statistics.median(r["train"] for r in together)
    print("| %s | %.0f | %.0f | %.2fx | %.0f MiB |" % (
        name, alone_speed, together_speed, together_speed / alone_speed,
        max(r["peak_mib"] for r in together)))


def child_command(name, args):
  """The command that measures shape `name` on one device."""
  command = [sys.executable, os.path.abspath(__file__), "--child", name,
             "--cell", args.cell]
  if args.rnn_mode:
    command += ["--rnn_mode", args.rnn_mode]
  if args.use_fp16:
    command.append("--use_fp16")
  if args.tie_embeddings:
    command.append("--tie_embeddings")
  return command


def run_workers(name, command, shares):
  """Runs `command` as TF_CONFIG workers on 127.0.0.1, one per share of the
  cores; returns the chief's measurements."""
  workers = [subprocess.Popen(
      command + ["--cores", ",".join(map(str, cores))],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      env=dict(os.environ, TF_CONFIG=tf_config))
             for cores, tf_config in zip(
                 shares, distribute.local_cluster(len(shares)))]
  try:
    outputs = [worker.communicate() for worker in workers]
  finally:
    for worker in workers:
      worker.kill()
  for worker, (_, stderr) in zip(workers, outputs):
    if worker.returncode != 0:
      sys.exit("%s failed: %s" % (name, stderr.strip().splitlines()[-1]))
  return json.loads(outputs[0][0].strip().splitlines()[-1])


def run_child(name, command):
  child = subprocess.run(command, capture_output=True, text=True)
  if child.returncode != 0:
    sys.exit("%s failed: %s" % (name, child.stderr.strip().splitlines()[-1]))
  return json.loads(child.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
  sys.exit(exit_status_of(main))
