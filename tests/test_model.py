import math

import numpy as np
import pytest
import tensorflow as tf

import configs
import recurrent
from recurrent import lstm_layer
from model import keyed_dropout, PTBModel, sequence_cost
import reader
from trainer import Trainer

CONFIG = configs.TEST.override(num_layers=2, hidden_size=3, vocab_size=7,
                               num_steps=4, batch_size=2, init_scale=0.5)


def sigmoid(x):
  return 1 / (1 + np.exp(-x))


def numpy_lstm_cell(model, layer, x, state):
  """The reference's BasicLSTMCell: state [2, batch, hidden] is (c, h)."""
  hidden = model.config.hidden_size
  c, h = state
  gates = (np.concatenate([x, h], axis=1) @ model.lstm_kernels[layer].numpy()
           + model.lstm_biases[layer].numpy())
  i, j, f, o = (gates[:, k * hidden:(k + 1) * hidden] for k in range(4))
  c = c * sigmoid(f) + sigmoid(i) * np.tanh(j)
  h = np.tanh(c) * sigmoid(o)
  return np.stack([c, h])


def numpy_forward(model, inputs, state, cell=numpy_lstm_cell):
  """The model's stack of `cell`s, one word at a time, in NumPy; a layer's
  output is the last part of its state (h)."""
  state = state.copy()
  logits = []
  for t in range(inputs.shape[1]):
    x = model.embedding.numpy()[inputs[:, t]]
    for layer in range(model.config.num_layers):
      state[layer] = cell(model, layer, x, state[layer])
      x = state[layer, -1]
    logits.append(x @ model.softmax_w.numpy() + model.softmax_b.numpy())
  return np.stack(logits, axis=1), state


def random_state(config, rng):
  return rng.uniform(-1, 1, [config.num_layers, 2, config.batch_size,
                             config.hidden_size]).astype(np.float32)


def test_forward_matches_numpy_lstm():
  model = PTBModel(CONFIG, seed=3)
  # Nonzero biases, so that their place in the gates is checked too.
  for bias in model.lstm_biases:
    bias.assign(tf.random.uniform(bias.shape, -1, 1, seed=1))
  rng = np.random.default_rng(0)
  inputs = rng.integers(0, CONFIG.vocab_size, [2, 4]).astype(np.int32)
  state = random_state(CONFIG, rng)
  logits, new_state = model(inputs, tf.constant(state))
  expected_logits, expected_state = numpy_forward(model, inputs, state)
  np.testing.assert_allclose(logits.numpy(), expected_logits, atol=1e-5)
  np.testing.assert_allclose(new_state.numpy(), expected_state, atol=1e-5)


def test_initialisation_is_uniform_in_scale_and_biases_zero():
  model = PTBModel(configs.SMALL.override(vocab_size=500), seed=0)
  # Every weight but the LSTM biases, the softmax bias too (the reference's
  # variable scope gave it the uniform initializer).
  for weights in (model.embedding, model.softmax_w, model.softmax_b,
                  *model.lstm_kernels):
    weights = weights.numpy()
    assert weights.min() >= -0.1 and weights.max() <= 0.1
    assert weights.std() == pytest.approx(0.2 / math.sqrt(12), rel=0.1)
  assert all(not b.numpy().any() for b in model.lstm_biases)
  same = PTBModel(configs.SMALL.override(vocab_size=500), seed=0)
  np.testing.assert_array_equal(same.embedding.numpy(),
                                model.embedding.numpy())


def test_cost_is_summed_over_time_and_averaged_over_batch():
  logits = tf.math.log(tf.constant(
      [[[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]],
       [[0.2, 0.2, 0.6], [0.5, 0.5, 0.0 + 1e-30]]], tf.float32))
  targets = tf.constant([[0, 1], [2, 0]])
  expected = -(math.log(0.5) + math.log(0.8) + math.log(0.6)
               + math.log(0.5)) / 2
  assert float(sequence_cost(logits, targets)) == pytest.approx(expected,
                                                                rel=1e-5)


