import contextlib
import errno
import json
import math
import os
import re
import types

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.util import event_pb2

from conftest import unstopped_toy_run
import checkpoint_metadata
import configs
import reader
import stopping
import trainer

TOY = configs.TEST.override(hidden_size=16, num_steps=5, batch_size=4,
                            max_max_epoch=3, learning_rate=1.0,
                            max_grad_norm=5.0, vocab_size=9)


def quiet(_):
  pass


def test_perplexity_falls_on_a_learnable_toy_language(toy_corpus):
  data = reader.load_ptb(toy_corpus)
  lines = []
  train, valid, test = trainer.train_and_evaluate(TOY, data, log=lines.append)
  # 9 words: chance is perplexity 9; the pattern makes most words certain.
  assert train < 3.0 and valid < 3.0 and test < 3.0
  assert lines[0] == "Epoch: 1 Learning rate: 1.000"
  assert lines[-1] == "Test Perplexity: %.3f" % test


@pytest.mark.parametrize("learning_rate", [1.0, 1e-6])
def test_a_model_that_has_not_started_to_learn_is_said(toy_corpus,
                                                       learning_rate):
  data = reader.load_ptb(toy_corpus)
  counting = reader.unigram_perplexity(data.train, data.valid)
  lines, notes = [], []
  trainer.train_and_evaluate(TOY.override(learning_rate=learning_rate,
                                          max_max_epoch=2), data,
                             log=lines.append, note=notes.append)
  valid = [float(line.split()[-1]) for line in lines if "Valid" in line]
  if learning_rate == 1.0:  # learns: below counting after the first epoch
    assert valid[0] < counting and notes == []
  else:  # barely moves from the initial weights: about uniform, each epoch
    assert min(valid) > counting
    assert notes == [
        "note: valid perplexity %.3f is no better than counting how often "
        "each word comes in the training text (%.3f): the model has not "
        "started to learn. If an epoch more does not change that, start "
        "again with another --seed and a new --save_path" % (v, counting)
        for v in valid]


def test_a_run_stuck_halfway_through_its_first_epoch_is_said(toy_corpus):
  data = reader.load_ptb(toy_corpus)
  counting = reader.unigram_perplexity(data.train, data.valid)
  # 36 outputs for the corpus's 9 words: a model that has not learned is
  # about uniform over 36, far above counting (about 9).
  printed = []
  trainer.train_and_evaluate(TOY.override(learning_rate=1e-6, vocab_size=36,
                                          max_max_epoch=1), data,
                             log=printed.append, note=printed.append)
  notes = [line for line in printed if line.startswith("note: ")]
  halfway = (
      r"note: halfway through epoch 1, its last 11 batches trained at "
      r"perplexity ([0-9.]+), a quarter or more above counting how often "
      r"each word comes in the training text \(%.3f\): the model may not "
      r"have started to learn. The epoch's valid perplexity will tell"
      % counting)
  assert 35 < float(re.fullmatch(halfway, notes[0]).group(1)) < 37
  assert len(notes) == 2 and notes[1].startswith("note: valid perplexity")
  # Halfway is after 59 of the 119 batches: after the progress line of the
  # 0-based step 54 (steps 10, 21, ... print one), before that of step 65.
  at = printed.index(notes[0])
  assert printed[at - 1].startswith("0.454 perplexity")
  assert printed[at + 1].startswith("0.546 perplexity")


def halfway_notes(costs, counting, resume_at=0):
  """The notes of halfway_check over an epoch of these batch costs (one time
  step each), started at batch `resume_at`, and the steps it passed on."""
  notes, passed_on = [], []
  check = trainer.halfway_check(
      lambda progress, cost, agreed: passed_on.append(progress.step),
      len(costs), counting, notes.append)
  for step in range(resume_at, len(costs)):
    check(trainer.EpochProgress(step + 1, sum(costs[:step + 1]), step + 1,
                                None), costs[step], None)
  return notes, passed_on


