"""What the Supervisor does around the batches: the Training Loss summary,
the periodic saves' clock and the Environment text."""

import math

import pytest
import tensorflow as tf

import environment
import supervisor
from test_training import read_scalars, summary_values


class CountingCheckpoint:
  """Records the epochs_done and batch of every save."""

  def __init__(self):
    self.saves = []

  def save(self, epochs_done, progress=None):
    self.saves.append((epochs_done, progress.step if progress else None))


class Progress:
  def __init__(self, step):
    self.step = step


def test_training_loss_averages_the_batches_since_the_last_write(tmp_path):
  watch = supervisor.Supervisor(summary_folder=str(tmp_path))
  after_step = watch.training_hook(epoch=1, learning_rate=0.5,
                                   epoch_size=1000)
  costs = [math.sqrt(step) for step in range(1, 601)]  # all different
  for step, cost in enumerate(costs, start=1):
    after_step(Progress(step), cost, None)
  watch.summaries.flush()
  loss = read_scalars(str(tmp_path))["Training Loss"]
  every = supervisor.SUMMARY_EVERY_STEPS
  assert sorted(loss) == [every, 2 * every, 3 * every]
  for written in loss:  # the mean of the 200 batches up to the write
    window = costs[written - every:written]
    assert loss[written] == pytest.approx(sum(window) / every, rel=1e-6)


def test_the_periodic_save_waits_a_full_interval_after_each_save(monkeypatch):
  clock = [1000.0]
  monkeypatch.setattr(supervisor.time, "monotonic", lambda: clock[0])
  checkpoint = CountingCheckpoint()
  watch = supervisor.Supervisor(checkpoint=checkpoint, save_every_secs=10)
  after_step = watch.training_hook(epoch=3, learning_rate=1.0,
                                   epoch_size=100)
  for step in range(1, 36):  # one batch a second
    clock[0] += 1.0
    after_step(Progress(step), 1.0, None)
  # Due 10 s after the start, then 10 s after each save: never every batch.
  assert checkpoint.saves == [(2, 10), (2, 20), (2, 30)]


def test_an_end_of_epoch_save_restarts_the_clock(monkeypatch):
  clock = [0.0]
  monkeypatch.setattr(supervisor.time, "monotonic", lambda: clock[0])
  checkpoint = CountingCheckpoint()
  watch = supervisor.Supervisor(checkpoint=checkpoint, save_every_secs=10)
  clock[0] = 9.0
  watch.end_of_epoch(1)
  after_step = watch.training_hook(epoch=2, learning_rate=1.0, epoch_size=50)
  for step in range(1, 12):
    clock[0] += 1.0
    after_step(Progress(step), 1.0, None)
  assert checkpoint.saves == [(1, None), (1, 10)]


def test_each_stretch_names_its_versions_and_processor(tmp_path):
  watch = supervisor.Supervisor(summary_folder=str(tmp_path))
  watch.describe_environment(global_step=7)
  watch.summaries.flush()
  texts = [(value.tag, step, tf.make_ndarray(value.tensor).item())
           for step, value in summary_values(tmp_path)]
  assert texts == [("Environment", 7, environment.describe().encode())]
  assert b"TensorFlow 2." in texts[0][2] and b"NumPy" in texts[0][2]
