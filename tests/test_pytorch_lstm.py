"""The benchmark's PyTorch model is the same function as PTBModel, so that
its column compares like with like. Skips where torch is not installed (it
is not a dependency)."""

import os
import sys

import numpy as np
import pytest
import tensorflow as tf

import configs
from model import PTBModel, sequence_cost

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "benchmarks"))
from pytorch_lstm import TorchPTBModel  # pylint: disable=g-import-not-at-top,wrong-import-position

CONFIG = configs.TEST.override(num_layers=2, hidden_size=5, vocab_size=11,
                               num_steps=6, batch_size=3, init_scale=0.5)


def copy_weights(tf_model, torch_model):
  """PTBModel's weights into TorchPTBModel: PyTorch keeps [out, in] matrices,
  orders the gates i, f, g(=j), o and splits the bias in two."""

  def torch_gate_order(matrix):
    i, j, f, o = np.split(matrix, 4, axis=-1)
    return np.concatenate([i, f, j, o], axis=-1)

  def tensor(array):
    return torch.from_numpy(np.ascontiguousarray(array))

  hidden = CONFIG.hidden_size
  lstm = torch_model.lstm
  with torch.no_grad():
    torch_model.embedding.weight.copy_(tensor(tf_model.embedding.numpy()))
    for layer, (kernel, bias) in enumerate(zip(tf_model.lstm_kernels,
                                               tf_model.lstm_biases)):
      kernel = torch_gate_order(kernel.numpy())
      getattr(lstm, "weight_ih_l%d" % layer).copy_(tensor(kernel[:hidden].T))
      getattr(lstm, "weight_hh_l%d" % layer).copy_(tensor(kernel[hidden:].T))
      getattr(lstm, "bias_ih_l%d" % layer).copy_(
          tensor(torch_gate_order(bias.numpy())))
      getattr(lstm, "bias_hh_l%d" % layer).zero_()
    torch_model.softmax.weight.copy_(tensor(tf_model.softmax_w.numpy().T))
    torch_model.softmax.bias.copy_(tensor(tf_model.softmax_b.numpy()))


def test_torch_model_computes_the_same_loss_and_state():
  tf_model = PTBModel(CONFIG, seed=1)
  for bias in tf_model.lstm_biases:  # nonzero, to check the bias order too
    bias.assign(tf.random.uniform(bias.shape, -1, 1, seed=2))
  torch_model = TorchPTBModel(CONFIG).eval()  # eval: no dropout
  copy_weights(tf_model, torch_model)
  rng = np.random.default_rng(0)
  shape = [CONFIG.batch_size, CONFIG.num_steps]
  inputs = rng.integers(0, CONFIG.vocab_size, shape).astype(np.int32)
  targets = rng.integers(0, CONFIG.vocab_size, shape).astype(np.int32)
  state = rng.uniform(-1, 1, [CONFIG.num_layers, 2, CONFIG.batch_size,
                              CONFIG.hidden_size]).astype(np.float32)

  logits, new_state = tf_model(inputs, tf.constant(state))
  expected_cost = float(sequence_cost(logits, targets))
  with torch.no_grad():
    torch_logits, (h, c) = torch_model(
        torch.from_numpy(inputs).long(),
        (torch.from_numpy(state[:, 1].copy()),
         torch.from_numpy(state[:, 0].copy())))
    cost = torch.nn.functional.cross_entropy(
        torch_logits.reshape(-1, CONFIG.vocab_size),
        torch.from_numpy(targets).long().reshape(-1),
        reduction="sum") / CONFIG.batch_size
  assert float(cost) == pytest.approx(expected_cost, rel=1e-5)
  np.testing.assert_allclose(c.numpy(), new_state.numpy()[:, 0], atol=1e-5)
  np.testing.assert_allclose(h.numpy(), new_state.numpy()[:, 1], atol=1e-5)
