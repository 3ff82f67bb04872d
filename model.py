"""The PTB language model: embedding, stacked LSTM (or GRU), dropout, softmax.

The recurrent layers themselves are in recurrent.py; this is the whole
model around them, as the reference built it.
"""

import tensorflow as tf

import configs
import recurrent


class PTBModel(tf.Module):
  """Word-level LSTM language model (Zaremba et al. 2014), or its GRU and
  tied-embedding variants (config.cell, config.tie_embeddings).

  The recurrent state is a single tensor [num_layers, parts, batch, hidden]:
  (c, h) of every LSTM layer (parts 2), or h of every GRU layer (parts 1).
  It goes in and comes out of every call so that the caller can carry it
  from one batch to the next.
  """

  def __init__(self, config, seed=0, rnn_mode="basic",
               compute_dtype=tf.float32, name="ptb_model"):
    super().__init__(name=name)
    configs.check_rnn_mode(config.cell, rnn_mode)
    self.config = config
    self.state_parts = 2 if config.cell == "lstm" else 1
    self.lstm_layer = recurrent.LSTM_LAYERS[rnn_mode]
    # Weights are always float32 (the "master" copy SGD updates); with a
    # 16-bit compute_dtype they are cast on use, and the logits cast back
    # to float32 for the softmax and the loss.
    self.compute_dtype = compute_dtype
    vocab, hidden, layers = (config.vocab_size, config.hidden_size,
                             range(config.num_layers))
    scale = config.init_scale
    seeds = iter(range(1000))

    def uniform(shape, name):
      # Stateless draws: the same seed gives the same weights, in any order.
      value = tf.random.stateless_uniform(
          shape, seed=[seed, next(seeds)], minval=-scale, maxval=scale)
      return tf.Variable(value, name=name)

    def constant(value, shape, name):
      return tf.Variable(tf.fill(shape, value), name=name)

    # The embedding is hidden_size wide, the width of the last layer's
    # output, so the softmax can always be tied to it.
    with self.name_scope:
      self.embedding = uniform([vocab, hidden], "embedding")
      if config.cell == "lstm":
        self.lstm_kernels = [uniform([2 * hidden, 4 * hidden],
                                     "lstm_kernel_%d" % layer)
                             for layer in layers]
        self.lstm_biases = [constant(0.0, [4 * hidden], "lstm_bias_%d" % layer)
                            for layer in layers]
      else:
        self.gru_gate_kernels = [uniform([2 * hidden, 2 * hidden],
                                         "gru_gate_kernel_%d" % layer)
                                 for layer in layers]
        self.gru_candidate_kernels = [uniform([2 * hidden, hidden],
                                              "gru_candidate_kernel_%d" % layer)
                                      for layer in layers]
        # TensorFlow 1's GRUCell starts its gate bias at 1: the update gate
        # leans towards keeping the state, the reset gate towards using it.
        self.gru_gate_biases = [constant(1.0, [2 * hidden],
                                         "gru_gate_bias_%d" % layer)
                                for layer in layers]
        self.gru_candidate_biases = [constant(0.0, [hidden],
                                              "gru_candidate_bias_%d" % layer)
                                     for layer in layers]
      if config.tie_embeddings:
        next(seeds)  # softmax_w's draw, so that softmax_b is the untied one's
      else:
        self.softmax_w = uniform([hidden, vocab], "softmax_w")
      self.softmax_b = uniform([vocab], "softmax_b")

  def zero_state(self, batch_size):
    return tf.zeros([self.config.num_layers, self.state_parts, batch_size,
                     self.config.hidden_size])

  def __call__(self, inputs, state, dropout_keys=None, rows=None):
    """Logits [batch, num_steps, vocab] and the new state for int `inputs`.

    With `dropout_keys` (see dropout_keys) dropout is applied as the
    reference does in training: to the embedded inputs and to every layer's
    output. `rows` = (first, batch_size) says that `inputs` are rows first,
    first + 1, ... of a batch of batch_size rows (a replica's share, see
    trainer.py): they are dropped as one device would drop those rows of
    the whole batch.
    """
    return self._forward(inputs, state, dropout_keys, rows)

  def dropout_keys(self, seed):
    """What training's dropout draws its masks from, for a [2] int64 seed:
    the Philox (keys, counters) that tf.nn.experimental.stateless_dropout
    derives from seed + [0, k] for the k-th dropout (the embedded inputs,
    then each layer's output).

    Compute them in a program of their own and pass them to __call__: in
    one XLA program with the dropout, this derivation made the drawing 30
    times slower on a CPU (a medium layer's mask took 373 ms, against 13
    ms with the keys passed in) for the same masks.
    """
    pairs = [tf.raw_ops.StatelessRandomGetKeyCounter(seed=seed + [0, index])
             for index in range(self.config.num_layers + 1)]
    return tf.stack([key for key, _ in pairs]), tf.stack(
        [counter for _, counter in pairs])

  def inside(self, inputs, state):
    """What the recurrent layers compute on `inputs` (no dropout): the
    logits, the new state, and per layer a dict of recurrent.LSTM_PARTS or
    GRU_PARTS (gates, candidate, cell state, output), each [batch,
    num_steps, hidden]. The same forward pass as training's."""
    layers = []
    logits, state = self._forward(inputs, state, keep_parts=layers)
    return logits, state, layers

  def _forward(self, inputs, state, dropout_keys=None, rows=None,
               keep_parts=None):
    """__call__; with `keep_parts` (a list), appends each layer's parts."""
    config = self.config
    training = dropout_keys is not None and config.keep_prob < 1.0

    def dropout(x, index):
      if not training:
        return x
      keys, counters = dropout_keys
      rate = 1.0 - config.keep_prob
      if rows is None:
        return keyed_dropout(x, rate, keys[index], counters[index])
      # The whole batch's mask (1/keep_prob or 0), cut to these rows; x times
      # it is bit for bit what dropout of the whole batch gives these rows.
      first, batch_size = rows
      whole = tf.ones(tf.concat([[batch_size], tf.shape(x)[1:]], 0), x.dtype)
      mask = keyed_dropout(whole, rate, keys[index], counters[index])
      return x * tf.ensure_shape(tf.slice(mask, [first, 0, 0], tf.shape(x)),
                                 x.shape)

    def compute(tensor):
      return tf.cast(tensor, self.compute_dtype)

    x = dropout(compute(tf.nn.embedding_lookup(self.embedding, inputs)), 0)
    state = compute(state)
    final_states = []
    for layer in range(config.num_layers):
      if config.cell == "lstm" and keep_parts is not None:
        gates, cells, outputs, c, h = recurrent.lstm_steps(
            x, state[layer, 0], state[layer, 1],
            compute(self.lstm_kernels[layer]),
            compute(self.lstm_biases[layer]))
        i, j, f, o = tf.split(gates, 4, axis=2)
        keep_parts.append(batch_major(recurrent.LSTM_PARTS,
                                      (i, f, o, j, cells, outputs)))
        x = tf.transpose(outputs, [1, 0, 2])
        final_states.append(tf.stack([c, h]))
      elif config.cell == "lstm":
        x, c, h = self.lstm_layer(x, state[layer, 0], state[layer, 1],
                                  compute(self.lstm_kernels[layer]),
                                  compute(self.lstm_biases[layer]))
        final_states.append(tf.stack([c, h]))
      else:
        x, h, *kept = recurrent.gru_layer(
            x, state[layer, 0], compute(self.gru_gate_kernels[layer]),
            compute(self.gru_gate_biases[layer]),
            compute(self.gru_candidate_kernels[layer]),
            compute(self.gru_candidate_biases[layer]),
            keep_gates=keep_parts is not None)
        if kept:
          parts = batch_major(recurrent.GRU_PARTS[:3],
                              tf.split(kept[0], 3, axis=2))
          keep_parts.append(dict(parts, output=x))
        final_states.append(h[None])
      x = dropout(x, layer + 1)
    # One product for all time steps: [batch, num_steps, vocab]. Tied, the
    # softmax weight is the embedding itself ([vocab, hidden]), transposed.
    if config.tie_embeddings:
      logits = tf.einsum("bth,vh->btv", x, compute(self.embedding))
    else:
      logits = tf.einsum("bth,hv->btv", x, compute(self.softmax_w))
    logits += compute(self.softmax_b)
    return (tf.cast(logits, tf.float32),
            tf.cast(tf.stack(final_states), tf.float32))


