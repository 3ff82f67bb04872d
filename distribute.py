"""Which devices and machines train: the tf.distribute strategy of a run.

  --num_gpus N (N > 1)   MirroredStrategy over this machine's first N GPUs.
  --num_cpu_devices N    this machine's CPU split into N logical devices,
                         mirrored over: the same program without GPUs.
  TF_CONFIG              (the standard variable describing a cluster) a
                         MultiWorkerMirroredStrategy over its workers.

Every replica computes its share of each batch's rows, and together they
compute exactly the one-device update (see trainer.Trainer). Only the chief
worker prints, saves checkpoints and writes summaries.
"""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

from errors import InputError

# A worker that cannot reach the others gives up after this long (default).
CONNECT_TIMEOUT_SECS = 120
# The workers' sums go in packs of about this many bytes. Two workers on
# one 2-core machine, a core each: 79 MB summed in 310 ms so, against 510
# ms with every tensor sent on its own (the default); medium's replicated
# step took 957 ms with 4 MB packs, 1,123 with 1 MB, 1,260 with 32 MB and
# 1,408 unpacked (one run each: the spread is partly the machine's noise).
BYTES_PER_PACK = 4 << 20


def cluster_from_environment():
  """The parsed TF_CONFIG if it describes a cluster of workers, else None."""
  text = os.environ.get("TF_CONFIG")
  if not text:
    return None
  try:
    config = json.loads(text)
    workers = config["cluster"]["worker"]
    task = config["task"]
    if task["type"] != "worker" or not 0 <= task["index"] < len(workers):
      raise ValueError("task %r is not one of the %d workers"
                       % (task, len(workers)))
  except (ValueError, KeyError, TypeError) as e:
    raise InputError("TF_CONFIG is not a cluster of workers with this "
                     "task's place in it: %s" % e) from None
  return config