def test_halfway_through_the_first_epoch_a_stuck_run_is_said():
  # 20 batches: the window is batches 9 and 10 (1-based), their cost log(10).
  costs = [5.0] * 8 + [math.log(10.0)] * 2 + [0.1] * 10
  notes, passed_on = halfway_notes(costs, counting=7.99)
  assert notes == [
      "note: halfway through epoch 1, its last 2 batches trained at "
      "perplexity 10.000, a quarter or more above counting how often each "
      "word comes in the training text (7.990): the model may not have "
      "started to learn. The epoch's valid perplexity will tell"]
  assert passed_on == list(range(1, 21))  # the supervisor's hook still runs
  # Less than a quarter above, nothing; the early batches do not count.
  assert halfway_notes(costs, counting=8.01)[0] == []
  # Resumed after the window began (8 batches done), it has none to judge.
  assert halfway_notes(costs, counting=1.0, resume_at=8)[0] == []
  assert len(halfway_notes(costs, counting=1.0, resume_at=7)[0]) == 1


def test_unigram_perplexity_counts_the_training_words():
  # Training: a a a b, so a has probability 3/4 and b 1/4.
  assert reader.unigram_perplexity([0, 0, 0, 1], [0, 1]) == pytest.approx(
      math.exp(-(math.log(0.75) + math.log(0.25)) / 2))


def test_short_real_training_learns(ptb_path):
  data = reader.load_ptb(ptb_path)
  config = configs.SMALL.override(hidden_size=50)
  model = trainer.Trainer(config, seed=0)
  batches = reader.ptb_producer(data.train[:60000], config.batch_size,
                                config.num_steps)
  valid = reader.ptb_producer(data.valid[:20000], 20, 20)
  start = model.run_epoch(valid).perplexity()
  model.run_epoch(batches, learning_rate=1.0)
  end = model.run_epoch(valid).perplexity()
  assert start > 9000  # a fresh model is about uniform over 10,000 words
  assert end < start / 5  # about 1,100 after these 150 steps


def test_speed_is_the_words_done_over_the_seconds_they_took(toy_corpus,
                                                             monkeypatch):
  data = reader.load_ptb(toy_corpus)
  batches = reader.ptb_producer(data.train, 4, 5)  # 119 batches of 20 words
  clock = [1000.0]
  monkeypatch.setattr(trainer, "time", types.SimpleNamespace(
      time=lambda: clock[0]))

  def half_a_second_a_batch(*_):
    clock[0] += 0.5

  lines = []
  trainer.Trainer(TOY).run_epoch(batches, log=lines.append,
                                 after_step=half_a_second_a_batch)
  # A line is printed after batch 10, 21, ... (counting from 0), before that
  # batch's after_step: 11 batches' words in 10 half seconds, and so on.
  assert [line.split()[-2] for line in lines] == [
      "%.0f" % ((step + 1) * 20 / (step * 0.5))
      for step in range(10, 119, 11)]


@pytest.mark.parametrize("training", [True, False])
def test_state_is_carried_from_batch_to_batch(toy_corpus, training):
  """Batch k+1 starts from the state batch k returned; every pass starts
  from zero."""
  data = reader.load_ptb(toy_corpus)
  model = trainer.Trainer(TOY.override(keep_prob=0.5), seed=0)
  calls = []
  name = "train_step" if training else "eval_step"
  step = getattr(model, name)

  def recording_step(inputs, targets, state, *rest):
    cost, new_state = step(inputs, targets, state, *rest)
    calls.append((state.numpy(), new_state.numpy()))
    return cost, new_state

  setattr(model, name, recording_step)
  batches = reader.ptb_producer(data.train[:400], 4, 5)
  for _ in range(2):  # two passes
    model.run_epoch(batches, 1.0 if training else None)
  assert len(calls) == 2 * len(batches)
  for index, (state_in, _) in enumerate(calls):
    if index % len(batches) == 0:
      assert not state_in.any()
    else:
      assert state_in.any()
      np.testing.assert_array_equal(state_in, calls[index - 1][1])


def test_resume_continues_from_the_saved_epoch(toy_corpus, tmp_path):
  data = reader.load_ptb(toy_corpus)
  save_path = str(tmp_path / "run")
  uninterrupted = unstopped_toy_run(TOY, 0)
  trainer.train_and_evaluate(TOY.override(max_max_epoch=2), data,
                             save_path=save_path, log=quiet)
  lines = []
  resumed = trainer.train_and_evaluate(TOY, data, save_path=save_path,
                                       log=lines.append)
  assert lines[0] == "Epoch: 3 Learning rate: %.3f" % TOY.learning_rate_at(3)
  assert resumed == pytest.approx(uninterrupted, rel=1e-4)
  assert os.path.isfile(os.path.join(save_path, "vocab.txt"))
  with open(os.path.join(save_path, "config.json")) as f:
    assert json.load(f)["max_max_epoch"] == 3
  assert any(name.startswith("events.out.tfevents")
             for name in os.listdir(save_path))


