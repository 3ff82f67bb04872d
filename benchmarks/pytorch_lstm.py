"""The same model and training step in PyTorch (nn.LSTM), for comparison.

Used by benchmark.py only when torch happens to be installed; it is not a
dependency of this project. Same shapes, dropout, summed-over-time loss,
global-norm clipping and plain SGD as trainer.Trainer's step, with the
LSTM state carried (and detached) from one batch to the next.
"""

import torch
from torch import nn


class TorchPTBModel(nn.Module):

  def __init__(self, config):
    super().__init__()
    self.config = config
    dropout = 1.0 - config.keep_prob
    self.embedding = nn.Embedding(config.vocab_size, config.hidden_size)
    self.dropout = nn.Dropout(dropout)
    self.lstm = nn.LSTM(config.hidden_size, config.hidden_size,
                        num_layers=config.num_layers, dropout=dropout,
                        batch_first=True)
    self.softmax = nn.Linear(config.hidden_size, config.vocab_size)
    for parameter in self.parameters():
      nn.init.uniform_(parameter, -config.init_scale, config.init_scale)

  def forward(self, inputs, state):
    x = self.dropout(self.embedding(inputs))
    x, state = self.lstm(x, state)
    return self.softmax(self.dropout(x)), state


class TorchTrainer:
  """run_epoch(batches, learning_rate) with trainer.Trainer's interface, so
  benchmark.py times both the same way."""

  def __init__(self, config):
    self.config = config
    self.model = TorchPTBModel(config)
    self.loss = nn.CrossEntropyLoss(reduction="sum")

  def zero_state(self, batch_size):
    shape = (self.config.num_layers, batch_size, self.config.hidden_size)
    return torch.zeros(shape), torch.zeros(shape)

  def run_epoch(self, batches, learning_rate=None):
    self.model.train(learning_rate is not None)
    state = self.zero_state(batches.batch_size)
    for step in range(len(batches)):
      inputs, targets = (torch.from_numpy(a).long() for a in batches.batch(step))
      with torch.set_grad_enabled(learning_rate is not None):
        logits, state = self.model(inputs, state)
        cost = self.loss(logits.reshape(-1, self.config.vocab_size),
                         targets.reshape(-1)) / inputs.shape[0]
      state = tuple(s.detach() for s in state)
      if learning_rate is not None:
        self.model.zero_grad()
        cost.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(),
                                 self.config.max_grad_norm)
        with torch.no_grad():
          for parameter in self.model.parameters():
            parameter -= learning_rate * parameter.grad
      cost.item()  # wait for the step, as Trainer.run_epoch does
