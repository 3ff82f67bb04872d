"""Beyond the reference: the GRU cell and tied embeddings."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import patterned_lines, write_corpus
import checkpoint_metadata
import configs
import inference
from model import PTBModel, sequence_cost
import reader
from test_model import numpy_forward, sigmoid
import trainer

CONFIG = configs.TEST.override(num_layers=2, hidden_size=3, vocab_size=7,
                               num_steps=4, batch_size=2, init_scale=0.5)
GRU = CONFIG.override(cell="gru")
TIED = CONFIG.override(tie_embeddings=True)


def numpy_gru_cell(model, layer, x, state):
  """TensorFlow 1's GRUCell: state [1, batch, hidden] is (h,)."""
  hidden = model.config.hidden_size
  h = state[0]
  gates = sigmoid(np.concatenate([x, h], axis=1)
                  @ model.gru_gate_kernels[layer].numpy()
                  + model.gru_gate_biases[layer].numpy())
  r, u = gates[:, :hidden], gates[:, hidden:]
  c = np.tanh(np.concatenate([x, r * h], axis=1)
              @ model.gru_candidate_kernels[layer].numpy()
              + model.gru_candidate_biases[layer].numpy())
  return (u * h + (1 - u) * c)[None]


def test_gru_matches_numpy():
  model = PTBModel(GRU, seed=3)
  # Biases away from their starting values, so their places are checked.
  for bias in model.gru_gate_biases + model.gru_candidate_biases:
    bias.assign(tf.random.uniform(bias.shape, -1, 1, seed=2))
  rng = np.random.default_rng(0)
  inputs = rng.integers(0, GRU.vocab_size, [2, 4]).astype(np.int32)
  state = rng.uniform(-1, 1, [2, 1, 2, 3]).astype(np.float32)
  logits, new_state = model(inputs, tf.constant(state))
  expected_logits, expected_state = numpy_forward(model, inputs, state,
                                                  numpy_gru_cell)
  np.testing.assert_allclose(logits.numpy(), expected_logits, atol=1e-5)
  np.testing.assert_allclose(new_state.numpy(), expected_state, atol=1e-5)


def test_gru_gradient_matches_finite_differences():
  model = PTBModel(GRU, seed=1)
  rng = np.random.default_rng(0)
  inputs, targets = (rng.integers(0, 7, [2, 4]).astype(np.int32)
                     for _ in range(2))
  state = tf.constant(rng.uniform(-1, 1, [2, 1, 2, 3]).astype(np.float32))

  def cost():
    return sequence_cost(model(inputs, state)[0], targets)

  with tf.GradientTape() as tape:
    loss = cost()
  gradients = tape.gradient(loss, model.trainable_variables)
  for variable, gradient in zip(model.trainable_variables, gradients):
    gradient = tf.convert_to_tensor(gradient).numpy().ravel()
    value = variable.numpy()
    for index in rng.integers(0, value.size, 3):
      nudged = []
      for step in (1e-2, -1e-2):
        changed = value.copy().ravel()
        changed[index] += step
        variable.assign(changed.reshape(value.shape))
        nudged.append(float(cost()))
      variable.assign(value)
      assert (nudged[0] - nudged[1]) / 2e-2 == pytest.approx(
          gradient[index], abs=2e-3), variable.name


def test_gru_starts_as_tensorflow_1_did():
  model = PTBModel(GRU, seed=0)
  assert model.zero_state(5).shape == [2, 1, 5, 3]
  assert all((b.numpy() == 1.0).all() for b in model.gru_gate_biases)
  assert all(not b.numpy().any() for b in model.gru_candidate_biases)
  assert not hasattr(model, "lstm_kernels")


def test_tied_softmax_is_the_embedding():
  tied = PTBModel(TIED, seed=4)
  assert not hasattr(tied, "softmax_w")
  names = [v.name for v in tied.trainable_variables]
  assert sum("embedding" in name for name in names) == 1
  assert len(names) == len(PTBModel(CONFIG, seed=4).trainable_variables) - 1
  # The same seed draws the same other weights as the untied model.
  untied = PTBModel(CONFIG, seed=4)
  np.testing.assert_array_equal(tied.softmax_b.numpy(),
                                untied.softmax_b.numpy())
  np.testing.assert_array_equal(tied.embedding.numpy(),
                                untied.embedding.numpy())


def test_both_uses_of_the_tied_embedding_receive_gradient():
  """The tied gradient is the untied model's embedding gradient plus its
  softmax weight gradient, transposed, when softmax_w = embedding^T."""
  tied = PTBModel(TIED, seed=4)
  untied = PTBModel(CONFIG, seed=4)
  untied.softmax_w.assign(tf.transpose(untied.embedding))
  rng = np.random.default_rng(1)
  inputs = rng.integers(0, 7, [2, 4]).astype(np.int32)
  targets = rng.integers(0, 7, [2, 4]).astype(np.int32)

  def gradients(model, variables):
    with tf.GradientTape() as tape:
      logits, _ = model(inputs, model.zero_state(2))
      cost = sequence_cost(logits, targets)
    return [tf.convert_to_tensor(g)
            for g in tape.gradient(cost, variables)]

  (tied_gradient,) = gradients(tied, [tied.embedding])
  input_part, output_part = gradients(untied, [untied.embedding,
                                               untied.softmax_w])
  assert np.abs(input_part.numpy()).max() > 1e-4
  np.testing.assert_allclose(tied_gradient.numpy(),
                             (input_part + tf.transpose(output_part)).numpy(),
                             atol=1e-6)


