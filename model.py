"""The PTB language model: embedding, stacked LSTM, dropout, softmax.

Weights use the reference's layout, so the model computes what its
BasicLSTMCell/LSTMBlockCell did: each layer has one kernel over [input, h]
giving the pre-activations i, j, f, o (input gate, candidate, forget gate,
output gate) and a bias, with forget_bias 0 and no peepholes.
"""

import tensorflow as tf


def lstm_layer(inputs, c, h, kernel, bias):
  """Runs one LSTM layer over all time steps.

  inputs: [batch, num_steps, input_size]; c, h: [batch, hidden].
  kernel: [input_size + hidden, 4 * hidden]; bias: [4 * hidden].
  Returns outputs [batch, num_steps, hidden] and the final (c, h).
  """
  input_size = inputs.shape[-1]
  num_steps = tf.shape(inputs)[1]
  # The input half of the kernel does not depend on the recurrence, so all
  # time steps share one large matrix product: [num_steps, batch, 4 * hidden].
  projected = tf.einsum("bti,ig->tbg", inputs, kernel[:input_size]) + bias
  recurrent_kernel = kernel[input_size:]

  def step(t, c, h, outputs):
    gates = projected[t] + tf.matmul(h, recurrent_kernel)
    i, j, f, o = tf.split(gates, 4, axis=1)
    c = c * tf.sigmoid(f) + tf.sigmoid(i) * tf.tanh(j)
    h = tf.tanh(c) * tf.sigmoid(o)
    return t + 1, c, h, outputs.write(t, h)

  # A while loop rather than unrolled Python: the graph stays small for long
  # evaluation sequences, and under XLA it runs as fast as the unrolled one.
  outputs = tf.TensorArray(inputs.dtype, size=num_steps)
  _, c, h, outputs = tf.while_loop(
      lambda t, *_: t < num_steps, step, (0, c, h, outputs),
      maximum_iterations=num_steps)
  return tf.transpose(outputs.stack(), [1, 0, 2]), c, h


def block_lstm_layer(inputs, c, h, kernel, bias):
  """lstm_layer through TensorFlow's fused BlockLSTM op (the reference's
  LSTMBlockCell): same weights, same function, one op for all time steps."""
  hidden = h.shape[-1]
  no_peephole = tf.zeros([hidden], inputs.dtype)
  # BlockLSTM is time-major: [num_steps, batch, input_size].
  _, cs, _, _, _, _, hs = tf.raw_ops.BlockLSTM(
      seq_len_max=tf.cast(tf.shape(inputs)[1], tf.int64),
      x=tf.transpose(inputs, [1, 0, 2]), cs_prev=c, h_prev=h, w=kernel,
      wci=no_peephole, wcf=no_peephole, wco=no_peephole, b=bias,
      forget_bias=0.0, cell_clip=-1.0, use_peephole=False)
  return tf.transpose(hs, [1, 0, 2]), cs[-1], hs[-1]


def cudnn_lstm_layer(inputs, c, h, kernel, bias):
  """lstm_layer through cuDNN (GPU only), from the same weights.

  cuDNN orders the gates i, f, j, o and keeps the input and recurrent
  matrices, and two biases, apart in one flat parameter buffer; the input
  bias is zero so that the sum of the two is this model's bias.
  """
  input_size = inputs.shape[-1]

  def cudnn_gate_order(matrix):
    i, j, f, o = tf.split(matrix, 4, axis=-1)
    return [i, f, j, o]

  matrices = (cudnn_gate_order(kernel[:input_size])
              + cudnn_gate_order(kernel[input_size:]))
  biases = cudnn_gate_order(tf.zeros_like(bias)) + cudnn_gate_order(bias)
  params = tf.concat([tf.reshape(tf.transpose(m), [-1]) for m in matrices]
                     + [tf.reshape(b, [-1]) for b in biases], axis=0)
  outputs, h, c, _ = tf.raw_ops.CudnnRNN(
      input=tf.transpose(inputs, [1, 0, 2]), input_h=h[None],
      input_c=c[None], params=params, rnn_mode="lstm", is_training=True)
  return tf.transpose(outputs, [1, 0, 2]), c[0], h[0]