def local_cluster(count):
  """TF_CONFIG values for `count` workers on this machine (127.0.0.1, on
  ports free now), one per worker in index order."""
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  workers = ["127.0.0.1:%d" % s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return [json.dumps({"cluster": {"worker": workers},
                      "task": {"type": "worker", "index": index}})
          for index in range(count)]


def check_request(num_gpus, num_cpu_devices, batch_size):
  """Checks the flags before TensorFlow starts; returns the replicas of
  this machine (1, or N for --num_gpus or --num_cpu_devices N)."""
  if num_gpus < 0:
    raise InputError("--num_gpus must be 0 or more, got %d" % num_gpus)
  if num_cpu_devices < 1:
    raise InputError("--num_cpu_devices must be 1 or more, got %d"
                     % num_cpu_devices)
  if num_gpus > 1 and num_cpu_devices > 1:
    raise InputError("--num_gpus=%d and --num_cpu_devices=%d: choose one"
                     % (num_gpus, num_cpu_devices))
  replicas = max(num_gpus, num_cpu_devices, 1)
  cluster = cluster_from_environment()
  total = replicas * (len(cluster["cluster"]["worker"]) if cluster else 1)
  if batch_size % total:
    raise InputError("batch_size=%d cannot be split evenly over %d replicas"
                     % (batch_size, total))
  return replicas


def make_strategy(num_gpus, num_cpu_devices,
                  connect_timeout_secs=CONNECT_TIMEOUT_SECS):
  """The strategy for these flags and TF_CONFIG; None for one device.

  Call before TensorFlow runs anything: splitting the CPU into logical
  devices is only possible then.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if num_cpu_devices > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * num_cpu_devices)
  devices = None
  if num_gpus > 1:
    found = len(tf.config.list_physical_devices("GPU"))
    if found < num_gpus:
      raise InputError("--num_gpus=%d but this machine has %d GPU(s)"
                       % (num_gpus, found))
    devices = ["/gpu:%d" % i for i in range(num_gpus)]
  elif num_cpu_devices > 1:
    devices = ["/cpu:%d" % i for i in range(num_cpu_devices)]
  cluster = cluster_from_environment()
  if cluster:
    with Watchdog(connect_timeout_secs, "error: worker %d of %s could not "
                  "reach the other workers within %g s" % (
                      cluster["task"]["index"],
                      ", ".join(cluster["cluster"]["worker"]),
                      connect_timeout_secs)):
      strategy = tf.distribute.MultiWorkerMirroredStrategy(
          communication_options=tf.distribute.experimental.CommunicationOptions(
              bytes_per_pack=BYTES_PER_PACK,
              timeout_seconds=connect_timeout_secs))
      # A first sum over all workers: everyone is there.
      tf.function(lambda: strategy.reduce(
          tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(1)),
          axis=None), autograph=False)()
    return strategy
  if devices is None:
    return None
  # On CPUs the sums go through one device (there is no NCCL there); on
  # GPUs MirroredStrategy's default, NCCL, is used.
  return tf.distribute.MirroredStrategy(
      devices, cross_device_ops=tf.distribute.ReductionToOneDevice()
      if num_cpu_devices > 1 else None)


def describe(strategy, batch_size):
  """The chief's note on how a batch is split: the flags and TF_CONFIG
  only ask; this says what TensorFlow made of them."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  devices = ["%s:%d" % (spec.device_type, spec.device_index) for spec in
             map(tf.DeviceSpec.from_string, strategy.extended.worker_devices)]
  replicas = strategy.num_replicas_in_sync
  workers = replicas // len(devices)  # every worker has as many devices
  return ("note: training on %d replicas (%d worker%s x %d device%s: %s), "
          "%d of each batch's %d rows on each"
          % (replicas, workers, "s" * (workers > 1), len(devices),
             "s" * (len(devices) > 1), ", ".join(devices),
             batch_size // replicas, batch_size))


# Run by Watchdog in a process of its own: arguments parent pid, seconds,
# message. It waits for its standard input to close.
WATCHDOG = """
import os, select, signal, sys
if not select.select([sys.stdin], [], [], float(sys.argv[2]))[0]:
  print(sys.argv[3], file=sys.stderr, flush=True)
  os.kill(int(sys.argv[1]), signal.SIGKILL)
"""


class Watchdog:
  """Kills this process, saying `message`, unless the block ends within
  `seconds`. Waiting for an absent worker blocks inside TensorFlow while
  holding Python's lock, where no timer thread or signal handler of this
  process can run: the watchdog is another process."""

  def __init__(self, seconds, message):
    self.seconds, self.message = seconds, message

  def __enter__(self):
    self.process = subprocess.Popen(
        [sys.executable, "-c", WATCHDOG, str(os.getpid()), str(self.seconds),
         self.message], stdin=subprocess.PIPE)
    return self

  def __exit__(self, *exc_info):
    self.process.stdin.close()  # the block ended: the watchdog exits
    self.process.wait()


@contextlib.contextmanager
def lost_workers_reported():
  """In a cluster, a worker that stops or dies in the middle of a step
  leaves the others with sums that can never complete, and TensorFlow
  raises in them (Unavailable or Aborted when the connection drops,
  DeadlineExceeded after --connect_timeout_secs). That is one error line
  here, not a traceback."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    yield
  except (tf.errors.UnavailableError, tf.errors.AbortedError,
          tf.errors.CancelledError, tf.errors.DeadlineExceededError) as e:
    cluster = cluster_from_environment()
    if not cluster:
      raise
    raise InputError(
        "worker %d of %s lost the other workers (%s): one of them stopped or "
        "failed. Start every worker again with the same command to resume "
        "from the chief's last checkpoint" % (
            cluster["task"]["index"], ", ".join(cluster["cluster"]["worker"]),
            type(e).__name__)) from None


def check_same_start(strategy, epochs_done, step):
  """In a cluster, every worker must resume where the chief does: from the
  chief's checkpoint, read from --save_path, which every worker must see
  (a shared filesystem). Otherwise their steps would not match."""
  if not cluster_from_environment():
    return
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  here = tf.constant([[epochs_done, step]], tf.int64)
  everyone = tf.function(lambda: strategy.gather(
      strategy.run(lambda: tf.identity(here)), axis=0), autograph=False)(
          ).numpy()
  if (everyone != everyone[0]).any():
    raise InputError(
        "the workers would resume at different points (epoch %d batch %d "
        "here); every worker must read the chief's checkpoint: give all "
        "the same --save_path on a filesystem they share"
        % (epochs_done + 1, step))


def is_chief():
  """Whether this process is the one that prints and saves: worker 0 of a
  cluster (TensorFlow's rule when there is no "chief" task), or a process
  alone."""
  cluster = cluster_from_environment()
  return cluster is None or cluster["task"]["index"] == 0


class WorkerSavePath:
  """The chief saves into --save_path; every other worker into a temporary
  folder of its own (as TensorFlow's multi-worker guide does: all workers
  must take part in a save), removed at the end."""

  def __init__(self, save_path, chief):
    self.save_path, self.chief = save_path, chief

  def __enter__(self):
    if self.chief or not self.save_path:
      return self.save_path
    self.folder = tempfile.mkdtemp(prefix="ptb-worker-")
    return self.folder

  def __exit__(self, *exc_info):
    if not self.chief and self.save_path:
      shutil.rmtree(self.folder, ignore_errors=True)