@pytest.mark.parametrize("epochs, trained", [(1, "1 epoch"), (3, "3 epochs")])
def test_a_finished_run_says_only_the_test_pass_is_left(epochs, trained):
  assert trainer.where_it_resumes("run", epochs, None, 100, epochs) == (
      "run has trained %s (of --max_max_epoch=%d): only the test pass is "
      "left" % (trained, epochs))


def summary_values(folder):
  """(step, summary value) of everything in `folder`'s TensorBoard event
  files."""
  for name in sorted(os.listdir(folder)):
    if name.startswith("events.out.tfevents"):
      for record in tf.data.TFRecordDataset(os.path.join(folder, name)):
        event = event_pb2.Event.FromString(record.numpy())
        for value in event.summary.value:
          yield event.step, value


def read_scalars(folder):
  """{tag: {step: value}} of the TensorBoard event files in `folder`."""
  scalars = {}
  for step, value in summary_values(folder):
    if value.tensor.dtype == tf.float32.as_datatype_enum:  # not the text
      scalars.setdefault(value.tag, {})[step] = float(
          tf.make_ndarray(value.tensor))
  return scalars


def test_summaries_every_200_steps_every_epoch_and_of_the_test(toy_corpus,
                                                               tmp_path):
  data = reader.load_ptb(toy_corpus)
  save_path = str(tmp_path / "run")
  # 119 batches an epoch: global steps 200 and 400 fall in epochs 2 and 4.
  _, _, test_perplexity = trainer.train_and_evaluate(
      TOY.override(max_max_epoch=4), data, save_path=save_path, log=quiet)
  scalars = read_scalars(save_path)
  assert scalars["Learning Rate"] == {200: 0.5, 400: 0.125}
  loss = scalars["Training Loss"]
  assert sorted(loss) == [200, 400]
  # The batch cost (5 steps summed) fell from ~5 log(9) towards the pattern's.
  assert loss[400] < loss[200] < 5 * math.log(9)
  assert scalars["valid_perplexity"].keys() == {1, 2, 3, 4}
  # The test pass's, at the last epoch.
  assert scalars["test_perplexity"] == {
      4: pytest.approx(test_perplexity, rel=1e-6)}  # stored as float32
  for name in ("train", "valid", "test"):  # each perplexity also as its loss
    perplexity = scalars[name + "_perplexity"]
    assert scalars[name + "_loss"] == pytest.approx(
        {epoch: math.log(value) for epoch, value in perplexity.items()},
        abs=1e-6)  # both stored as float32


def test_checkpoint_of_another_shape_is_a_clear_error(toy_corpus, tmp_path):
  data = reader.load_ptb(toy_corpus)
  save_path = str(tmp_path / "run")
  trainer.train_and_evaluate(TOY.override(max_max_epoch=1), data,
                             save_path=save_path, log=quiet)
  with pytest.raises(ValueError, match="hidden_size=16 but this model has "
                                       "hidden_size=8"):
    trainer.train_and_evaluate(TOY.override(hidden_size=8), data,
                               save_path=save_path, log=quiet)


def test_config_json_is_read_back(tmp_path):
  checkpoint_metadata.save_metadata(str(tmp_path), TOY, {"a": 0, "b": 1})
  assert checkpoint_metadata.load_config(str(tmp_path)) == TOY
  assert checkpoint_metadata.load_vocab(str(tmp_path)) == {"a": 0, "b": 1}


