"""What the reference's tf.train.Supervisor did around the training loop.

It saved the model every few minutes, wrote summaries every so often and
stopped cleanly when asked. Here: a SIGINT (Ctrl-C) or SIGTERM (what
schedulers, container runtimes and `kill` send) stops the run after the
batch in progress and saves it; a checkpoint is also written every
`save_every_secs` seconds of training, so that a `kill -9` or a power cut
loses at most that much; TensorBoard gets the training loss and the
learning rate every SUMMARY_EVERY_STEPS batches.

TensorFlow's PreemptionCheckpointHandler was considered: it saves a
checkpoint and a step counter when a worker is preempted, but a resumable
run here also needs the epoch's summed cost and LSTM state assigned before
the save, and on a single machine it adds nothing a signal handler does
not do.
"""

import math
import time

import tensorflow as tf

import checkpoint_metadata
import environment
from errors import disk_full_said_as
from stopping import Interrupted

SUMMARY_EVERY_STEPS = 200
DEFAULT_SAVE_EVERY_SECS = 600.0  # the reference Supervisor's save_model_secs


class Supervisor:
  """Hooks called after every batch: stop when asked, save when due, and
  write step summaries. `checkpoint` (a TrainingCheckpoint) and
  `summary_folder` (where TensorBoard's files go) may be None, for a run
  without --save_path."""

  def __init__(self, checkpoint=None, summary_folder=None, stop_requested=None,
               save_every_secs=DEFAULT_SAVE_EVERY_SECS):
    self.checkpoint = checkpoint
    self.summary_folder = summary_folder
    self.summaries = None
    if summary_folder:
      with self._writing_summaries():
        self.summaries = tf.summary.create_file_writer(summary_folder)
    self.stop_requested = stop_requested or (lambda: False)
    self.save_every_secs = save_every_secs
    self.last_save = time.monotonic()

  def wishes(self):
    """This worker's [stop, save] before a replicated step (1.0 for yes);
    the step returns what all workers wished (see trainer.Trainer)."""
    return [float(self.stop_requested()), float(self._save_due())]

  def _save_due(self):
    return time.monotonic() - self.last_save >= self.save_every_secs

  def save(self, epochs_done, progress=None):
    if self.checkpoint:
      self.checkpoint.save(epochs_done, progress)
    self.last_save = time.monotonic()

  def training_hook(self, epoch, learning_rate, epoch_size):
    """The after-step hook of training epoch `epoch` (1-based)."""
    costs_since_summary = []

    def after_step(progress, cost, agreed):
      costs_since_summary.append(cost)
      global_step = (epoch - 1) * epoch_size + progress.step
      if self.summaries and global_step % SUMMARY_EVERY_STEPS == 0:
        with self._writing_summaries(), \
            self.summaries.as_default(step=global_step):
          # The reference's "Training Loss" is the batch cost: summed over
          # time steps, averaged over rows; here averaged since the last write.
          tf.summary.scalar("Training Loss", sum(costs_since_summary)
                            / len(costs_since_summary))
          tf.summary.scalar("Learning Rate", learning_rate)
        costs_since_summary.clear()
      stop, save_due = agreed or (self.stop_requested(), self._save_due())
      if stop:
        self.save(epoch - 1, progress)
        raise Interrupted("in epoch %d at batch %d of %d"
                          % (epoch, progress.step, epoch_size), progress)
      if save_due:
        self.save(epoch - 1, progress)

    return after_step

  def validation_hook(self, epoch, trained):
    """The after-step hook of epoch `epoch`'s validation. A stop here saves
    the epoch's finished training (`trained`, its EpochProgress), so that
    the resumed run only validates it again."""

    def after_step(progress, cost, agreed):
      del progress, cost, agreed  # evaluation steps are not replicated
      if self.stop_requested():
        self.save(epoch - 1, trained)
        raise Interrupted("while validating epoch %d" % epoch, trained)

    return after_step

  def test_hook(self):
    """The after-step hook of the test pass: every epoch is saved already."""

    def after_step(progress, cost, agreed):
      del progress, cost, agreed  # evaluation steps are not replicated
      if self.stop_requested():
        raise Interrupted("in the test pass")

    return after_step

  def end_of_epoch(self, epoch, **scalars):
    self.save(epoch)
    self.write_summaries(epoch, **scalars)

  def write_summaries(self, epoch, **scalars):
    """TensorBoard scalars; each perplexity also as its per-word loss."""
    if not self.summaries:
      return
    with self._writing_summaries():
      with self.summaries.as_default(step=epoch):
        for name, value in scalars.items():
          tf.summary.scalar(name, value)
          if name.endswith("_perplexity"):
            tf.summary.scalar(name.replace("_perplexity", "_loss"),
                              math.log(value))
      self.summaries.flush()

  def describe_environment(self, global_step):
    """Says what this stretch of the run ran on (TensorBoard's Text tab)."""
    if self.summaries:
      with self._writing_summaries(), \
          self.summaries.as_default(step=global_step):
        tf.summary.text("Environment", environment.describe())

  def _writing_summaries(self):
    return disk_full_said_as(self.summary_folder,
                             checkpoint_metadata.RESUME_ADVICE)
