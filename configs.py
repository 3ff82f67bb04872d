"""The reference's hyperparameter presets: small, medium, large and test."""

import dataclasses
import math

from errors import InputError


CELLS = ("lstm", "gru")

# The largest whole-number field: no size of this model comes near it, and
# far beyond it TensorFlow's 64-bit shapes overflow (a traceback, not an
# out-of-memory error).
MAX_SIZE = 2**31 - 1


def check_rnn_mode(cell, rnn_mode):
  """Block and cudnn are LSTM kernels: a GRU runs only as the basic cell.
  (A check without TensorFlow, so that the command line says it at once.)"""
  if cell == "gru" and rnn_mode != "basic":
    raise InputError("--rnn_mode=%s is an LSTM kernel; --cell=gru runs "
                     "with --rnn_mode=basic" % rnn_mode)


@dataclasses.dataclass(frozen=True)
class Config:
  init_scale: float = 0.1    # weights start uniform in [-init_scale, init_scale]
  learning_rate: float = 1.0  # SGD rate of the first max_epoch epochs
  max_grad_norm: float = 5.0  # gradients clipped to this global norm
  num_layers: int = 2        # stacked LSTM layers
  num_steps: int = 20        # unrolled time steps per batch
  hidden_size: int = 200     # LSTM units per layer, also the embedding width
  max_epoch: int = 4         # epochs at the initial learning rate
  max_max_epoch: int = 13    # epochs in all
  keep_prob: float = 1.0     # dropout keep probability (1.0: no dropout)
  lr_decay: float = 0.5      # rate multiplier per epoch after max_epoch
  batch_size: int = 20       # rows per batch
  vocab_size: int = 10000    # words in the vocabulary
  # Beyond the reference (its model is the default):
  cell: str = "lstm"         # recurrent cell: lstm, or gru (TF1's GRUCell)
  tie_embeddings: bool = False  # softmax weight = embedding transposed

  def __post_init__(self):
    if self.cell not in CELLS:
      raise InputError("cell must be one of %s, got %r"
                       % (", ".join(CELLS), self.cell))
    if not isinstance(self.tie_embeddings, bool):
      raise InputError("tie_embeddings must be true or false, got %r"
                       % (self.tie_embeddings,))
    for field in dataclasses.fields(self):
      if field.type not in (int, float):
        continue
      value = getattr(self, field.name)
      # bool is an int in Python; a number field never wants one.
      if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError("%s must be a number, got %r" % (field.name, value))
      if field.type is int and not isinstance(value, int):
        raise InputError("%s must be a whole number, got %r"
                         % (field.name, value))
      if not math.isfinite(value):
        raise InputError("%s must be a finite number, got %r"
                         % (field.name, value))
      if field.type is int and value > MAX_SIZE:
        raise InputError("%s must be at most %d, got %r"
                         % (field.name, MAX_SIZE, value))
    positive = ("init_scale", "learning_rate", "max_grad_norm", "num_layers",
                "num_steps", "hidden_size", "max_epoch", "max_max_epoch",
                "batch_size", "vocab_size")
    for name in positive:
      if getattr(self, name) <= 0:
        raise InputError("%s must be positive, got %r"
                         % (name, getattr(self, name)))
    if not 0.0 < self.keep_prob <= 1.0:
      raise InputError("keep_prob must be in (0, 1], got %r" % self.keep_prob)
    if not 0.0 < self.lr_decay <= 1.0:
      raise InputError("lr_decay must be in (0, 1], got %r" % self.lr_decay)

  def learning_rate_at(self, epoch):
    """The rate of 1-based `epoch`: constant, then decayed once per epoch."""
    return self.learning_rate * self.lr_decay ** max(epoch - self.max_epoch, 0)

  def override(self, **changes):
    """A copy with `changes`; an unknown field or ill-typed value raises."""
    names = {field.name: field for field in dataclasses.fields(self)}
    unknown = sorted(set(changes) - set(names))
    if unknown:
      raise InputError("unknown config field(s): %s" % ", ".join(unknown))
    converted = {}
    for name, value in changes.items():
      # A whole float (e.g. from JSON) is accepted where an int is wanted.
      if (names[name].type is int and isinstance(value, float)
          and value.is_integer()):
        value = int(value)
      elif names[name].type is float and isinstance(value, int):
        value = float(value)
      converted[name] = value
    return dataclasses.replace(self, **converted)

  def to_dict(self):
    return dataclasses.asdict(self)


SMALL = Config()

MEDIUM = Config(
    init_scale=0.05, num_steps=35, hidden_size=650, max_epoch=6,
    max_max_epoch=39, keep_prob=0.5, lr_decay=0.8)

LARGE = Config(
    init_scale=0.04, max_grad_norm=10.0, num_steps=35, hidden_size=1500,
    max_epoch=14, max_max_epoch=55, keep_prob=0.35, lr_decay=1 / 1.15)

# A tiny model for tests: one layer of two units, one epoch.
TEST = Config(
    max_grad_norm=1.0, num_layers=1, num_steps=2, hidden_size=2, max_epoch=1,
    max_max_epoch=1)

PRESETS = {"small": SMALL, "medium": MEDIUM, "large": LARGE, "test": TEST}


def get_config(name):
  """The preset called `name`; an unknown name raises ValueError."""
  try:
    return PRESETS[name]
  except KeyError:
    raise InputError("unknown model %r: choose one of %s"
                     % (name, ", ".join(PRESETS))) from None
