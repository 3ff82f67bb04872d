import dataclasses
import os

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
import pytest

from conftest import ROOT
import configs


def test_presets_hold_the_reference_values():
  small, medium, large = configs.SMALL, configs.MEDIUM, configs.LARGE
  assert (small.hidden_size, small.num_steps, small.max_max_epoch,
          small.keep_prob, small.init_scale) == (200, 20, 13, 1.0, 0.1)
  assert (medium.hidden_size, medium.num_steps, medium.max_epoch,
          medium.max_max_epoch, medium.keep_prob, medium.lr_decay) == (
              650, 35, 6, 39, 0.5, 0.8)
  assert (large.hidden_size, large.max_grad_norm, large.max_epoch,
          large.max_max_epoch, large.keep_prob) == (1500, 10, 14, 55, 0.35)
  assert large.lr_decay == pytest.approx(1 / 1.15)
  assert (configs.TEST.num_layers, configs.TEST.hidden_size) == (1, 2)
  assert {c.batch_size for c in configs.PRESETS.values()} == {20}


def test_learning_rate_schedule():
  rates = [configs.SMALL.learning_rate_at(e) for e in range(1, 8)]
  assert rates == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25, 0.125]
  assert configs.LARGE.learning_rate_at(16) == pytest.approx(1.15 ** -2)


def test_override_changes_only_the_named_fields():
  config = configs.SMALL.override(hidden_size=50, max_max_epoch=1)
  assert (config.hidden_size, config.max_max_epoch) == (50, 1)
  assert config.num_steps == configs.SMALL.num_steps
  assert configs.SMALL.hidden_size == 200  # the preset is untouched


def test_a_whole_number_takes_the_type_of_its_field():
  # JSON and flags may give 2 for a rate and 50.0 for a size.
  config = configs.SMALL.override(learning_rate=2, hidden_size=50.0)
  assert (config.learning_rate, config.hidden_size) == (2.0, 50)
  assert (type(config.learning_rate), type(config.hidden_size)) == (float, int)


@pytest.mark.parametrize("changes, message", [
    ({"hiden_size": 5}, "unknown config field"),
    ({"hidden_size": 2.5}, "hidden_size must be a whole number"),
    ({"keep_prob": "high"}, "keep_prob must be a number"),
    ({"keep_prob": 0.0}, r"keep_prob must be in \(0, 1\]"),
    ({"num_steps": 0}, "num_steps must be positive"),
    ({"lr_decay": 1.5}, r"lr_decay must be in \(0, 1\]"),
    ({"lr_decay": 0.0}, r"lr_decay must be in \(0, 1\], got 0.0"),
    ({"hidden_size": True}, "hidden_size must be a number, got True"),
    ({"vocab_size": 2**31}, "vocab_size must be at most 2147483647, got "
                            "2147483648"),
])
def test_bad_overrides_raise(changes, message):
  with pytest.raises(ValueError, match=message):
    configs.SMALL.override(**changes)


def test_the_presets_are_the_references_model_and_cannot_change():
  for preset in configs.PRESETS.values():
    assert (preset.cell, preset.tie_embeddings) == ("lstm", False)
  with pytest.raises(dataclasses.FrozenInstanceError):
    configs.SMALL.hidden_size = 50  # a preset shared by every run


def test_the_bounds_themselves_are_allowed():
  config = configs.SMALL.override(lr_decay=1.0, keep_prob=1.0,
                                  vocab_size=configs.MAX_SIZE)
  assert (config.lr_decay, config.keep_prob, config.vocab_size) == (
      1.0, 1.0, 2**31 - 1)


def test_unknown_model_name():
  with pytest.raises(ValueError, match="unknown model 'tiny'"):
    configs.get_config("tiny")


def test_the_lock_pins_what_the_requirements_ask():
  """requirements-lock.txt (exact versions) within requirements.txt's
  ranges, every package pinned once."""
  def requirements(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
      return [Requirement(line) for line in f.read().splitlines()
              if line.strip() and not line.startswith("#")]

  pinned = {}
  for requirement in requirements("requirements-lock.txt"):
    [specifier] = requirement.specifier
    assert specifier.operator == "==", requirement
    assert canonicalize_name(requirement.name) not in pinned, requirement
    pinned[canonicalize_name(requirement.name)] = specifier.version
  for requirement in requirements("requirements.txt"):
    version = pinned.get(canonicalize_name(requirement.name))
    assert version is not None, "%s is not pinned" % requirement.name
    assert requirement.specifier.contains(version), (requirement, version)
