"""Self-describing checkpoints: weights, progress, config and vocabulary.

A save folder holds TensorFlow checkpoint files (model weights, the dropout
generator, the number of finished epochs), `config.json` and `vocab.txt`
(one word a line, in id order), so that a checkpoint can be used without
the training data.
"""

import contextlib
import json
import os
import re
import shutil

import tensorflow as tf

import configs
from errors import disk_full_said_as
from errors import InputError
from errors import size_text
from errors import os_errors_said_as
from errors import reason

RESUME_ADVICE = ("free some space, then run the same command to resume from "
                 "the last checkpoint")
CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.txt"
# Fields that decide which weights there are and their shapes; the others
# may change when a run is resumed (for example more epochs).
SHAPE_FIELDS = ("cell", "tie_embeddings", "num_layers", "hidden_size",
                "vocab_size")


def write_atomically(path, text):
  """Writes `text` to `path` through a temporary file, never half a file:
  a kill or a full disk mid-write leaves the previous file as it was, and
  no temporary file."""
  partial = path + ".partial"
  try:
    with open(partial, "w", encoding="utf-8") as f:
      f.write(text)
    os.replace(partial, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(partial)
    raise


def save_metadata(save_path, config, word_to_id):
  with os_errors_said_as("cannot save into %s" % save_path):
    os.makedirs(save_path, exist_ok=True)
  with disk_full_said_as(save_path, RESUME_ADVICE):
    write_atomically(os.path.join(save_path, CONFIG_FILE),
                     json.dumps(config.to_dict(), indent=2) + "\n")
    write_vocab(os.path.join(save_path, VOCAB_FILE),
                sorted(word_to_id, key=word_to_id.get))


def write_vocab(path, words):
  """Writes the vocabulary one word a line, in id order."""
  write_atomically(path, "".join(word + "\n" for word in words))


def load_config(save_path):
  """The Config a checkpoint folder was trained with."""
  path = os.path.join(save_path, CONFIG_FILE)
  try:
    with open(path, encoding="utf-8") as f:
      values = json.load(f)
    return configs.Config().override(**values)
  except FileNotFoundError:
    raise InputError("%s is not a checkpoint folder of this program: %s is "
                     "missing" % (save_path, CONFIG_FILE)) from None
  except (ValueError, TypeError) as e:
    raise InputError("%s is unreadable: %s" % (path, e)) from None


def load_vocab(save_path):
  """The word_to_id mapping saved beside a checkpoint."""
  path = os.path.join(save_path, VOCAB_FILE)
  try:
    with open(path, encoding="utf-8") as f:
      words = f.read().split("\n")[:-1]
  except (OSError, UnicodeDecodeError) as e:
    raise InputError("cannot read the vocabulary %s: %s"
                     % (path, reason(e))) from None
  word_to_id = {}
  for index, word in enumerate(words):
    if not word or word.split() != [word]:
      raise InputError("the vocabulary %s is damaged: line %d is not one "
                       "word" % (path, index + 1))
    if word in word_to_id:
      raise InputError("the vocabulary %s is damaged: %r is on lines %d and "
                       "%d" % (path, word, word_to_id[word] + 1, index + 1))
    word_to_id[word] = index
  if not word_to_id:
    raise InputError("the vocabulary %s is empty" % path)
  return word_to_id


def restore(checkpoint, path):
  """Restores `checkpoint` (a tf.train.Checkpoint) from `path`; a file that
  does not hold all of its objects, or is damaged, is an InputError. What the
  file holds beyond them (the training progress, for a reader of the model
  alone) is ignored without warnings."""
  try:
    # Every value is read once before anything is restored: a truncated or
    # corrupted file fails here, before `checkpoint` holds half its values
    # (which TensorFlow would warn about at exit, burying the error line).
    reader = tf.train.load_checkpoint(path)
    for key in reader.get_variable_to_shape_map():
      reader.get_tensor(key)
    checkpoint.restore(path).expect_partial().assert_existing_objects_matched()
  except (AssertionError, IndexError, ValueError, tf.errors.OpError) as e:
    raise InputError("cannot restore %s, the checkpoint is damaged or of "
                     "another model: %s" % (path, first_line(e))) from None


def first_line(error):
  """The gist of a TensorFlow error: its first line without the op names."""
  line = str(error).strip().splitlines()[0] if str(error).strip() else ""
  line = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", line)
  return re.sub(r"\s*\[Op:\w+\]$", "", line) or type(error).__name__


def latest_checkpoint(save_path):
  """The newest checkpoint's path prefix in `save_path`, or None when no
  checkpoint was ever written there. A damaged or dangling `checkpoint`
  index file is an InputError, never a silent fresh start."""
  state_file = os.path.join(save_path, "checkpoint")
  if not os.path.exists(state_file):
    return None
  latest = tf.train.latest_checkpoint(save_path)
  if latest is None:
    raise InputError("%s names no checkpoint whose files are there (it is "
                     "damaged, or they were removed); put back a good copy, "
                     "or remove the folder to start afresh" % state_file)
  return latest


class TrainingCheckpoint:
  """Saves and restores a Trainer and how far its training got.

  Besides the weights and the dropout generator it keeps the finished
  epochs and, for a run stopped mid-epoch, the batches done in the next one,
  their summed cost and the LSTM state, so that the resumed run computes
  exactly what the uninterrupted one would have.
  """

  def __init__(self, save_path, trainer, resume_from=None):
    self.save_path = save_path
    # Another worker than the chief resumes from the chief's folder and
    # saves into a folder of its own (see distribute.WorkerSavePath).
    self.resume_from = resume_from or save_path
    self.epochs_done = tf.Variable(0, dtype=tf.int64)
    self.step_in_epoch = tf.Variable(0, dtype=tf.int64)
    self.epoch_costs = tf.Variable(0.0, dtype=tf.float64)
    self.epoch_iters = tf.Variable(0, dtype=tf.int64)
    # Any shape: it holds [num_layers, 2, batch, hidden] of the saved run.
    self.lstm_state = tf.Variable(tf.zeros([0]), shape=tf.TensorShape(None))
    self.checkpoint = tf.train.Checkpoint(
        model=trainer.model, dropout_rng=trainer.dropout_rng,
        epochs_done=self.epochs_done, step_in_epoch=self.step_in_epoch,
        epoch_costs=self.epoch_costs, epoch_iters=self.epoch_iters,
        lstm_state=self.lstm_state)
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, save_path, max_to_keep=2)
    self.model = trainer.model

  def restore_or_start(self, config, word_to_id):
    """Restores the latest checkpoint if any.

    Returns the finished epochs and, if the run stopped mid-epoch, the
    fields of the trainer.EpochProgress to resume from (else None). A
    checkpoint of another model shape or vocabulary is an InputError.
    """
    if os.path.exists(self.save_path) and not os.path.isdir(self.save_path):
      raise InputError("save path %s is not a folder" % self.save_path)
    # Left by a run killed while saving (this run holds the folder's lock).
    remove_partial_saves(self.save_path)
    latest = latest_checkpoint(self.resume_from)
    if latest is None:
      save_metadata(self.save_path, config, word_to_id)
      return 0, None
    saved = check_compatible(self.resume_from, config, word_to_id)
    restore(self.checkpoint, latest)
    save_metadata(self.save_path, config, word_to_id)
    step = int(self.step_in_epoch.numpy())
    if step == 0:
      return int(self.epochs_done.numpy()), None
    if (saved.batch_size, saved.num_steps) != (config.batch_size,
                                               config.num_steps):
      raise InputError(
          "the run in %s stopped mid-epoch with batch_size=%d, num_steps=%d; "
          "resume it with the same values" % (self.resume_from,
                                              saved.batch_size,
                                              saved.num_steps))
    progress = (step, float(self.epoch_costs.numpy()),
                int(self.epoch_iters.numpy()),
                tf.constant(self.lstm_state.numpy()))
    return int(self.epochs_done.numpy()), progress

  def save(self, epochs_done, progress=None):
    """Saves after `epochs_done` epochs, plus `progress` into the next one."""
    self.epochs_done.assign(epochs_done)
    self.step_in_epoch.assign(progress.step if progress else 0)
    self.epoch_costs.assign(progress.costs if progress else 0.0)
    self.epoch_iters.assign(progress.iters if progress else 0)
    self.lstm_state.assign(progress.state if progress else tf.zeros([0]))
    needs = size_in_bytes([*self.model.variables, self.lstm_state])
    with disk_full_said_as(
        self.save_path, RESUME_ADVICE,
        needs="a checkpoint needs %s" % size_text(needs),
        clean_up=lambda: remove_partial_saves(self.save_path)):
      self.manager.save()


