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

  The gradient is written out rather than left to autodiff: autodiff of
  the loop takes a small weight-gradient product at every step ([hidden,
  batch] x [batch, 4 * hidden], slow on a CPU), while here the backward loop
  only carries the recurrence and the weight gradients are single large
  products over all steps afterwards. One medium-sized layer's forward and
  backward took 15-35% less time; medium trains about 10% faster, small the
  same.
  """
  input_size = inputs.shape[-1]
  num_steps = tf.shape(inputs)[1]

  def per_step():
    return tf.TensorArray(inputs.dtype, size=num_steps)

  @tf.custom_gradient
  def layer(inputs, c0, h0, kernel, bias):
    input_kernel, recurrent_kernel = kernel[:input_size], kernel[input_size:]
    # The input half of the kernel does not depend on the recurrence, so all
    # time steps share one large product: [num_steps, batch, 4 * hidden].
    projected = tf.einsum("bti,ig->tbg", inputs, input_kernel) + bias

    def step(t, c, h, gates, cells, outputs):
      i, j, f, o = tf.split(projected[t] + tf.matmul(h, recurrent_kernel),
                            4, axis=1)
      i, j, f, o = tf.sigmoid(i), tf.tanh(j), tf.sigmoid(f), tf.sigmoid(o)
      c = c * f + i * j
      h = tf.tanh(c) * o
      return (t + 1, c, h, gates.write(t, tf.concat([i, j, f, o], axis=1)),
              cells.write(t, c), outputs.write(t, h))

    # A while loop rather than unrolled Python: the graph stays small for
    # long evaluation sequences, and under XLA it measured faster.
    _, c, h, gates, cells, outputs = tf.while_loop(
        lambda t, *_: t < num_steps, step,
        (0, c0, h0, per_step(), per_step(), per_step()),
        maximum_iterations=num_steps)
    gates, cells, outputs = gates.stack(), cells.stack(), outputs.stack()

    def gradient(d_outputs, d_c, d_h):
      """Gradients of the loss for inputs, c0, h0, kernel and bias."""
      # The final state feeds only the next batch, so its gradient is
      # usually absent (None).
      d_c = tf.zeros_like(c0) if d_c is None else d_c
      d_h = tf.zeros_like(h0) if d_h is None else d_h
      d_outputs = tf.transpose(d_outputs, [1, 0, 2])
      previous_cells = tf.concat([c0[None], cells[:-1]], axis=0)

      def step(k, d_c, d_h, d_gates):
        t = num_steps - 1 - k
        i, j, f, o = tf.split(gates[t], 4, axis=1)
        d_h += d_outputs[t]
        tanh_c = tf.tanh(cells[t])
        d_c += d_h * o * (1 - tanh_c * tanh_c)
        # Gradients of the pre-activations: through sigmoid, tanh, sigmoid,
        # sigmoid for i, j, f, o.
        d_pre = tf.concat([d_c * j * i * (1 - i), d_c * i * (1 - j * j),
                           d_c * previous_cells[t] * f * (1 - f),
                           d_h * tanh_c * o * (1 - o)], axis=1)
        return (k + 1, d_c * f,
                tf.matmul(d_pre, recurrent_kernel, transpose_b=True),
                d_gates.write(t, d_pre))

      _, d_c, d_h, d_gates = tf.while_loop(
          lambda k, *_: k < num_steps, step,
          (0, d_c, d_h, per_step()), maximum_iterations=num_steps)
      d_gates = d_gates.stack()  # [num_steps, batch, 4 * hidden]
      # The weight gradients: one product each over all time steps.
      previous_outputs = tf.concat([h0[None], outputs[:-1]], axis=0)
      d_kernel = tf.concat(
          [tf.einsum("bti,tbg->ig", inputs, d_gates),
           tf.einsum("tbh,tbg->hg", previous_outputs, d_gates)], axis=0)
      return (tf.einsum("tbg,ig->bti", d_gates, input_kernel), d_c, d_h,
              d_kernel, tf.reduce_sum(d_gates, axis=[0, 1]))

    return (tf.transpose(outputs, [1, 0, 2]), c, h), gradient

  return layer(inputs, c, h, kernel, bias)


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
