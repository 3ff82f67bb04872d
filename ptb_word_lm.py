"""Trains the PTB word-level LSTM language model of Zaremba et al. (2014).

    python ptb_word_lm.py --model small

downloads the PTB data into data/ when it is not there, trains, and prints
the reference tutorial's lines: learning rate, progress, train, valid and
test perplexity. Every config field can be overridden by a flag of its name
(--max_max_epoch=1 --hidden_size=50).
"""

import contextlib
import dataclasses
import math
import os
import re
import signal
import sys

# TensorFlow's start-up chatter would bury the reference's output lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging

import checkpoint_metadata
import configs
import distribute
import download
import folder_lock
from errors import exit_status_of
from errors import InputError
import reader
import stopping

flags.DEFINE_enum("model", "small", list(configs.PRESETS),
                  "Model preset: small, medium, large or test.")
flags.DEFINE_string("data_path", None,
                    "Folder with ptb.{train,valid,test}.txt; when missing, "
                    "taken from simple-examples.tgz in it, else downloaded "
                    "into it. Default: data/ beside this script.")
flags.DEFINE_string("data_url", None,
                    "Where to download simple-examples.tgz from (a URL, or "
                    "the path of the archive downloaded by hand). Default: "
                    "Mikolov's site, then a copy of the three files on "
                    "GitHub if that fails; an archive given here is the "
                    "only one tried.")
flags.DEFINE_string("save_path", None,
                    "Checkpoint and TensorBoard folder; a run resumes from it.")
flags.DEFINE_bool("use_fp16", False,
                  "Compute in float16 with float32 weights, on a GPU (not "
                  "verified on one by this project). On a CPU it is an "
                  "error: bfloat16 measured slower than float32 there.")
flags.DEFINE_integer("num_gpus", 1, "GPUs to train on; above 1, each "
                     "batch's rows are split over them (tf.distribute).")
flags.DEFINE_float("connect_timeout_secs", distribute.CONNECT_TIMEOUT_SECS,
                  "With TF_CONFIG: how long a worker waits for the others "
                  "before it gives up with an error.")
flags.DEFINE_integer("num_cpu_devices", 1, "Split the CPU into this many "
                     "logical devices and train on them as on GPUs: the "
                     "multi-device path on a machine without GPUs.")
flags.DEFINE_enum("rnn_mode", None, ["basic", "block", "cudnn"],
                  "LSTM implementation. Default: the fastest here.")
flags.DEFINE_float("save_every_secs", 600.0,
                  "With --save_path, also save mid-epoch progress this often "
                  "(seconds of training), as the reference's Supervisor did.")
flags.DEFINE_integer("seed", 0, "Seed of the initial weights and dropout.",
                     lower_bound=0, upper_bound=2**63 - 1)  # TF's int64 seeds


def preset_values(field_name):
  """What each preset sets a field to: "small 200, medium 650, ..."."""
  values = [(name, getattr(preset, field_name))
            for name, preset in configs.PRESETS.items()]
  return ", ".join("%s %s" % (name, "%g" % value if isinstance(value, float)
                              else value) for name, value in values)


for _field in dataclasses.fields(configs.Config):
  _help = "Override the preset's %s (%s)." % (_field.name,
                                              preset_values(_field.name))
  if _field.type is str:
    flags.DEFINE_enum(_field.name, None, configs.CELLS, _help)
  elif _field.type is bool:
    flags.DEFINE_bool(_field.name, None, _help)
  elif _field.type is int:
    flags.DEFINE_integer(_field.name, None, _help)
  else:
    flags.DEFINE_float(_field.name, None, _help)

FLAGS = flags.FLAGS


def config_from_flags():
  """The chosen preset with every config flag given on the command line."""
  overrides = {field.name: FLAGS[field.name].value
               for field in dataclasses.fields(configs.Config)
               if FLAGS[field.name].present}
  return configs.get_config(FLAGS.model).override(**overrides)


def check_flags(config):
  for name in ("save_every_secs", "connect_timeout_secs"):
    if not (math.isfinite(FLAGS[name].value) and FLAGS[name].value > 0):
      raise InputError("--%s must be a positive number of seconds, got %s"
                       % (name, FLAGS[name].value))
  if FLAGS.rnn_mode:
    configs.check_rnn_mode(config.cell, FLAGS.rnn_mode)
  distribute.check_request(FLAGS.num_gpus, FLAGS.num_cpu_devices,
                           config.batch_size)


def parse_flags(argv):
  """absl's flag parsing, with its errors as one `error:` line like every
  other error of the program (absl prints a FATAL line and a hint)."""
  try:
    arguments = FLAGS(argv)
  except flags.Error as error:
    sys.exit("error: %s (see %s --help)" % (error, os.path.basename(argv[0])))
  # The shell leaves ~ as it is after "=" (--save_path=~/runs/small), and
  # nobody means a folder named "~".
  for name in ("data_path", "save_path"):
    if FLAGS[name].value:
      FLAGS[name].value = os.path.expanduser(FLAGS[name].value)
  return arguments


