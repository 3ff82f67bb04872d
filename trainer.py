"""Compiled training/evaluation steps and the passes over an epoch."""

import collections
import contextlib
import math
import time

import tensorflow as tf

from checkpoints import TrainingCheckpoint
import distribute
from errors import InputError
from model import PTBModel, sequence_cost
import reader
import supervisor

PROGRESS_LINE = "%.3f perplexity: %.3f speed: %.0f wps"


class Trainer:
  """Owns a PTBModel, its dropout randomness and its compiled steps.

  Traced work (forward, tape, clipping, the SGD update) lives in the
  tf.function steps; the learning-rate schedule, logging and perplexity
  arithmetic stay in plain Python around them. With a tf.distribute
  `strategy` the training step is replicated: see _replicated_train_step.
  """

  def __init__(self, config, seed=0, rnn_mode=None, use_fp16=False,
               strategy=None):
    self.config = config
    # basic is the fastest here (XLA-compiled); cudnn is faster on a GPU but
    # has not been checked on one by this project yet, so it is opt-in.
    rnn_mode = rnn_mode or "basic"
    if rnn_mode == "cudnn" and not tf.config.list_physical_devices("GPU"):
      raise InputError("--rnn_mode=cudnn needs a GPU and none was found; "
                       "use basic or block")
    self.strategy = strategy
    # Under a strategy the weights are mirrored: a copy on every replica.
    with strategy.scope() if strategy else contextlib.nullcontext():
      self.model = PTBModel(config, seed=seed, rnn_mode=rnn_mode,
                            compute_dtype=reduced_precision_dtype()
                            if use_fp16 else tf.float32)
    # Dropout masks come from stateless ops seeded by this generator, whose
    # state is checkpointed: a resumed run draws the masks it would have.
    self.dropout_rng = tf.random.Generator.from_seed(seed)
    # XLA fuses the basic cell's element-wise work; it cannot compile the
    # BlockLSTM op, which is its own fused kernel.
    jit_compile = rnn_mode == "basic"
    # autograph=False on every step: their loops are tf.while_loops, and
    # autograph's rewriting of the Python code cost about 2 s of every start
    # here, more on a busy machine (the traced programs are the same; an
    # `if` on a tensor would fail).
    # A program of its own: see PTBModel.dropout_keys.
    self.dropout_keys = tf.function(
        lambda: self.model.dropout_keys(self.dropout_rng.make_seeds(1)[:, 0]),
        jit_compile=jit_compile, autograph=False)
    if strategy:
      # XLA on CPUs cannot compile the replicas' collective ops: it
      # compiles each replica's forward and backward pass instead. (The
      # update stays outside XLA: compiled, a worker's update of medium
      # took about 190 ms against 80, benchmarks/step_parts.py.)
      self._replica_gradients = tf.function(
          self._gradients, jit_compile=jit_compile, autograph=False)
      self._compiled_train_step = tf.function(self._replicated_train_step,
                                              autograph=False)
    else:
      self._compiled_train_step = tf.function(
          self._train_step, jit_compile=jit_compile, autograph=False)
    self.eval_step = tf.function(self._eval_step, jit_compile=jit_compile,
                                 autograph=False)

  def _gradients(self, inputs, targets, state, dropout_keys, rows=None):
    """Cost, gradients and new state of a batch (or of `rows`, a replica's
    share of one: see PTBModel.__call__)."""
    with tf.GradientTape() as tape:
      logits, state = self.model(inputs, state, dropout_keys=dropout_keys,
                                 rows=rows)
      cost = sequence_cost(logits, targets,
                           batch_size=rows[1] if rows else None)
    return cost, tape.gradient(cost, self.model.trainable_variables), state

  def _apply(self, gradients, learning_rate):
    """Plain SGD on gradients clipped to max_grad_norm."""
    gradients, _ = tf.clip_by_global_norm(gradients, self.config.max_grad_norm)
    for variable, gradient in zip(self.model.trainable_variables, gradients):
      variable.assign_sub(learning_rate * tf.convert_to_tensor(gradient))

  def train_step(self, inputs, targets, state, learning_rate, wishes=None):
    """One SGD step on a batch; returns its cost and the new state, and
    replicated, what the workers wished (see _replicated_train_step)."""
    arguments = [inputs, targets, state, learning_rate, self.dropout_keys()]
    if self.strategy:
      arguments.append(wishes)
    return self._compiled_train_step(*arguments)

  def _train_step(self, inputs, targets, state, learning_rate, dropout_keys):
    cost, gradients, state = self._gradients(inputs, targets, state,
                                             dropout_keys)
    self._apply(gradients, learning_rate)
    return cost, state

  def _replicated_train_step(self, inputs, targets, state, learning_rate,
                             dropout_keys, wishes):
    """The single-device step, computed by N replicas.

    Every replica gets the whole batch and state and takes its share of the
    rows: replica k rows k*B/N .. (k+1)*B/N - 1. Its cost is its rows' sum
    divided by the whole batch_size, so that the replicas' costs and
    gradients, summed, are the whole batch's. What is a replica's own rows
    (the new state, the embedding gradient's rows) it places among zeros
    where the other replicas' rows go, so that the same sum gathers them
    back in row order. So every update is the one-device update, and a step
    sums once over the replicas: one all-reduce, which the strategy packs.

    `wishes` [stop, save] (1.0 for yes) are this worker's; they are summed
    with the gradients, and the step returns whether any worker wished
    each, so that all workers stop or save after the same batch even when
    a signal reached only one of them.
    """
    batch_size, num_steps = inputs.shape
    share = batch_size // self.strategy.num_replicas_in_sync
    row_gradients = set()  # which gradients are the embedding's rows

    def replica_step():
      context = tf.distribute.get_replica_context()
      first = context.replica_id_in_sync_group * share

      def mine(tensor, axis):  # this replica's rows of `tensor`
        dims = range(len(tensor.shape))
        return tf.slice(tensor, [first if d == axis else 0 for d in dims],
                        [share if d == axis else tensor.shape[d] for d in dims])

      def placed(tensor, axis, per_row=1):  # `mine` undone, zeros elsewhere
        padding = [[0, 0]] * len(tensor.shape)
        padding[axis] = [first * per_row, (batch_size - first - share) * per_row]
        shape = tensor.shape.as_list()
        shape[axis] = batch_size * per_row
        return tf.ensure_shape(tf.pad(tensor, padding), shape)

      cost, gradients, new_state = self._replica_gradients(
          mine(inputs, 0), mine(targets, 0), mine(state, 2), dropout_keys,
          rows=(first, batch_size))
      # The embedding's gradient is the rows its lookup read: one per word
      # of the batch, in the batch's order (IndexedSlices).
      row_gradients.update(
          index for index, gradient in enumerate(gradients)
          if isinstance(gradient, tf.IndexedSlices))
      gradients = [placed(gradient.values, 0, per_row=num_steps)
                   if index in row_gradients else gradient
                   for index, gradient in enumerate(gradients)]
      # tf.identity: a value the replica made; the step's own argument has
      # no replica device to reduce from.
      return context.all_reduce(
          tf.distribute.ReduceOp.SUM, (cost, gradients, placed(new_state, 2),
                                       tf.identity(wishes)))

    cost, gradients, state, wished = self.strategy.run(replica_step)
    # All replicas hold the same sums; the update takes one copy and
    # applies it to every replica's weights.
    local = self.strategy.experimental_local_results
    gradients = [local(gradient)[0] for gradient in gradients]
    for index in row_gradients:
      gradients[index] = tf.IndexedSlices(
          gradients[index], tf.reshape(inputs, [-1]),
          tf.shape(self.model.trainable_variables[index], out_type=tf.int64))
    self._apply(gradients, learning_rate)
    return local(cost)[0], local(state)[0], local(wished)[0] > 0

  def _eval_step(self, inputs, targets, state):
    logits, state = self.model(inputs, state)
    return sequence_cost(logits, targets), state

  def run_epoch(self, batches, learning_rate=None, log=None, resume=None,
                after_step=None, wishes=None):
    """One pass over `batches`; returns its EpochProgress at the end.

    Trains when `learning_rate` is given, else only evaluates. With `log`,
    prints the reference's progress line about ten times in the pass.
    `resume` (an EpochProgress) continues a pass where it was interrupted.
    `after_step(progress, cost, agreed)` is called after every batch (see
    supervisor.Supervisor: it may save, or stop the pass by raising).
    Replicated training asks `wishes()` for this worker's [stop, save]
    before each step, and `agreed` is what all workers wished (else None).
    """
    progress = resume or EpochProgress(
        step=0, costs=0.0, iters=0,
        state=self.model.zero_state(batches.batch_size))
    # The reference prints when step % (epoch_size // 10) == 10, which
    # divides by zero below 10 batches; this is the same for longer epochs.
    every = max(1, len(batches) // 10)
    start_time, words_since_start = time.time(), 0
    for step in range(progress.step, len(batches)):
      inputs, targets = batches.batch(step)
      agreed = None
      if learning_rate is None:
        cost, state = self.eval_step(inputs, targets, progress.state)
      elif self.strategy:
        cost, state, agreed = self.train_step(
            inputs, targets, progress.state,
            tf.constant(learning_rate, tf.float32),
            tf.constant(wishes() if wishes else [0, 0], tf.float32))
        agreed = tuple(agreed.numpy())
      else:
        cost, state = self.train_step(
            inputs, targets, progress.state,
            tf.constant(learning_rate, tf.float32))
      cost = float(cost)
      progress = EpochProgress(step + 1, progress.costs + cost,
                               progress.iters + inputs.shape[1], state)
      words_since_start += inputs.size
      if log is not None and step % every == 10 % every:
        log(PROGRESS_LINE % (step / len(batches), progress.perplexity(),
                             words_since_start / (time.time() - start_time)))
      if after_step is not None:
        after_step(progress, cost, agreed)
    return progress


def reduced_precision_dtype():
  """The 16-bit type --use_fp16 computes in: float16, on a GPU only.

  On the CPUs this project has run on (AMD EPYC: AVX-512 with AVX512_BF16
  dot products and no AMX, or AVX2 alone) bfloat16 trained small at about
  2,600 words/s against 3,400 for float32 in the same benchmark run
  (benchmarks/benchmark.py --use_fp16, with and without XLA): the casts
  and 16-bit element-wise work cost more than the faster products save.
  XLA computes bfloat16 products in float32; outside XLA they saved at
  most an eighth of a medium step (issue 18's measurements).
  """
  if not tf.config.list_physical_devices("GPU"):
    raise InputError("--use_fp16 needs a GPU: on this CPU 16-bit compute "
                     "(bfloat16) measured slower than float32")
  return tf.float16


class EpochProgress(collections.namedtuple(
    "EpochProgress", ["step", "costs", "iters", "state"])):
  """Where a pass stands: batches done, their summed cost and time steps,
  and the LSTM state to carry into the next batch."""

  def perplexity(self):
    return math.exp(self.costs / self.iters)


def where_it_resumes(save_path, epochs_done, resume, epoch_size, epochs):
  """The line that tells a resumed run's user where it goes on from."""
  if resume:
    return "resuming %s in epoch %d at batch %d of %d" % (
        save_path, epochs_done + 1, resume.step, epoch_size)
  if epochs_done >= epochs:
    return ("%s has trained %d epoch%s (of --max_max_epoch=%d): only the "
            "test pass is left" % (save_path, epochs_done,
                                   "" if epochs_done == 1 else "s", epochs))
  return "resuming %s after epoch %d of %d" % (save_path, epochs_done, epochs)


def not_learning_note(valid_perplexity, counting_perplexity):
  """What a user should know of a run whose model has learned nothing."""
  # The large preset, at learning rate 1, can sit on this plateau for many
  # epochs: here with --seed 0 on an AVX-512 processor (the same seed
  # learned on an AVX2 one), and in tensorflow/models#5666 (test above 500).
  return ("note: valid perplexity %.3f is no better than counting how often "
          "each word comes in the training text (%.3f): the model has not "
          "started to learn. If an epoch more does not change that, start "
          "again with another --seed and a new --save_path"
          % (valid_perplexity, counting_perplexity))


# How far above counting the training perplexity halfway through epoch 1
# must be for a note. Training perplexity is dropout's, above the model's:
# the test preset trains at 717 there (counting: 687) and ends the epoch at
# valid 489. Large's stuck seed-0 run on the Intel processor trained at about
# 980 there; the large runs that learned, at 500 to 600.
HALFWAY_MARGIN = 1.25


def halfway_check(after_step, epoch_size, counting_perplexity, note):
  """`after_step`, which also notes, halfway through the first epoch, when
  the tenth of the epoch before it trained well above counting: the valid
  perplexity that decides comes only at the end of the epoch (33 minutes
  and more for large), and this note only warns."""
  halfway = epoch_size // 2
  window_start = halfway - max(1, epoch_size // 10)
  seen = []  # (costs, iters) at window_start, when this run passed it

  def check(progress, cost, agreed):
    if progress.step == window_start:
      seen.append((progress.costs, progress.iters))
    elif progress.step == halfway and seen:
      costs, iters = seen[0]
      recent = math.exp((progress.costs - costs) / (progress.iters - iters))
      if recent >= HALFWAY_MARGIN * counting_perplexity:
        note("note: halfway through epoch 1, its last %d batches trained at "
             "perplexity %.3f, a quarter or more above counting how often "
             "each word comes in the training text (%.3f): the model may not "
             "have started to learn. The epoch's valid perplexity will tell"
             % (halfway - window_start, recent, counting_perplexity))
    after_step(progress, cost, agreed)

  return check


def train_and_evaluate(config, data, save_path=None, seed=0, rnn_mode=None,
                       use_fp16=False, log=print, stop_requested=None,
                       save_every_secs=supervisor.DEFAULT_SAVE_EVERY_SECS,
                       strategy=None, resume_from=None, note=None):
  """The reference's main loop: train, validate each epoch, then test.

  `data` is a reader.PTBData. With `save_path`, resumes where the last run
  saved (or where the run in `resume_from` saved), checkpoints after every
  epoch and every `save_every_secs` seconds, and writes TensorBoard
  summaries. When `stop_requested()` turns true the run saves and raises
  stopping.Interrupted. With a tf.distribute `strategy` the training
  steps are replicated (see Trainer). `log` gets the reference's lines,
  `note` (if given) where a resumed run goes on, and a model that has not
  started to learn. Returns the final (train, valid, test) perplexities.
  """
  train_batches, valid_batches, test_batches = reader.run_batches(data,
                                                                  config)
  trainer = Trainer(config, seed=seed, rnn_mode=rnn_mode, use_fp16=use_fp16,
                    strategy=strategy)
  checkpoint = resume = None
  epochs_done = 0
  if save_path:
    checkpoint = TrainingCheckpoint(save_path, trainer, resume_from)
    epochs_done, saved_progress = checkpoint.restore_or_start(
        config, data.word_to_id)
    if saved_progress:
      resume = EpochProgress(*saved_progress)
    distribute.check_same_start(strategy, epochs_done,
                                resume.step if resume else 0)
    if note and (epochs_done or resume):
      note(where_it_resumes(resume_from or save_path, epochs_done, resume,
                            len(train_batches), config.max_max_epoch))
  watch = supervisor.Supervisor(checkpoint, save_path, stop_requested,
                                save_every_secs)
  watch.describe_environment(epochs_done * len(train_batches)
                             + (resume.step if resume else 0))

  counting_perplexity = reader.unigram_perplexity(data.train, data.valid)
  train_perplexity = valid_perplexity = None
  for epoch in range(epochs_done + 1, config.max_max_epoch + 1):
    learning_rate = config.learning_rate_at(epoch)
    log("Epoch: %d Learning rate: %.3f" % (epoch, learning_rate))
    after_step = watch.training_hook(epoch, learning_rate, len(train_batches))
    if note and epoch == 1:
      after_step = halfway_check(after_step, len(train_batches),
                                 counting_perplexity, note)
    trained = trainer.run_epoch(train_batches, learning_rate, log=log,
                                resume=resume, after_step=after_step,
                                wishes=watch.wishes)
    resume = None
    train_perplexity = trained.perplexity()
    log("Epoch: %d Train Perplexity: %.3f" % (epoch, train_perplexity))
    valid_perplexity = trainer.run_epoch(
        valid_batches,
        after_step=watch.validation_hook(epoch, trained)).perplexity()
    log("Epoch: %d Valid Perplexity: %.3f" % (epoch, valid_perplexity))
    if note and valid_perplexity >= counting_perplexity:
      note(not_learning_note(valid_perplexity, counting_perplexity))
    watch.end_of_epoch(epoch, learning_rate=learning_rate,
                       train_perplexity=train_perplexity,
                       valid_perplexity=valid_perplexity)

  test_perplexity = trainer.run_epoch(
      test_batches, after_step=watch.test_hook()).perplexity()
  log("Test Perplexity: %.3f" % test_perplexity)
  watch.write_summaries(config.max_max_epoch, test_perplexity=test_perplexity)
  return train_perplexity, valid_perplexity, test_perplexity
