"""The recurrent layers: an LSTM three ways (basic, block, cudnn) and a GRU.

Each runs one layer over all time steps of a batch, from weights that the
model (model.PTBModel) owns. The LSTM's weights use the reference's layout,
so it computes what its BasicLSTMCell/LSTMBlockCell did: one kernel over
[input, h] giving the pre-activations i, j, f, o (input gate, candidate,
forget gate, output gate) and a bias, with forget_bias 0 and no peepholes.
"""

import tensorflow as tf

# What lstm_steps and gru_steps compute at every step, in that order (see
# PTBModel.inside): the gates after their sigmoid, the candidate after its
# tanh, the cell state, the layer's output h.
LSTM_PARTS = ("input_gate", "forget_gate", "output_gate", "candidate",
              "cell_state", "output")
GRU_PARTS = ("reset_gate", "update_gate", "candidate", "output")


def lstm_steps(inputs, c0, h0, kernel, bias):
  """The LSTM's forward pass over all time steps, as training runs it.

  inputs: [batch, num_steps, input_size]; c0, h0: [batch, hidden].
  Returns, time-major: gates [num_steps, batch, 4 * hidden] (i, j, f, o
  after their sigmoid or tanh), cells and outputs [num_steps, batch,
  hidden]; and the final (c, h).
  """
  input_size = inputs.shape[-1]
  num_steps = tf.shape(inputs)[1]
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

  def per_step():
    return tf.TensorArray(inputs.dtype, size=num_steps)

  # A while loop rather than unrolled Python: the graph stays small for
  # long evaluation sequences, and under XLA it measured faster.
  _, c, h, gates, cells, outputs = tf.while_loop(
      lambda t, *_: t < num_steps, step,
      (0, c0, h0, per_step(), per_step(), per_step()),
      maximum_iterations=num_steps)
  return gates.stack(), cells.stack(), outputs.stack(), c, h


def lstm_backward_steps(gates, cells, c0, d_outputs, d_c, d_h,
                        recurrent_kernel):
  """The LSTM's backward pass through the recurrence, last step first.

  gates, cells: lstm_steps' [num_steps, batch, ...]; c0: [batch, hidden];
  d_outputs: the loss's gradient for every step's output, time-major
  [num_steps, batch, hidden]; d_c, d_h: for the final state. Returns the
  gradients of the pre-activations, [num_steps, batch, 4 * hidden], and of
  c0 and h0.
  """
  num_steps = tf.shape(gates)[0]
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
      (0, d_c, d_h, tf.TensorArray(gates.dtype, size=num_steps)),
      maximum_iterations=num_steps)
  return d_gates.stack(), d_c, d_h


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

  @tf.custom_gradient
  def layer(inputs, c0, h0, kernel, bias):
    input_kernel, recurrent_kernel = kernel[:input_size], kernel[input_size:]
    gates, cells, outputs, c, h = lstm_steps(inputs, c0, h0, kernel, bias)

    def gradient(d_outputs, d_c, d_h):
      """Gradients of the loss for inputs, c0, h0, kernel and bias."""
      # The final state feeds only the next batch, so its gradient is
      # usually absent (None).
      d_c = tf.zeros_like(c0) if d_c is None else d_c
      d_h = tf.zeros_like(h0) if d_h is None else d_h
      d_gates, d_c, d_h = lstm_backward_steps(
          gates, cells, c0, tf.transpose(d_outputs, [1, 0, 2]), d_c, d_h,
          recurrent_kernel)
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
  """lstm_layer through cuDNN (GPU only), from the same weights."""
  outputs, h, c, _ = tf.raw_ops.CudnnRNN(
      input=tf.transpose(inputs, [1, 0, 2]), input_h=h[None],
      input_c=c[None], params=cudnn_params(kernel, bias), rnn_mode="lstm",
      is_training=True)
  return tf.transpose(outputs, [1, 0, 2]), c[0], h[0]


def cudnn_params(kernel, bias):
  """The flat parameter buffer cuDNN's LSTM reads, from this model's kernel
  [input_size + hidden, 4 * hidden] and bias [4 * hidden].

  cuDNN orders the gates i, f, j, o and keeps them apart: the four input
  matrices, the four recurrent ones (each [hidden, rows], row-major: the
  transpose of this kernel's block), then four input biases and four
  recurrent ones. The input biases are zero so that the sum of the two is
  this model's bias.
  """
  input_size = kernel.shape[0] - kernel.shape[1] // 4

  def cudnn_gate_order(matrix):
    i, j, f, o = tf.split(matrix, 4, axis=-1)
    return [i, f, j, o]

  matrices = (cudnn_gate_order(kernel[:input_size])
              + cudnn_gate_order(kernel[input_size:]))
  biases = cudnn_gate_order(tf.zeros_like(bias)) + cudnn_gate_order(bias)
  return tf.concat([tf.reshape(tf.transpose(m), [-1]) for m in matrices]
                   + [tf.reshape(b, [-1]) for b in biases], axis=0)


LSTM_LAYERS = {"basic": lstm_layer, "block": block_lstm_layer,
               "cudnn": cudnn_lstm_layer}


def gru_layer(inputs, h, gate_kernel, gate_bias, candidate_kernel,
              candidate_bias, keep_gates=False):
  """Runs one GRU layer over all time steps, as TensorFlow 1's GRUCell.

  inputs: [batch, num_steps, input_size]; h: [batch, hidden].
  gate_kernel: [input_size + hidden, 2 * hidden], gate_bias [2 * hidden];
  candidate_kernel: [input_size + hidden, hidden], candidate_bias [hidden].
  With x the input at a step:
      r, u = sigmoid([x, h] @ gate_kernel + gate_bias)   (reset, update)
      c    = tanh([x, r * h] @ candidate_kernel + candidate_bias)
      h'   = u * h + (1 - u) * c
  (the reset gate applies to h before its product: Cho et al.'s original
  GRU, not Keras's reset_after variant). Returns outputs [batch, num_steps,
  hidden] and the final h. The gradient is left to autodiff. With
  `keep_gates`, also r, u and c of every step, time-major [num_steps, batch,
  3 * hidden] (training does not keep them).
  """
  input_size = inputs.shape[-1]
  num_steps = tf.shape(inputs)[1]
  # As in lstm_layer, the input halves of the kernels take all time steps in
  # one product each: [num_steps, batch, 2 * hidden] and [..., hidden].
  gate_inputs = tf.einsum("bti,ig->tbg", inputs,
                          gate_kernel[:input_size]) + gate_bias
  candidate_inputs = tf.einsum("bti,ig->tbg", inputs,
                               candidate_kernel[:input_size]) + candidate_bias

  def step(t, h, outputs, *kept):
    r, u = tf.split(tf.sigmoid(
        gate_inputs[t] + tf.matmul(h, gate_kernel[input_size:])), 2, axis=1)
    c = tf.tanh(candidate_inputs[t]
                + tf.matmul(r * h, candidate_kernel[input_size:]))
    h = u * h + (1 - u) * c
    kept = [gates.write(t, tf.concat([r, u, c], axis=1)) for gates in kept]
    return (t + 1, h, outputs.write(t, h), *kept)

  def per_step():
    return tf.TensorArray(inputs.dtype, size=num_steps)

  _, h, outputs, *kept = tf.while_loop(
      lambda t, *_: t < num_steps, step,
      (0, h, per_step(), *([per_step()] if keep_gates else [])),
      maximum_iterations=num_steps)
  outputs = tf.transpose(outputs.stack(), [1, 0, 2])
  if keep_gates:
    return outputs, h, kept[0].stack()
  return outputs, h
