"""Compiled training/evaluation steps and the passes over an epoch."""

import math
import time

import tensorflow as tf

from checkpoints import TrainingCheckpoint
from errors import InputError
from model import PTBModel, sequence_cost
import reader

PROGRESS_LINE = "%.3f perplexity: %.3f speed: %.0f wps"


class Trainer:
  """Owns a PTBModel, its dropout randomness and its compiled steps.

  Traced work (forward, tape, clipping, the SGD update) lives in the two
  tf.function steps; the learning-rate schedule, logging and perplexity
  arithmetic stay in plain Python around them.
  """

  def __init__(self, config, seed=0, rnn_mode=None, use_fp16=False):
    self.config = config
    rnn_mode = rnn_mode or "basic"
    self.model = PTBModel(config, seed=seed, rnn_mode=rnn_mode)
    # Dropout masks come from stateless ops seeded by this generator, whose
    # state is checkpointed: a resumed run draws the masks it would have.
    self.dropout_rng = tf.random.Generator.from_seed(seed)
    # XLA fuses the basic cell's element-wise work; it cannot compile the
    # BlockLSTM op, which is its own fused kernel.
    jit_compile = rnn_mode == "basic"
    self.train_step = tf.function(self._train_step, jit_compile=jit_compile)
    self.eval_step = tf.function(self._eval_step, jit_compile=jit_compile)

  def _train_step(self, inputs, targets, state, learning_rate):
    dropout_seed = self.dropout_rng.make_seeds(1)[:, 0]
    with tf.GradientTape() as tape:
      logits, state = self.model(inputs, state, dropout_seed=dropout_seed)
      cost = sequence_cost(logits, targets)
    variables = self.model.trainable_variables
    gradients = tape.gradient(cost, variables)
    gradients, _ = tf.clip_by_global_norm(gradients, self.config.max_grad_norm)
    for variable, gradient in zip(variables, gradients):
      variable.assign_sub(learning_rate * tf.convert_to_tensor(gradient))
    return cost, state

  def _eval_step(self, inputs, targets, state):
    logits, state = self.model(inputs, state)
    return sequence_cost(logits, targets), state

  def run_epoch(self, batches, learning_rate=None, log=None):
    """One pass over `batches`; returns its perplexity.

    Trains when `learning_rate` is given, else only evaluates. With `log`,
    prints the reference's progress line about ten times in the pass.
    """
    state = self.model.zero_state(batches.batch_size)
    costs, iters = 0.0, 0
    # The reference prints when step % (epoch_size // 10) == 10, which
    # divides by zero below 10 batches; this is the same for longer epochs.
    every = max(1, len(batches) // 10)
    start_time = time.time()
    for step, (inputs, targets) in enumerate(batches):
      if learning_rate is None:
        cost, state = self.eval_step(inputs, targets, state)
      else:
        cost, state = self.train_step(
            inputs, targets, state, tf.constant(learning_rate, tf.float32))
      costs += float(cost)
      iters += inputs.shape[1]
      if log is not None and step % every == 10 % every:
        words_per_sec = iters * batches.batch_size / (time.time() - start_time)
        log(PROGRESS_LINE % (step / len(batches), math.exp(costs / iters),
                             words_per_sec))
    return math.exp(costs / iters)


# Test words predicted per evaluation step. The reference steps one word at a
# time; since the state carries over, windows give the same perplexity.
TEST_WINDOW = 500


def train_and_evaluate(config, data, save_path=None, seed=0, log=print):
  """The reference's main loop: train, validate each epoch, then test.

  `data` is a reader.PTBData. With `save_path`, resumes from the last
  finished epoch saved there, checkpoints after every epoch and writes
  TensorBoard summaries. Returns the final (train, valid, test) perplexities.
  """
  if len(data.word_to_id) > config.vocab_size:
    raise InputError("the data has %d words but vocab_size is %d; pass "
                     "--vocab_size=%d" % (len(data.word_to_id),
                                          config.vocab_size,
                                          len(data.word_to_id)))
  train_batches = reader.ptb_producer(data.train, config.batch_size,
                                      config.num_steps)
  valid_batches = reader.ptb_producer(data.valid, config.batch_size,
                                      config.num_steps)
  test_batches = reader.ContinuousBatches(data.test, TEST_WINDOW)
  trainer = Trainer(config, seed=seed)
  checkpoint = summaries = None
  epochs_done = 0
  if save_path:
    checkpoint = TrainingCheckpoint(save_path, trainer)
    epochs_done = checkpoint.restore_or_start(config, data.word_to_id)
    summaries = tf.summary.create_file_writer(save_path)

  train_perplexity = valid_perplexity = None
  for epoch in range(epochs_done + 1, config.max_max_epoch + 1):
    learning_rate = config.learning_rate_at(epoch)
    log("Epoch: %d Learning rate: %.3f" % (epoch, learning_rate))
    train_perplexity = trainer.run_epoch(train_batches, learning_rate, log=log)
    log("Epoch: %d Train Perplexity: %.3f" % (epoch, train_perplexity))
    valid_perplexity = trainer.run_epoch(valid_batches)
    log("Epoch: %d Valid Perplexity: %.3f" % (epoch, valid_perplexity))
    if checkpoint:
      checkpoint.save(epoch)
      write_summaries(summaries, epoch, learning_rate=learning_rate,
                      train_perplexity=train_perplexity,
                      valid_perplexity=valid_perplexity)

  test_perplexity = trainer.run_epoch(test_batches)
  log("Test Perplexity: %.3f" % test_perplexity)
  if summaries:
    write_summaries(summaries, config.max_max_epoch,
                    test_perplexity=test_perplexity)
  return train_perplexity, valid_perplexity, test_perplexity


def write_summaries(writer, epoch, **scalars):
  """TensorBoard scalars; each perplexity also as its per-word loss."""
  with writer.as_default(step=epoch):
    for name, value in scalars.items():
      tf.summary.scalar(name, value)
      if name.endswith("_perplexity"):
        tf.summary.scalar(name.replace("_perplexity", "_loss"), math.log(value))
  writer.flush()