def test_only_a_folder_with_a_checkpoint_is_checked_before_training(
    tmp_path):
  # config.json is written before the first save: a run stopped before it
  # left no checkpoint, and another model may start in the folder afresh.
  checkpoint_metadata.save_metadata(str(tmp_path), TOY, {"a": 0, "b": 1})
  other = TOY.override(hidden_size=TOY.hidden_size + 1)
  checkpoint_metadata.check_resumable(str(tmp_path), other, {"a": 0, "b": 1})
  (tmp_path / checkpoint_metadata.INDEX_FILE).write_text("")
  with pytest.raises(ValueError, match="has hidden_size=%d but this model has "
                     "hidden_size=%d" % (TOY.hidden_size, other.hidden_size)):
    checkpoint_metadata.check_resumable(str(tmp_path), other,
                                        {"a": 0, "b": 1})
  # A corpus of one's own has as many words as PTB's (vocab_size passes):
  # only the words, or their ids, tell it from the checkpoint's.
  for other_vocab in ({"a": 0}, {"a": 0, "c": 1}, {"b": 0, "a": 1}):
    with pytest.raises(ValueError, match="trained on another vocabulary"):
      checkpoint_metadata.check_resumable(str(tmp_path), TOY, other_vocab)


@pytest.mark.parametrize("changes, refused", [
    ({"cell": "gru"}, "cell=lstm but this model has cell=gru"),
    ({"tie_embeddings": True}, "tie_embeddings=False but this model has "
                               "tie_embeddings=True"),
    ({"num_layers": 2}, "num_layers=1 but this model has num_layers=2"),
    ({"vocab_size": 10}, "vocab_size=9 but this model has vocab_size=10"),
    ({"max_max_epoch": 7, "learning_rate": 0.5, "keep_prob": 0.5,
      "batch_size": 3, "num_steps": 4, "lr_decay": 0.9}, None),
])
def test_a_checkpoint_resumes_only_with_its_weight_shapes(tmp_path, changes,
                                                          refused):
  checkpoint_metadata.save_metadata(str(tmp_path), TOY, {"a": 0, "b": 1})
  (tmp_path / checkpoint_metadata.INDEX_FILE).write_text("")
  outcome = (pytest.raises(ValueError, match="^the checkpoint in %s has %s; "
                           "use another --save_path or the checkpoint's "
                           "settings$" % (tmp_path, refused))
             if refused else contextlib.nullcontext())
  with outcome:
    checkpoint_metadata.check_resumable(str(tmp_path), TOY.override(**changes),
                                        {"a": 0, "b": 1})


def folder_contents(folder):
  return {name: open(os.path.join(folder, name), encoding="utf-8").read()
          for name in os.listdir(folder)}


