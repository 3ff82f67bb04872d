"""A full disk, the fault a long run is most likely to meet: one line that
says so, nothing half-written left, the last checkpoint kept to resume from.
The disk is a small filesystem of its own (conftest.small_disk)."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, fill_disk, patterned_lines, remount_disk
from conftest import write_corpus
import checkpoint_metadata
import checkpoints
import configs
import inference
import supervisor
import trainer
import reader

ADVICE = ("free some space, then run the same command to resume from the "
          "last checkpoint")


def error_lines(stderr):
  return [line for line in stderr.splitlines() if line.startswith("error: ")]


def test_a_checkpoint_that_does_not_fit_stops_the_run_and_it_resumes(
    small_disk, tmp_path):
  data = write_corpus(str(tmp_path / "data"), patterned_lines(400),
                      patterned_lines(60), patterned_lines(60))
  folder = small_disk / "run"
  # 17.3 MB a checkpoint: the first fits into 30 MB, the second does not.
  command = [sys.executable, os.path.join(ROOT, "ptb_word_lm.py"),
             "--model=test", "--data_path=" + data, "--save_path=%s" % folder,
             "--hidden_size=200", "--vocab_size=10000", "--num_steps=5",
             "--batch_size=4", "--max_max_epoch=2"]
  full = subprocess.run(command, capture_output=True, text=True, timeout=300)
  assert full.returncode == 1, full.stderr
  assert "Traceback" not in full.stderr and "memory" not in full.stderr
  [line] = error_lines(full.stderr)
  assert re.fullmatch(r"error: the disk of %s is full \(a checkpoint needs "
                      r"17\.3 MB, \d+\.\d MB free\): %s"
                      % (re.escape(str(folder)), re.escape(ADVICE)), line)
  assert "Epoch: 2 Valid Perplexity" in full.stdout
  # The half-written save is gone; epoch 1's checkpoint is whole.
  assert not [name for name in os.listdir(folder) if "_temp" in name]
  assert checkpoints.latest_checkpoint(str(folder)).endswith("ckpt-1")
  remount_disk(small_disk, "size=80m")
  resumed = subprocess.run(command, capture_output=True, text=True,
                           timeout=300)
  assert resumed.returncode == 0, resumed.stderr
  assert "resuming %s after epoch 1 of 2" % folder in resumed.stderr
  assert resumed.stdout.startswith("Epoch: 2 Learning rate: ")
  assert "Test Perplexity: " in resumed.stdout


TOY = configs.TEST.override(hidden_size=16, num_steps=5, batch_size=4,
                            vocab_size=9, max_max_epoch=1)


def test_summaries_on_a_full_disk_are_one_line(small_disk):
  watch = supervisor.Supervisor(summary_folder=str(small_disk / "run"))
  fill_disk(small_disk)
  # The events file's last block takes a few writes before it is full.
  with pytest.raises(ValueError, match=r"^the disk of %s is full \(0 kB "
                     r"free\): %s$" % (re.escape(str(small_disk / "run")),
                                       re.escape(ADVICE))):
    for epoch in range(1, 1000):
      watch.write_summaries(epoch, train_perplexity=50.0)


def test_metadata_on_a_full_disk_keeps_the_files_it_had(small_disk):
  folder = str(small_disk / "run")
  checkpoint_metadata.save_metadata(folder, TOY, {"a": 0, "b": 1})
  before = {name: open(os.path.join(folder, name)).read()
            for name in os.listdir(folder)}
  fill_disk(small_disk)
  with pytest.raises(ValueError, match="^the disk of %s is full "
                     % re.escape(folder)):
    checkpoint_metadata.save_metadata(
        folder, TOY.override(hidden_size=32), {"a": 0, "b": 1, "c": 2})
  assert {name: open(os.path.join(folder, name)).read()
          for name in os.listdir(folder)} == before


def test_an_export_that_does_not_fit_leaves_nothing(small_disk, tmp_path,
                                                    toy_corpus):
  save_path = str(tmp_path / "run")
  trainer.train_and_evaluate(TOY, reader.load_ptb(toy_corpus),
                             save_path=save_path, log=lambda _: None)
  model = inference.LanguageModel.load(save_path)
  fill_disk(small_disk)
  os.remove(small_disk / "filler")
  with open(small_disk / "filler", "wb") as f:
    f.write(b"\0" * (30 * 2**20 - 64 * 1024))  # 64 KiB left
  output = small_disk / "new" / "exported"  # its parent made for it goes too
  with pytest.raises(ValueError, match=r"^the disk of %s is full \(the model "
                     r"needs \d+ kB, \d+ kB free\): nothing was exported"
                     % re.escape(str(output.parent))):
    model.export(str(output))
  assert os.listdir(small_disk) == ["filler"]