def main(argv):
  # absl shows TensorFlow's INFO lines (one per checkpoint saved) unless
  # asked for with --verbosity.
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  return exit_status_of(train_from_flags, argv[1:])


def train_from_flags(arguments):
  if arguments:
    raise InputError("unexpected arguments: %s (flags look like "
                     "--name=value)" % " ".join(arguments))
  config = config_from_flags()
  check_flags(config)
  data_path = download.ensure_ptb_files(
      FLAGS.data_path or download.DEFAULT_DATA_PATH, FLAGS.data_url)
  data = reader.load_ptb(data_path)
  reader.run_batches(data, config)  # a misfit is said before TensorFlow loads
  return train(config, data)


def train(config, data):
  """Trains and tests. SIGINT (Ctrl-C) or SIGTERM stops the run after the
  batch in progress and saves it (with --save_path): exit 130 or 143."""
  chief = distribute.is_chief()
  # The signals are heard and the save folder claimed before TensorFlow
  # loads: a second run into a folder in use is told so at once.
  with out_of_memory_reported(), \
      stopping.StopOnSignal() as stop_requested, \
      (folder_lock.held(FLAGS.save_path) if chief and FLAGS.save_path
       else contextlib.nullcontext()):
    try:
      if FLAGS.save_path:  # a checkpoint of another model: said at once
        checkpoint_metadata.check_resumable(FLAGS.save_path, config,
                                            data.word_to_id)
      train_here(config, data, chief, stop_requested)
    except stopping.Interrupted as interrupted:
      # Without a signal of its own, a worker stops with the others.
      why = stop_requested.signal_name or "another worker's stop"
      if FLAGS.save_path:
        print("%s: %s; saved to %s: run the same command to resume"
              % (why, interrupted, FLAGS.save_path), file=sys.stderr)
      else:
        print("%s: %s; nothing saved (no --save_path)" % (why, interrupted),
              file=sys.stderr)
      return 128 + signal.Signals[stop_requested.signal_name or "SIGTERM"]
  return 0


def train_here(config, data, chief, stop_requested):
  """The training of this process, in the strategy of its flags."""
  # Imported here, so that bad flags, data and a folder in use are said
  # without the seconds TensorFlow takes to load.
  import trainer  # pylint: disable=g-import-not-at-top
  strategy = distribute.make_strategy(FLAGS.num_gpus, FLAGS.num_cpu_devices,
                                      FLAGS.connect_timeout_secs)
  if strategy and chief:
    download.say(distribute.describe(strategy, config.batch_size))
  stop_requested.listen()  # see StopOnSignal.listen
  with distribute.WorkerSavePath(FLAGS.save_path, chief) as save_path, \
      distribute.lost_workers_reported():
    trainer.train_and_evaluate(config, data, save_path=save_path,
                               seed=FLAGS.seed, rnn_mode=FLAGS.rnn_mode,
                               use_fp16=FLAGS.use_fp16, strategy=strategy,
                               log=print_now if chief else lambda _: None,
                               stop_requested=stop_requested,
                               save_every_secs=FLAGS.save_every_secs,
                               resume_from=FLAGS.save_path,
                               note=download.say if chief else None)


def print_now(line):
  # Written out at once, also into a file or pipe (where Python would hold
  # it back in a buffer): `tail -f` of a log shows the run as it goes, and a
  # killed run's log keeps every line it printed.
  print(line, flush=True)


@contextlib.contextmanager
def out_of_memory_reported():
  """A model or batch too large for this machine's memory (a mistyped
  --hidden_size or --vocab_size) is one error line naming what to shrink.
  Once the contexts inside this one have cleaned up, the process ends at
  once: after an out-of-memory error in a compiled step, TensorFlow 2.21
  aborts while Python cleans up (munmap_chunk(): invalid pointer). A run
  with --save_path resumes from its last save."""
  try:
    yield
  except Exception as e:  # pylint: disable=broad-except
    # Only TensorFlow raises it, and it may not have loaded yet.
    tf = sys.modules.get("tensorflow")
    if tf is None or not isinstance(e, tf.errors.ResourceExhaustedError):
      raise
    # TensorFlow's kernels and XLA word it differently.
    allocation = re.search(r"OOM when allocating tensor with shape\[[0-9,]*\]"
                           r"|trying to allocate [0-9.]+ ?[KMGT]?i?B",
                           e.message)
    print("error: out of memory (%s): make --hidden_size, --vocab_size, "
          "--batch_size or --num_steps smaller"
          % (allocation.group(0) if allocation else type(e).__name__),
          file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)  # pylint: disable=protected-access


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