LSTM_LAYERS = {"basic": lstm_layer, "block": block_lstm_layer,
               "cudnn": cudnn_lstm_layer}


class PTBModel(tf.Module):
  """Word-level LSTM language model (Zaremba et al. 2014).

  The LSTM state is a single tensor [num_layers, 2, batch, hidden] holding
  (c, h) of every layer; it goes in and comes out of every call so that the
  caller can carry it from one batch to the next.
  """

  def __init__(self, config, seed=0, rnn_mode="basic",
               compute_dtype=tf.float32, name="ptb_model"):
    super().__init__(name=name)
    self.config = config
    self.lstm_layer = LSTM_LAYERS[rnn_mode]
    # Weights are always float32 (the "master" copy SGD updates); with a
    # 16-bit compute_dtype they are cast on use, and the logits cast back
    # to float32 for the softmax and the loss.
    self.compute_dtype = compute_dtype
    vocab, hidden = config.vocab_size, config.hidden_size
    scale = config.init_scale
    seeds = iter(range(1000))

    def uniform(shape, name):
      # Stateless draws: the same seed gives the same weights, in any order.
      value = tf.random.stateless_uniform(
          shape, seed=[seed, next(seeds)], minval=-scale, maxval=scale)
      return tf.Variable(value, name=name)

    with self.name_scope:
      self.embedding = uniform([vocab, hidden], "embedding")
      self.lstm_kernels = [
          uniform([2 * hidden, 4 * hidden], "lstm_kernel_%d" % layer)
          for layer in range(config.num_layers)]
      self.lstm_biases = [
          tf.Variable(tf.zeros([4 * hidden]), name="lstm_bias_%d" % layer)
          for layer in range(config.num_layers)]
      self.softmax_w = uniform([hidden, vocab], "softmax_w")
      self.softmax_b = uniform([vocab], "softmax_b")

  def zero_state(self, batch_size):
    return tf.zeros([self.config.num_layers, 2, batch_size,
                     self.config.hidden_size])

  def __call__(self, inputs, state, dropout_seed=None):
    """Logits [batch, num_steps, vocab] and the new state for int `inputs`.

    With `dropout_seed` (a [2] int tensor) dropout is applied as the reference
    does in training: to the embedded inputs and to every layer's output.
    """
    config = self.config
    training = dropout_seed is not None and config.keep_prob < 1.0

    def dropout(x, index):
      if not training:
        return x
      return tf.nn.experimental.stateless_dropout(
          x, rate=1.0 - config.keep_prob, seed=dropout_seed + [0, index])

    def compute(tensor):
      return tf.cast(tensor, self.compute_dtype)

    x = dropout(compute(tf.nn.embedding_lookup(self.embedding, inputs)), 0)
    state = compute(state)
    final_states = []
    for layer in range(config.num_layers):
      x, c, h = self.lstm_layer(x, state[layer, 0], state[layer, 1],
                                compute(self.lstm_kernels[layer]),
                                compute(self.lstm_biases[layer]))
      x = dropout(x, layer + 1)
      final_states.append(tf.stack([c, h]))
    # One product for all time steps: [batch, num_steps, vocab].
    logits = (tf.einsum("bth,hv->btv", x, compute(self.softmax_w))
              + compute(self.softmax_b))
    return (tf.cast(logits, tf.float32),
            tf.cast(tf.stack(final_states), tf.float32))


def sequence_cost(logits, targets):
  """The reference's batch cost: cross-entropy summed over time, mean over batch."""
  losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=targets, logits=logits)
  return tf.reduce_sum(losses) / tf.cast(tf.shape(targets)[0], losses.dtype)