def test_state_carries_across_calls():
  model = PTBModel(CONFIG, seed=1)
  rng = np.random.default_rng(1)
  inputs = rng.integers(0, CONFIG.vocab_size, [2, 6]).astype(np.int32)
  state = model.zero_state(2)
  whole, whole_state = model(inputs, state)
  first, mid_state = model(inputs[:, :4], state)
  second, end_state = model(inputs[:, 4:], mid_state)
  np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole,
                             atol=1e-6)
  np.testing.assert_allclose(end_state, whole_state, atol=1e-6)
  # And the carried state matters: starting the second half from zero differs.
  restarted, _ = model(inputs[:, 4:], state)
  assert np.abs(restarted.numpy() - second.numpy()).max() > 1e-4


def test_dropout_only_in_training_and_repeatable():
  model = PTBModel(CONFIG.override(keep_prob=0.5), seed=1)
  inputs = np.arange(8, dtype=np.int32).reshape(2, 4) % CONFIG.vocab_size
  state = model.zero_state(2)
  plain, _ = model(inputs, state)
  plain_again, _ = model(inputs, state)
  keys = model.dropout_keys(tf.constant([7, 9], tf.int64))
  dropped, _ = model(inputs, state, dropout_keys=keys)
  dropped_again, _ = model(inputs, state, dropout_keys=keys)
  np.testing.assert_array_equal(plain, plain_again)
  np.testing.assert_array_equal(dropped, dropped_again)
  assert np.abs(dropped.numpy() - plain.numpy()).max() > 1e-3


def test_dropout_on_the_embedded_inputs_and_between_layers():
  """What each LSTM layer receives in training: the embedding (or the layer
  below's output) with a mask applied, the kept values scaled by 1/keep_prob."""
  keep_prob = 0.5
  model = PTBModel(CONFIG.override(keep_prob=keep_prob, hidden_size=50),
                   seed=1)
  calls = []
  plain_layer = model.lstm_layer

  def recording_layer(inputs, c, h, kernel, bias):
    outputs, c, h = plain_layer(inputs, c, h, kernel, bias)
    calls.append((inputs.numpy(), outputs.numpy()))
    return outputs, c, h

  model.lstm_layer = recording_layer
  inputs = np.arange(40, dtype=np.int32).reshape(2, 20) % CONFIG.vocab_size
  keys, counters = model.dropout_keys(tf.constant([7, 9], tf.int64))
  model(inputs, model.zero_state(2), dropout_keys=(keys, counters))
  embedded = model.embedding.numpy()[inputs]
  below = [embedded] + [outputs for _, outputs in calls[:-1]]
  for index, ((layer_input, _), undropped) in enumerate(zip(calls, below)):
    kept = layer_input != 0
    # About half dropped, the rest exactly the undropped value scaled.
    assert 0.4 < 1 - kept.mean() < 0.6
    np.testing.assert_allclose(layer_input[kept],
                               undropped[kept] / keep_prob, rtol=1e-6)
    # Each dropout draws a mask of its own: the k-th (0 the embedded
    # inputs, k the output of layer k) from the k-th key.
    np.testing.assert_array_equal(kept, keyed_dropout(
        tf.ones(kept.shape), 1 - keep_prob, keys[index], counters[index]) != 0)
  # Without a dropout seed (evaluation) nothing is dropped.
  calls.clear()
  model(inputs, model.zero_state(2))
  np.testing.assert_array_equal(calls[0][0], embedded)


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("keep_prob", [0.5, 0.35])
def test_dropout_draws_the_masks_of_tensorflows_stateless_dropout(
    jit_compile, keep_prob):
  """Bit for bit, from keys derived in a program of their own (as training
  does it, for speed) and seeds as large as training's."""
  model = PTBModel(CONFIG.override(keep_prob=keep_prob), seed=1)
  x = tf.random.stateless_normal([4, 6, 50], [1, 2])
  seed = tf.random.Generator.from_seed(5).make_seeds(1)[:, 0]
  keys, counters = tf.function(model.dropout_keys,
                               jit_compile=jit_compile)(seed)
  assert keys.shape[0] == CONFIG.num_layers + 1
  for index in range(CONFIG.num_layers + 1):
    ours = tf.function(lambda k=index: keyed_dropout(
        x, 1 - keep_prob, keys[k], counters[k]), jit_compile=jit_compile)()
    theirs = tf.function(lambda k=index: tf.nn.experimental.stateless_dropout(
        x, rate=1 - keep_prob, seed=seed + [0, k]), jit_compile=jit_compile)()
    np.testing.assert_array_equal(ours, theirs)