def size_in_bytes(variables):
  """What the values of `variables` take on disk, give or take an index."""
  return sum((v.shape.num_elements() if v.shape.is_fully_defined()
              else int(tf.size(v))) * v.dtype.size for v in variables)


def remove_partial_saves(save_path):
  """Removes the folders in which TensorFlow writes a checkpoint before it
  renames its files into place (ckpt-3_temp/): what a failed or killed save
  leaves, which the next save would not reuse."""
  if not os.path.isdir(save_path):
    return
  for name in os.listdir(save_path):
    path = os.path.join(save_path, name)
    if re.fullmatch(r"ckpt-\d+_temp.*", name) and os.path.isdir(path):
      shutil.rmtree(path, ignore_errors=True)


def check_compatible(save_path, config, word_to_id):
  """The saved Config, if it has `config`'s weight shapes and the vocabulary."""
  saved = load_config(save_path)
  for field in SHAPE_FIELDS:
    if getattr(saved, field) != getattr(config, field):
      raise InputError(
          "the checkpoint in %s has %s=%s but this model has %s=%s; use "
          "another --save_path or the checkpoint's settings"
          % (save_path, field, getattr(saved, field), field,
             getattr(config, field)))
  if load_vocab(save_path) != word_to_id:
    raise InputError("the checkpoint in %s was trained on another "
                     "vocabulary than this data's" % save_path)
  return saved
