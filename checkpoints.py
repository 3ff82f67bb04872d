"""Self-describing checkpoints: weights, progress, config and vocabulary.

A save folder holds TensorFlow checkpoint files (model weights, the dropout
generator, the number of finished epochs), written here, and `config.json`
and `vocab.txt` (see checkpoint_metadata), so that a checkpoint can be used
without the training data.
"""

import os
import re
import shutil

import tensorflow as tf

from checkpoint_metadata import check_compatible
from checkpoint_metadata import holds_checkpoint
from checkpoint_metadata import INDEX_FILE
from checkpoint_metadata import RESUME_ADVICE
from checkpoint_metadata import save_metadata
from errors import disk_full_said_as
from errors import InputError
from errors import size_text


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
  if not holds_checkpoint(save_path):
    return None
  latest = tf.train.latest_checkpoint(save_path)
  if latest is None:
    raise InputError("%s names no checkpoint whose files are there (it is "
                     "damaged, or they were removed); put back a good copy, "
                     "or remove the folder to start afresh"
                     % os.path.join(save_path, INDEX_FILE))
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