def test_a_write_cut_short_keeps_the_previous_files(tmp_path, monkeypatch):
  checkpoint_metadata.save_metadata(str(tmp_path), TOY, {"a": 0, "b": 1})
  before = folder_contents(tmp_path)

  class CutShort:  # writes half of the text, then fails as a full disk does
    def __init__(self, *args, **kwargs):
      self.file = open(*args, **kwargs)  # pylint: disable=consider-using-with

    def __enter__(self):
      return self

    def __exit__(self, *exc_info):
      self.file.close()

    def write(self, text):
      self.file.write(text[:len(text) // 2])
      self.file.flush()
      raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

  monkeypatch.setattr(checkpoint_metadata, "open", CutShort, raising=False)
  with pytest.raises(ValueError, match="^the disk of %s is full" % tmp_path):
    checkpoint_metadata.save_metadata(
        str(tmp_path), TOY.override(hidden_size=32), {"a": 0, "b": 1, "c": 2})
  assert folder_contents(tmp_path) == before  # and no temporary file


def test_vocabulary_larger_than_the_config_is_a_clear_error(toy_corpus):
  data = reader.load_ptb(toy_corpus)
  with pytest.raises(ValueError, match="pass --vocab_size=9"):
    trainer.train_and_evaluate(TOY.override(vocab_size=5), data, log=quiet)


class StopAfter:
  """A stop_requested that turns true after `count` batches (of any pass:
  training, validation or test)."""

  def __init__(self, count):
    self.remaining = count

  def __call__(self):
    self.remaining -= 1
    return self.remaining <= 0


@pytest.mark.parametrize("where, batches_before, first_lines, trained", [
    # Two epochs, then 7 batches of the last: its train perplexity, which
    # the run returns, counts the 7 batches' saved costs.
    ("in epoch 3 at batch 7 of {train}", "2 * (train + valid) + 7",
     ["Epoch: 3 Learning rate: 0.250"], "2 * train + 7"),
    # In the middle of epoch 2's validation: its training is kept.
    ("while validating epoch 2", "2 * train + valid + 3",
     ["Epoch: 2 Learning rate: 0.500", "Epoch: 2 Train Perplexity: "],
     "2 * train"),
    ("in the test pass", "3 * (train + valid) + 1", ["Test Perplexity: "],
     "3 * train"),
])
def test_interrupted_run_resumes_to_the_same_result(
    toy_corpus, tmp_path, where, batches_before, first_lines, trained):
  data = reader.load_ptb(toy_corpus)
  config = TOY.override(keep_prob=0.5)  # dropout draws must resume too
  uninterrupted = unstopped_toy_run(config, 5)
  save_path = str(tmp_path / "run")
  sizes = {"train": len(reader.ptb_producer(data.train, 4, 5)),
           "valid": len(reader.ptb_producer(data.valid, 4, 5))}
  with pytest.raises(stopping.Interrupted) as stopped:
    trainer.train_and_evaluate(
        config, data, save_path=save_path, seed=5, log=quiet,
        stop_requested=StopAfter(eval(batches_before, {}, sizes)))
  assert stopped.value.where == where.format(**sizes)
  lines = []
  resumed = trainer.train_and_evaluate(config, data, save_path=save_path,
                                       seed=5, log=lines.append)
  for line, start in zip(lines, first_lines):
    assert line.startswith(start), lines
  # A run resumed after its last epoch only tests: no train/valid figures.
  expected = uninterrupted if resumed[0] else uninterrupted[2:]
  assert [p for p in resumed if p] == pytest.approx(expected, rel=1e-5)
  # Each stretch's Environment text is at the training step it started
  # from: 0, then the batches trained before the stop.
  assert sorted(step for step, value in summary_values(save_path)
                if value.tag == "Environment") == [0, eval(trained, {}, sizes)]


def stop_toy_run_after(batches, data, save_path):
  with pytest.raises(stopping.Interrupted):
    trainer.train_and_evaluate(TOY, data, save_path=str(save_path), log=quiet,
                               stop_requested=StopAfter(batches))


@pytest.mark.parametrize("changes", [{"batch_size": 2}, {"num_steps": 3}])
def test_a_run_stopped_mid_epoch_resumes_only_with_its_batch_shape(
    toy_corpus, tmp_path, changes):
  # Its saved LSTM state and place in the epoch belong to that shape.
  data = reader.load_ptb(toy_corpus)
  save_path = str(tmp_path / "run")
  stop_toy_run_after(3, data, save_path)
  with pytest.raises(ValueError) as error:
    trainer.train_and_evaluate(TOY.override(**changes), data,
                               save_path=save_path, log=quiet)
  assert str(error.value) == (
      "the run in %s stopped mid-epoch with batch_size=4, num_steps=5; "
      "resume it with the same values" % save_path)


def test_a_save_cut_short_by_a_kill_is_cleared_when_the_run_resumes(
    toy_corpus, tmp_path):
  data = reader.load_ptb(toy_corpus)
  save_path = tmp_path / "run"
  stop_toy_run_after(3, data, save_path)
  # What TensorFlow leaves when killed while writing a checkpoint.
  (save_path / "ckpt-7_temp").mkdir()
  (save_path / "ckpt-7_temp" / "part-00000-of-00001.data-00000-of-00001"
   ).write_bytes(b"half")
  # Neither a file of that name nor a folder of the user's is one.
  kept = ["ckpt-1.index", "ckpt-7_temp.txt", "samples"]
  (save_path / "ckpt-7_temp.txt").write_text("notes")
  (save_path / "samples").mkdir()
  stop_toy_run_after(1, data, save_path)
  names = os.listdir(save_path)
  assert "ckpt-7_temp" not in names and set(kept) <= set(names), names


def test_same_seed_same_run_other_seed_other_run(toy_corpus):
  data = reader.load_ptb(toy_corpus)
  config = TOY.override(max_max_epoch=1, keep_prob=0.5)
  first = trainer.train_and_evaluate(config, data, seed=1, log=quiet)
  again = trainer.train_and_evaluate(config, data, seed=1, log=quiet)
  other = trainer.train_and_evaluate(config, data, seed=2, log=quiet)
  assert first == again
  assert first != other
  # Not only the initial weights: the dropout masks are the seed's too.
  keys = [trainer.Trainer(config, seed=seed).dropout_keys()[0].numpy()
          for seed in (1, 1, 2)]
  np.testing.assert_array_equal(keys[0], keys[1])
  assert not np.array_equal(keys[0], keys[2])