def test_gradient_step_clips_to_max_grad_norm():
  config = CONFIG.override(max_grad_norm=0.01)
  trainer = Trainer(config, seed=0)
  before = [v.numpy() for v in trainer.model.trainable_variables]
  inputs = np.array([[1, 2, 3, 4], [5, 6, 0, 1]], np.int32)
  trainer.train_step(inputs, inputs, trainer.model.zero_state(2),
                     tf.constant(1.0))
  after = [v.numpy() for v in trainer.model.trainable_variables]
  update_norm = math.sqrt(sum(((a - b) ** 2).sum()
                              for a, b in zip(after, before)))
  assert update_norm == pytest.approx(0.01, rel=1e-3)


def test_windowed_evaluation_equals_word_by_word():
  trainer = Trainer(CONFIG, seed=2)
  ids = np.random.default_rng(3).integers(0, CONFIG.vocab_size, 57)
  word_by_word = trainer.run_epoch(reader.ptb_producer(ids, 1, 1))
  windowed = trainer.run_epoch(reader.ContinuousBatches(ids, window=10))
  assert windowed.perplexity() == pytest.approx(word_by_word.perplexity(),
                                                rel=1e-5)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_lstm_layer_gradient_equals_autodiff_of_a_plain_cell(jit_compile):
  """The hand-written backward pass, against autodiff of one step at a time,
  with gradient arriving through the outputs and the final state."""
  rng = np.random.default_rng(5)
  batch, steps, inputs_size, hidden = 3, 5, 4, 6

  def random(*shape):
    return tf.constant(rng.uniform(-1, 1, shape).astype(np.float32))

  args = (random(batch, steps, inputs_size), random(batch, hidden),
          random(batch, hidden), random(inputs_size + hidden, 4 * hidden),
          random(4 * hidden))
  weights = (random(batch, steps, hidden), random(batch, hidden),
             random(batch, hidden))

  def plain_layer(inputs, c, h, kernel, bias):
    outputs = []
    for t in range(steps):
      gates = tf.concat([inputs[:, t], h], axis=1) @ kernel + bias
      i, j, f, o = tf.split(gates, 4, axis=1)
      c = c * tf.sigmoid(f) + tf.sigmoid(i) * tf.tanh(j)
      h = tf.tanh(c) * tf.sigmoid(o)
      outputs.append(h)
    return tf.stack(outputs, axis=1), c, h

  def loss_and_gradients(layer):
    @tf.function(jit_compile=jit_compile)
    def compute(*args):
      with tf.GradientTape() as tape:
        tape.watch(args)
        loss = sum(tf.reduce_sum(w * y)
                   for w, y in zip(weights, layer(*args)))
      return loss, tape.gradient(loss, args)
    return compute(*args)

  loss, gradients = loss_and_gradients(lstm_layer)
  expected_loss, expected_gradients = loss_and_gradients(plain_layer)
  assert float(loss) == pytest.approx(float(expected_loss), rel=1e-6)
  for gradient, expected in zip(gradients, expected_gradients):
    np.testing.assert_allclose(gradient, expected, atol=1e-5)


def test_block_mode_computes_the_same_loss_and_gradients():
  rng = np.random.default_rng(4)
  inputs = rng.integers(0, CONFIG.vocab_size, [2, 4]).astype(np.int32)
  state = tf.constant(random_state(CONFIG, rng))
  results = []
  for mode in ("basic", "block"):
    model = PTBModel(CONFIG, seed=6, rnn_mode=mode)
    with tf.GradientTape() as tape:
      logits, new_state = model(inputs, state)
      cost = sequence_cost(logits, inputs)
    gradients = tape.gradient(cost, model.trainable_variables)
    results.append((cost, new_state,
                    [tf.convert_to_tensor(g) for g in gradients]))
  (basic_cost, basic_state, basic_grads), (block_cost, block_state,
                                           block_grads) = results
  assert float(block_cost) == pytest.approx(float(basic_cost), rel=1e-6)
  np.testing.assert_allclose(block_state, basic_state, atol=1e-6)
  for basic, block in zip(basic_grads, block_grads):
    np.testing.assert_allclose(block, basic, atol=1e-6)


