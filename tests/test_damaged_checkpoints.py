"""A damaged checkpoint folder is one clear error for both programs, never a
traceback and never a silent fresh start."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, patterned_lines, write_corpus
import configs
import lm
import reader
import trainer

CONFIG = configs.TEST.override(hidden_size=8, num_steps=5, batch_size=4,
                               vocab_size=9, max_max_epoch=2)
DATA = "ckpt-2.data-00000-of-00001"
NO_CHECKPOINT = re.escape(
    "checkpoint names no checkpoint whose files are there (it is damaged, or "
    "they were removed); put back a good copy, or remove the folder to start "
    "afresh")


def truncate(path, size):
  with open(path, "r+b") as f:
    f.truncate(size)


def overwrite(path, offset, data):
  with open(path, "r+b") as f:
    f.seek(offset)
    f.write(data)


# name: (how to damage the folder, what the error line says)
DAMAGE = {
    "truncated weights": (lambda d: truncate(d / DATA, 100),
                          "cannot restore .*ckpt-2, the checkpoint is damaged"),
    "empty weights": (lambda d: truncate(d / DATA, 0),
                      "cannot restore .*ckpt-2, the checkpoint is damaged"),
    "flipped bytes": (lambda d: overwrite(d / DATA, 1000, b"\xff" * 64),
                      "Checksum does not match"),
    "truncated index": (lambda d: truncate(d / "ckpt-2.index", 50),
                        "cannot restore .*ckpt-2, the checkpoint is damaged"),
    "missing weights": (lambda d: os.remove(d / DATA),
                        "ckpt-2.data-00000-of-00001; No such file"),
    "missing index": (lambda d: os.remove(d / "ckpt-2.index"), NO_CHECKPOINT),
    "garbled checkpoint list": (
        lambda d: (d / "checkpoint").write_bytes(b"\x00garbage{{"),
        NO_CHECKPOINT),
    "missing config.json": (lambda d: os.remove(d / "config.json"),
                            "config.json is missing"),
    "garbled config.json": (
        lambda d: (d / "config.json").write_text('{"hidden_size": 8, "num'),
        "config.json is unreadable: Unterminated string"),
    "config.json of wrong values": (
        lambda d: (d / "config.json").write_text('{"hidden_size": "big"}'),
        "config.json is unreadable: hidden_size must be a number"),
    "config.json not an object": (
        lambda d: (d / "config.json").write_text("[1, 2]"),
        "config.json is unreadable: .*must be a mapping"),
    "missing vocab.txt": (lambda d: os.remove(d / "vocab.txt"),
                          "cannot read the vocabulary [^:]*: No such file or "
                          "directory$"),
    "vocab.txt not text": (
        lambda d: (d / "vocab.txt").write_bytes(b"\xff\xfe\x00a\n"),
        "cannot read the vocabulary .*codec can't decode"),
    "vocab.txt with a word twice": (
        lambda d: (d / "vocab.txt").write_text("a\nb\na\n"),
        "vocab.txt is damaged: 'a' is on lines 1 and 3"),
    "empty vocab.txt": (lambda d: (d / "vocab.txt").write_text(""),
                        "vocab.txt is empty"),
    "vocab.txt with two words on a line": (
        lambda d: (d / "vocab.txt").write_text("a\nb c\n"),
        "vocab.txt is damaged: line 2 is not one word"),
    "config.json with a flag neither true nor false": (
        lambda d: (d / "config.json").write_text('{"tie_embeddings": "no"}'),
        "config.json is unreadable: tie_embeddings must be true or false, "
        "got 'no'"),
}


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
  root = tmp_path_factory.mktemp("saved")
  data_path = write_corpus(str(root / "data"), patterned_lines(100),
                           patterned_lines(30), patterned_lines(30))
  trainer.train_and_evaluate(CONFIG, reader.load_ptb(data_path),
                             save_path=str(root / "run"), log=lambda _: None)
  return root / "run", data_path


@pytest.fixture(params=sorted(DAMAGE))
def damaged(request, saved_run, tmp_path):
  """A copy of the saved run, damaged one way; yields (folder, data path,
  the expected message)."""
  damage, message = DAMAGE[request.param]
  folder = tmp_path / "run"
  shutil.copytree(saved_run[0], folder)
  damage(folder)
  return folder, saved_run[1], message


def test_resuming_training(damaged):
  folder, data_path, message = damaged
  with pytest.raises(ValueError, match=message):
    trainer.train_and_evaluate(CONFIG.override(max_max_epoch=3),
                               reader.load_ptb(data_path),
                               save_path=str(folder), log=lambda _: None)


@pytest.mark.parametrize("command", [
    ["predict", "a b"], ["generate"], ["score", "DATA/ptb.test.txt"],
    ["evaluate", "--data_path=DATA"], ["export", "OUT"]])
def test_every_lm_command(damaged, command, capsys):
  folder, data_path, message = damaged
  command = [arg.replace("DATA", data_path).replace(
      "OUT", str(folder.parent / "exported")) for arg in command]
  assert lm.main(command + ["--checkpoint=" + str(folder)]) == 1
  error = capsys.readouterr().err
  assert len(error.splitlines()) == 1, error
  assert error.startswith("error: ")
  assert re.search(message, error), error
  assert not (folder.parent / "exported").exists()


@pytest.mark.parametrize("program", ["ptb_word_lm.py", "lm.py"])
def test_the_programs_print_one_line(saved_run, tmp_path, program):
  """As users see it: one error line, no traceback, no TensorFlow warnings
  about half-restored values after it."""
  folder = tmp_path / "run"
  shutil.copytree(saved_run[0], folder)
  overwrite(folder / DATA, 1000, b"\xff" * 64)
  if program == "lm.py":
    args = ["predict", "a b", "--checkpoint=" + str(folder)]
  else:
    args = ["--data_path=" + saved_run[1], "--save_path=" + str(folder),
            "--model=test", "--vocab_size=9", "--hidden_size=8",
            "--num_steps=5", "--batch_size=4", "--max_max_epoch=3"]
  result = subprocess.run([sys.executable, os.path.join(ROOT, program), *args],
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 1
  assert "Traceback" not in result.stderr
  assert result.stderr.splitlines()[-1].startswith(
      "error: cannot restore %s" % (folder / "ckpt-2")), result.stderr
  assert result.stdout == ""


def test_a_config_json_of_other_weights_than_the_checkpoints(saved_run,
                                                            tmp_path, capsys):
  """config.json says two layers, the checkpoint holds one: the second
  layer's weights would be left at their random start, giving nonsense."""
  folder = tmp_path / "run"
  shutil.copytree(saved_run[0], folder)
  (folder / "config.json").write_text(
      json.dumps(CONFIG.override(num_layers=2).to_dict()))
  assert lm.main(["predict", "a b", "--checkpoint=" + str(folder)]) == 1
  error = capsys.readouterr().err
  assert error.startswith("error: cannot restore %s, the checkpoint is "
                          "damaged or of another model: " % (folder / "ckpt-2"))
  assert len(error.splitlines()) == 1, error


@pytest.mark.parametrize("message, gist", [
    ("{{function_node __wrapped__RestoreV2_dtypes_1_device_/job:localhost/"
     "replica:0/task:0/device:CPU:0}} Checksum does not match: stored "
     "2707224830 vs. calculated on the restored bytes 4135327416 "
     "[Op:RestoreV2]\nmore detail",
     "Checksum does not match: stored 2707224830 vs. calculated on the "
     "restored bytes 4135327416"),
    ("", "ValueError"),
])
def test_a_tensorflow_error_is_said_by_its_gist(message, gist):
  import checkpoints  # pylint: disable=g-import-not-at-top
  assert checkpoints.first_line(ValueError(message)) == gist
