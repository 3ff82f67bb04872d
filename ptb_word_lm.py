"""Trains the PTB word-level LSTM language model of Zaremba et al. (2014).

    python ptb_word_lm.py --model small

downloads the PTB data into data/ when it is not there, trains, and prints
the reference tutorial's lines: learning rate, progress, train, valid and
test perplexity. Every config field can be overridden by a flag of its name
(--max_max_epoch=1 --hidden_size=50).
"""

import dataclasses
import math
import os
import signal
import sys

# TensorFlow's start-up chatter would bury the reference's output lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

import configs
import download
from errors import exit_status_of
from errors import InputError
import reader

flags.DEFINE_enum("model", "small", list(configs.PRESETS),
                  "Model preset: small, medium, large or test.")
flags.DEFINE_string("data_path", None,
                    "Folder with ptb.{train,valid,test}.txt; downloaded into "
                    "it when missing. Default: data/ beside this script.")
flags.DEFINE_string("data_url", None,
                    "Where to download simple-examples.tgz from. Default: "
                    "Mikolov's site, then a copy of the three files on "
                    "GitHub if that fails; a URL given here is the only one "
                    "tried.")
flags.DEFINE_string("save_path", None,
                    "Checkpoint and TensorBoard folder; a run resumes from it.")
flags.DEFINE_bool("use_fp16", False,
                  "Compute in 16 bits (bfloat16 on a CPU, float16 on a GPU) "
                  "with float32 weights.")
flags.DEFINE_integer("num_gpus", 1, "Number of GPUs (at most 1 here).")
flags.DEFINE_enum("rnn_mode", None, ["basic", "block", "cudnn"],
                  "LSTM implementation. Default: the fastest here.")
flags.DEFINE_float("save_every_secs", 600.0,
                  "With --save_path, also save mid-epoch progress this often "
                  "(seconds of training), as the reference's Supervisor did.")
flags.DEFINE_integer("seed", 0, "Seed of the initial weights and dropout.")
for _field in dataclasses.fields(configs.Config):
  _help = "Override the preset's %s." % _field.name
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


def check_unsupported_flags():
  if not (math.isfinite(FLAGS.save_every_secs) and FLAGS.save_every_secs > 0):
    raise InputError("--save_every_secs must be a positive number of "
                     "seconds, got %s" % FLAGS.save_every_secs)
  if FLAGS.num_gpus < 0:
    raise InputError("--num_gpus must be 0 or more, got %d" % FLAGS.num_gpus)
  if FLAGS.num_gpus > 1:
    raise InputError("--num_gpus=%d is not supported: this program trains on "
                     "one device" % FLAGS.num_gpus)


def main(argv):
  return exit_status_of(train_from_flags, argv[1:])


def train_from_flags(arguments):
  if arguments:
    raise InputError("unexpected arguments: %s (flags look like "
                     "--name=value)" % " ".join(arguments))
  check_unsupported_flags()
  config = config_from_flags()
  data_path = FLAGS.data_path or download.DEFAULT_DATA_PATH
  download.ensure_ptb_files(data_path, FLAGS.data_url)
  return train(config, reader.load_ptb(data_path))


def train(config, data):
  """Trains and tests. SIGINT (Ctrl-C) or SIGTERM stops the run after the
  batch in progress and saves it (with --save_path): exit 130 or 143."""
  # Imported late so that bad flags and data are reported without the
  # seconds TensorFlow takes to load.
  import supervisor  # pylint: disable=g-import-not-at-top
  import trainer  # pylint: disable=g-import-not-at-top
  with supervisor.StopOnSignal() as stop_requested:
    try:
      trainer.train_and_evaluate(config, data, save_path=FLAGS.save_path,
                                 seed=FLAGS.seed, rnn_mode=FLAGS.rnn_mode,
                                 use_fp16=FLAGS.use_fp16,
                                 stop_requested=stop_requested,
                                 save_every_secs=FLAGS.save_every_secs)
    except supervisor.Interrupted as interrupted:
      if FLAGS.save_path:
        print("%s: %s; saved to %s: run the same command to resume"
              % (stop_requested.signal_name, interrupted, FLAGS.save_path),
              file=sys.stderr)
      else:
        print("%s: %s; nothing saved (no --save_path)"
              % (stop_requested.signal_name, interrupted), file=sys.stderr)
      return 128 + signal.Signals[stop_requested.signal_name]
  return 0


if __name__ == "__main__":
  app.run(main)