def keyed_dropout(x, rate, key, counter):
  """tf.nn.experimental.stateless_dropout(x, rate, seed), bit for bit, from
  the Philox key and counter it derives from `seed` (see dropout_keys):
  the kept values scaled by 1 / (1 - rate), the others 0."""
  uniform = tf.raw_ops.StatelessRandomUniformV2(
      shape=tf.shape(x), key=key, counter=counter, alg=AUTO_SELECT_RNG,
      dtype=x.dtype)
  return tf.where(uniform >= rate, x * tf.constant(1 / (1 - rate), x.dtype),
                  tf.zeros([], x.dtype))


# TensorFlow's tf.random.Algorithm.AUTO_SELECT: Philox, on a CPU and a GPU.
AUTO_SELECT_RNG = 3


def batch_major(names, time_major):
  """{name: [batch, num_steps, hidden]} of time-major tensors."""
  return {name: tf.transpose(tensor, [1, 0, 2])
          for name, tensor in zip(names, time_major)}


def sequence_cost(logits, targets, batch_size=None):
  """The reference's batch cost: cross-entropy summed over time, mean over
  batch. For a replica's share of the rows, `batch_size` is the whole
  batch's, so that the replicas' costs add up to the batch's."""
  losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=targets, logits=logits)
  if batch_size is None:
    batch_size = tf.shape(targets)[0]
  return tf.reduce_sum(losses) / tf.cast(batch_size, losses.dtype)