def test_block_mode_reads_a_basic_checkpoint(tmp_path):
  basic = PTBModel(CONFIG, seed=6, rnn_mode="basic")
  path = tf.train.Checkpoint(model=basic).save(str(tmp_path / "ckpt"))
  block = PTBModel(CONFIG, seed=99, rnn_mode="block")
  tf.train.Checkpoint(model=block).restore(path).assert_consumed()
  inputs = np.array([[1, 2, 3, 4], [5, 6, 0, 1]], np.int32)
  np.testing.assert_allclose(block(inputs, block.zero_state(2))[0],
                             basic(inputs, basic.zero_state(2))[0], atol=1e-6)


def test_16_bit_compute_stays_close_to_float32():
  inputs = np.array([[1, 2, 3, 4], [5, 6, 0, 1]], np.int32)
  full = PTBModel(CONFIG, seed=6)
  half = PTBModel(CONFIG, seed=6, compute_dtype=tf.bfloat16)
  full_logits, _ = full(inputs, full.zero_state(2))
  half_logits, half_state = half(inputs, half.zero_state(2))
  assert half_logits.dtype == tf.float32 and half_state.dtype == tf.float32
  assert half.embedding.dtype == tf.float32  # master weights stay float32
  np.testing.assert_allclose(half_logits, full_logits, atol=0.05)
  assert np.abs(half_logits.numpy() - full_logits.numpy()).max() > 0


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")),
                    reason="checks the CPU-only messages")
def test_gpu_only_options_say_so_on_a_cpu():
  with pytest.raises(ValueError, match="--rnn_mode=cudnn needs a GPU"):
    Trainer(CONFIG, rnn_mode="cudnn")
  with pytest.raises(ValueError, match="--use_fp16 needs a GPU"):
    Trainer(CONFIG, use_fp16=True)


def test_the_cudnn_buffer_holds_each_weight_where_cudnn_reads_it():
  """--rnn_mode cudnn needs a GPU to run; what it hands cuDNN can be checked
  without one. Read back in cuDNN's layout (input matrices W_i, W_f, W_c,
  W_o, each [hidden, input_size] row-major; recurrent R_i .. R_o [hidden,
  hidden]; biases b_W then b_R), cuDNN's LSTM equations compute what
  lstm_layer computes."""
  rng = np.random.default_rng(7)
  batch, steps, input_size, hidden = 2, 5, 4, 3

  def random(*shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)

  inputs, c0, h0 = (random(batch, steps, input_size), random(batch, hidden),
                    random(batch, hidden))
  kernel, bias = random(input_size + hidden, 4 * hidden), random(4 * hidden)
  params = recurrent.cudnn_params(tf.constant(kernel), tf.constant(bias))
  sizes = [hidden * input_size] * 4 + [hidden * hidden] * 4 + [hidden] * 8
  assert params.shape == [sum(sizes)]
  pieces = np.split(params.numpy(), np.cumsum(sizes)[:-1])
  w = [piece.reshape(hidden, input_size) for piece in pieces[:4]]
  r = [piece.reshape(hidden, hidden) for piece in pieces[4:8]]
  b = [b_w + b_r for b_w, b_r in zip(pieces[8:12], pieces[12:16])]
  c, h, outputs = c0, h0, []
  for t in range(steps):
    i, f, candidate, o = (inputs[:, t] @ w[k].T + h @ r[k].T + b[k]
                          for k in range(4))
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(candidate)
    h = sigmoid(o) * np.tanh(c)
    outputs.append(h)
  expected = lstm_layer(*map(tf.constant, (inputs, c0, h0, kernel, bias)))
  np.testing.assert_allclose(np.stack(outputs, axis=1), expected[0],
                             atol=1e-5)
  np.testing.assert_allclose(c, expected[1], atol=1e-5)
