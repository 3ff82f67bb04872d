"""scripts/check_digits.py: a log's first digits against a fresh run of the
working tree or of a commit (on a toy corpus here; test_golden.py runs it on
PTB)."""

import os
import subprocess
import sys

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "check_digits.py")
TOY_FLAGS = ["--model=test", "--vocab_size=9", "--hidden_size=8",
             "--num_steps=5", "--batch_size=4", "--max_max_epoch=1"]


def check(*args):
  return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True,
                        text=True, timeout=300, check=False)


def written_log(tmp_path, printed):
  """A log as logged_run.sh writes it, of a toy run that printed `printed`."""
  log = tmp_path / "toy.log"
  log.write_text(
      "=== start 2026-11-27 18:00:00 UTC commit abc1234 host vm 2 cores: "
      "python ptb_word_lm.py %s --data_path /elsewhere --save_path=/x/run\n"
      "=== on Python 3.11.7, ...\n%s" % (" ".join(TOY_FLAGS), printed))
  return log


def toy_log(tmp_path, toy_corpus):
  """The log of a real run on the toy corpus, and its first two progress
  lines."""
  run = subprocess.run(
      [sys.executable, os.path.join(ROOT, "ptb_word_lm.py"), *TOY_FLAGS,
       "--data_path", toy_corpus], capture_output=True, text=True,
      timeout=300, check=True)
  return written_log(tmp_path, run.stdout), run.stdout.splitlines()[1:3]


def test_the_same_digits_at_a_commit_and_a_difference_said(tmp_path,
                                                           toy_corpus):
  log, progress = toy_log(tmp_path, toy_corpus)
  same = check(str(log), "--data_path", toy_corpus, "--commit", "HEAD")
  assert same.returncode == 0, same.stderr
  assert same.stdout == "the same digits as %s: %s, %s\n" % (
      log, progress[0].split()[2], progress[1].split()[2])
  # One digit off in the second line: said, with by how much.
  fraction, _, perplexity = progress[1].split()[:3]
  altered = "%.3f" % (float(perplexity) + 0.001)
  log.write_text(log.read_text().replace(progress[1], progress[1].replace(
      perplexity, altered)))
  differs = check(str(log), "--data_path", toy_corpus)
  assert differs.returncode == 1, differs.stderr
  assert differs.stdout.startswith(
      "at %s of epoch 1: the log has %s, this run %s (relative difference "
      % (fraction, altered, perplexity))
  # The log's --save_path was not touched.
  assert not os.path.exists("/x/run")


def test_bad_input_is_one_line(tmp_path, toy_corpus):
  # Each is said before any run: the digits need not be a run's.
  log = written_log(tmp_path, "Epoch: 1 Learning rate: 1.000\n" + "".join(
      "%.3f perplexity: 9.%03d speed: 5000 wps\n" % (step / 119, step)
      for step in range(10, 119, 11)))
  no_command = tmp_path / "bare.log"
  no_command.write_text("Epoch: 1 Learning rate: 1.000\n")
  for args, message in [
      ([str(tmp_path / "missing.log"), "--data_path", toy_corpus],
       "error: cannot read %s: No such file or directory"
       % (tmp_path / "missing.log")),
      ([str(no_command), "--data_path", toy_corpus],
       "error: %s names no ptb_word_lm.py command" % no_command),
      ([str(log), "--data_path", toy_corpus, "--lines", "40"],
       "error: %s has 10 progress lines of epoch 1, fewer than --lines 40"
       % log),
      ([str(log), "--data_path", toy_corpus, "--commit", "no-such-commit"],
       "error: cannot check out no-such-commit: "),
      ([str(log), "--data_path", toy_corpus, "--lines", "0"],
       "error: --lines must be 1 or more, got 0"),
  ]:
    result = check(*args)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.startswith(message), result.stderr