def test_gru_runs_only_with_the_basic_mode():
  with pytest.raises(ValueError, match="--rnn_mode=block is an LSTM kernel"):
    PTBModel(GRU, rnn_mode="block")


def test_config_round_trip_and_old_config_files(tmp_path):
  config = GRU.override(tie_embeddings=True)
  checkpoint_metadata.save_metadata(str(tmp_path), config, {"a": 0})
  assert checkpoint_metadata.load_config(str(tmp_path)) == config
  # A config.json written before these fields existed.
  values = json.loads((tmp_path / "config.json").read_text())
  del values["cell"], values["tie_embeddings"]
  (tmp_path / "config.json").write_text(json.dumps(values))
  old = checkpoint_metadata.load_config(str(tmp_path))
  assert (old.cell, old.tie_embeddings) == ("lstm", False)


@pytest.mark.parametrize("changes, message", [
    ({"cell": "rnn"}, "cell must be one of lstm, gru, got 'rnn'"),
    ({"tie_embeddings": 1}, "tie_embeddings must be true or false, got 1"),
])
def test_bad_values(changes, message):
  with pytest.raises(ValueError, match=message):
    CONFIG.override(**changes)


def test_an_old_checkpoint_still_loads():
  """tests/data/lstm-checkpoint-v1 was written by ptb_word_lm.py before
  the cell and tie_embeddings fields existed (commit 0204262)."""
  folder = os.path.join(os.path.dirname(__file__), "data",
                        "lstm-checkpoint-v1")
  model = inference.LanguageModel.load(folder)
  assert (model.model.config.cell, model.model.config.tie_embeddings) == (
      "lstm", False)
  # What the code of that commit computed from these weights.
  log_probs, _ = model._run(model.ids("e <eos> a b c".split()))
  np.testing.assert_allclose(np.exp(log_probs), [
      1.3954499991086777e-05, 5.9224021242698655e-05, 3.220635846901132e-07,
      6.621494685532525e-05, 0.9997780323028564, 8.1346181104891e-05,
      1.7028650489692154e-08, 8.325466538394721e-09, 8.726022429073055e-07],
                             rtol=1e-4, atol=1e-9)
  lines = [line.split() for line in patterned_lines(60)]
  assert model.score_lines(lines, "text")[0] == pytest.approx(
      1.042804064710051, rel=1e-6)


TOY = configs.TEST.override(hidden_size=16, num_steps=5, batch_size=4,
                            max_max_epoch=3, max_grad_norm=5.0, vocab_size=9)


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory):
  folder = tmp_path_factory.mktemp("toy")
  return reader.load_ptb(write_corpus(str(folder), patterned_lines(400),
                                      patterned_lines(60),
                                      patterned_lines(60)))


@pytest.mark.parametrize("changes", [{"cell": "gru"}, {"tie_embeddings": True},
                                     {"cell": "gru", "tie_embeddings": True}])
def test_every_combination_trains_resumes_and_serves(toy_data, tmp_path,
                                                     changes):
  config = TOY.override(**changes)
  save_path = str(tmp_path / "run")
  _, _, test_perplexity = trainer.train_and_evaluate(
      config, toy_data, save_path=save_path, log=lambda _: None)
  assert test_perplexity < 3.0  # 9 words: chance is 9
  model = inference.LanguageModel.load(save_path)
  assert model.model.config == config
  assert [w for w, _ in model.next_words("e <eos> a b c".split(), 1)] == ["d"]
  lines = [line.split() for line in patterned_lines(60)]
  assert model.score_lines(lines, "text")[0] == pytest.approx(
      test_perplexity, rel=1e-4)
  exported = tf.saved_model.load(_export(model, tmp_path))
  state = exported.signatures["zero_state"](batch_size=tf.constant(1))["state"]
  assert state.shape == [1, model.model.state_parts, 1, 16]
  # Resuming with the other cell or tying is a clear error.
  other = {"cell": "lstm" if config.cell == "gru" else "gru"}
  with pytest.raises(ValueError, match="the checkpoint in .* has cell=%s but "
                     "this model has cell=%s" % (config.cell, other["cell"])):
    trainer.train_and_evaluate(config.override(**other), toy_data,
                               save_path=save_path, log=lambda _: None)


def _export(model, tmp_path):
  path = str(tmp_path / "exported")
  model.export(path)
  return path


@pytest.mark.parametrize("changes, fall", [({"cell": "gru"}, 3),
                                           ({"tie_embeddings": True}, 4)])
def test_short_real_training_learns(ptb_path, changes, fall):
  data = reader.load_ptb(ptb_path)
  config = configs.SMALL.override(hidden_size=50, **changes)
  model = trainer.Trainer(config, seed=0)
  valid = reader.ptb_producer(data.valid[:20000], 20, 20)
  start = model.run_epoch(valid).perplexity()
  model.run_epoch(reader.ptb_producer(data.train[:60000], 20, 20), 1.0)
  end = model.run_epoch(valid).perplexity()
  assert start > 9000  # a fresh model is about uniform over 10,000 words
  # After these 150 steps: about 770 tied (1,100 untied), 2,400 for the
  # GRU on an AVX-512 processor and 2,806 on an AVX2 one (the rounding of
  # the products differs; the GRU's first steps amplify it): its update gate
  # starts mostly closed (bias 1), so it starts slower.
  assert end < start / fall
