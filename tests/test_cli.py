"""ptb_word_lm.py as users run it: printed lines, exit codes, bad input."""

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT, patterned_lines, write_corpus
from conftest import run_lm
from conftest import run_script
from conftest import run_terminated_once_a_folder_is_made
from conftest import term_once_writing

TOY_FLAGS = ["--model=test", "--vocab_size=9", "--hidden_size=8",
             "--num_steps=5", "--batch_size=4", "--max_max_epoch=2"]


def run(*args, cwd=ROOT):
  return subprocess.run([sys.executable, os.path.join(ROOT, "ptb_word_lm.py"),
                         *args], capture_output=True, text=True, cwd=cwd,
                        timeout=300)


def test_prints_the_reference_lines(toy_corpus, tmp_path):
  # Checkpoints and summaries add nothing to standard output.
  result = run("--data_path=" + toy_corpus, *TOY_FLAGS,
               "--save_path=" + str(tmp_path / "run"), "--save_every_secs=0.01")
  assert result.returncode == 0, result.stderr
  assert "functional_saver" not in result.stderr  # no INFO line per save
  assert "note: training on" not in result.stderr  # one device: no note
  lines = result.stdout.splitlines()
  progress = re.compile(r"^\d\.\d{3} perplexity: \d+\.\d{3} speed: \d+ wps$")
  expected = []
  for epoch, rate in ((1, r"1\.000"), (2, r"0\.500")):
    # The test preset keeps the rate for max_epoch=1 epoch, then halves it.
    expected += [r"Epoch: %d Learning rate: %s" % (epoch, rate)]
    expected += [progress.pattern] * 10
    expected += [r"Epoch: %d Train Perplexity: \d+\.\d{3}" % epoch,
                 r"Epoch: %d Valid Perplexity: \d+\.\d{3}" % epoch]
  expected += [r"Test Perplexity: \d+\.\d{3}"]
  assert len(lines) == len(expected), result.stdout
  for line, pattern in zip(lines, expected):
    assert re.fullmatch(pattern.strip("^$"), line), line
  # The reference's rule, step % (epoch_size // 10) == 10: of the toy's 119
  # batches, after batches 10, 21, ..., 109.
  assert [line.split()[0] for line in lines[1:11]] == [
      "0.084", "0.176", "0.269", "0.361", "0.454", "0.546", "0.639", "0.731",
      "0.824", "0.916"]
  # Train perplexity fell from epoch 1 to epoch 2.
  train = [float(l.split()[-1]) for l in lines if "Train Perplexity" in l]
  assert train[1] < train[0]


def test_gru_and_tied_embeddings_from_the_command_line(toy_corpus, tmp_path):
  result = run("--data_path=" + toy_corpus, *TOY_FLAGS, "--cell=gru",
               "--tie_embeddings", "--save_path=" + str(tmp_path / "run"))
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines()[-1].startswith("Test Perplexity: ")
  saved = json.loads((tmp_path / "run" / "config.json").read_text())
  assert (saved["cell"], saved["tie_embeddings"]) == ("gru", True)


def test_short_epochs_print_without_crashing(tmp_path):
  folder = write_corpus(str(tmp_path), patterned_lines(6), patterned_lines(4),
                        patterned_lines(2))
  # 8 training batches: fewer than the reference's progress rule can take.
  result = run("--data_path=" + folder, "--model=test", "--vocab_size=9",
               "--batch_size=2")
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines()[-1].startswith("Test Perplexity: ")


def error_line(result):
  """The program's one error line (TensorFlow may log before it)."""
  assert result.returncode != 0
  assert "Traceback" not in result.stderr
  lines = result.stderr.strip().splitlines()
  ours = [l for l in lines if l.startswith("error: ")]
  assert len(ours) == 1, result.stderr
  return ours[0]


@pytest.mark.parametrize("args, message", [
    (["--model=tiny"], "^error: flag --model=tiny: value should be one of "
                       r"<small\|medium\|large\|test> \(see ptb_word_lm.py "
                       r"--help\)$"),
    (["--hidden_size=abc"], "--hidden_size=abc: invalid literal"),
    (["--keep_prob=1.5"], r"error: keep_prob must be in \(0, 1\], got 1.5"),
    (["--num_steps=0"], "error: num_steps must be positive, got 0"),
    (["--num_gpus=2", *TOY_FLAGS],
     "error: --num_gpus=2 but this machine has 0 GPU"),
    (["--save_every_secs=0"], "error: --save_every_secs must be a positive"),
    (["--save_every_secs=nan"], "error: --save_every_secs must be a positive"),
    (["--save_every_secs=inf"], "error: --save_every_secs must be a positive"),
    (["--learning_rate=nan"], "error: learning_rate must be a finite number"),
    (["--init_scale=inf"], "error: init_scale must be a finite number"),
    (["--max_grad_norm=-1"], "error: max_grad_norm must be positive"),
    (["--seed=-5"], r"--seed=-5: -5 is not an integer in the range "
                    r"\[0, 9223372036854775807\]"),
    (["--seed=%d" % 2**63], "is not an integer in the range"),
    (["--hidden_size=%d" % 10**20], "error: hidden_size must be at most "
                                     "2147483647, got 100000000000000000000"),
    (["extra"], "unexpected arguments: extra"),
    (["--cell=rnn"], "--cell=rnn: value should be one of <lstm|gru>"),
    (["--cell=gru", "--rnn_mode=block", *TOY_FLAGS],
     "error: --rnn_mode=block is an LSTM kernel; --cell=gru runs with "
     "--rnn_mode=basic"),
])
def test_bad_flags(toy_corpus, args, message):
  # Said before TensorFlow loads (seconds), which only --num_gpus needs: the
  # program runs with TensorFlow made unimportable, so loading it would
  # end in a traceback.
  needs_tensorflow = any(arg.startswith("--num_gpus") for arg in args)
  result = run_script("ptb_word_lm.py", "--data_path=" + toy_corpus, *args,
                      prelude="" if needs_tensorflow else WITHOUT_TENSORFLOW)
  line = error_line(result)
  assert re.search(message, line), line


WITHOUT_TENSORFLOW = """
import sys
sys.modules["tensorflow"] = None  # import tensorflow: ImportError
"""


def test_help_gives_each_presets_value():
  result = run("--help")  # absl's --help exits with status 1
  text = " ".join(result.stdout.split())  # as absl wrapped it, unwrapped
  assert ("--hidden_size: Override the preset's hidden_size (small 200, "
          "medium 650, large 1500, test 2).") in text
  assert ("--lr_decay: Override the preset's lr_decay (small 0.5, medium "
          "0.8, large 0.869565, test 0.5).") in text


@pytest.mark.parametrize("args, message", [
    (["--vocab_size=9", "--batch_size=2000"],
     "error: epoch_size == 0: ptb.train.txt's 2400 ids are too few for one "
     "batch of batch_size=2000 and num_steps=2; decrease batch_size or "
     "num_steps"),
    (["--vocab_size=9", "--batch_size=200"],  # enough training text
     "error: epoch_size == 0: ptb.valid.txt's 360 ids are too few for one "
     "batch of batch_size=200 and num_steps=2; decrease batch_size or "
     "num_steps"),
    (["--vocab_size=5"],
     "error: the data has 9 words but vocab_size is 5; pass --vocab_size=9"),
])
def test_data_that_does_not_fit_the_model(toy_corpus, args, message):
  # Said before TensorFlow loads: the program runs without it.
  result = run_script("ptb_word_lm.py", "--data_path=" + toy_corpus,
                      "--model=test", *args, prelude=WITHOUT_TENSORFLOW)
  assert error_line(result) == message


@pytest.mark.parametrize("text, message", [
    ("\n", "error: TEST has no words (only empty lines)"),
    # One word and no line end: a single id, nothing after it to predict.
    ("a", "error: ptb.test.txt's 1 ids are too few to predict any"),
])
def test_a_test_file_with_nothing_to_predict_is_said_before_training(
    toy_corpus, text, message):
  test_file = os.path.join(toy_corpus, "ptb.test.txt")
  with open(test_file, "w") as f:
    f.write(text)
  result = run_script("ptb_word_lm.py", "--data_path=" + toy_corpus,
                      "--model=test", "--vocab_size=9",
                      prelude=WITHOUT_TENSORFLOW)
  assert error_line(result) == message.replace("TEST", test_file)


def test_a_model_too_large_for_memory_is_one_line(toy_corpus):
  # The embedding alone would take 8 TB: its creation fails.
  line = error_line(run("--data_path=" + toy_corpus, "--model=test",
                        "--vocab_size=%d" % 10**9, "--hidden_size=2000"))
  assert line == ("error: out of memory (OOM when allocating tensor with "
                  "shape[1000000000,2000]): make --hidden_size, --vocab_size, "
                  "--batch_size or --num_steps smaller")


def test_a_step_too_large_for_memory_is_one_line(tmp_path):
  # The weights fit (160 MB each) but the compiled step asks for hundreds of
  # GiB; afterwards TensorFlow would abort while Python cleans up.
  lines = patterned_lines(1000)
  folder = write_corpus(str(tmp_path / "toy"), lines, lines, lines)
  result = run("--data_path=" + folder, "--model=test",
               "--vocab_size=%d" % (2 * 10**7), "--num_steps=200")
  line = error_line(result)
  assert re.fullmatch(r"error: out of memory \(trying to allocate "
                      r"[0-9.]+GiB\): make --hidden_size, --vocab_size, "
                      r"--batch_size or --num_steps smaller", line), line
  assert result.returncode == 1, result.stderr[-500:]


def test_data_path_that_is_a_file(tmp_path):
  (tmp_path / "ptb").write_text("x")
  line = error_line(run("--data_path=" + str(tmp_path / "ptb")))
  assert line == ("error: data path %s is not a folder: give the folder that "
                  "holds (or is to hold) ptb.train.txt, ptb.valid.txt, "
                  "ptb.test.txt" % (tmp_path / "ptb"))


def test_a_folder_that_cannot_be_made_is_one_line(toy_corpus, tmp_path):
  (tmp_path / "file").write_text("x")
  save_path = tmp_path / "file" / "run"
  # Said before TensorFlow loads: the program runs without it.
  line = error_line(run_script("ptb_word_lm.py", "--data_path=" + toy_corpus,
                               *TOY_FLAGS, "--save_path=" + str(save_path),
                               prelude=WITHOUT_TENSORFLOW))
  assert line == "error: cannot save into %s: Not a directory" % save_path


def test_download_failure_leaves_nothing(tmp_path):
  data_path = tmp_path / "data"
  line = error_line(run("--data_path=" + str(data_path),
                        "--data_url=http://127.0.0.1:9/simple-examples.tgz"))
  assert line.startswith("error: could not download http://127.0.0.1:9/")
  assert not data_path.exists()  # the folder it made is gone again


@pytest.mark.parametrize("folder_exists", [False, True])
def test_sigterm_during_the_download_leaves_nothing(tmp_path, folder_exists):
  """A scheduler's or `timeout`'s TERM while the archive comes in: the
  temporary download folder goes too (and the data folder, if it was made
  for the download)."""
  silent = socket.socket()  # accepts the connection, never answers
  silent.bind(("127.0.0.1", 0))
  silent.listen()
  data_path = tmp_path / "data"
  if folder_exists:
    data_path.mkdir()
  url = "http://127.0.0.1:%d/simple-examples.tgz" % silent.getsockname()[1]
  process = start(["--data_path=%s" % data_path, "--data_url=" + url])
  try:
    stderr = term_once_writing(process, data_path)
  finally:
    process.kill()
    silent.close()
  assert process.returncode == 143, stderr
  assert ("SIGTERM: stopped during the download; nothing was kept"
          in stderr.splitlines()), stderr
  assert "Traceback" not in stderr
  if folder_exists:
    assert os.listdir(data_path) == []
  else:
    assert not data_path.exists()


@pytest.mark.parametrize("folder_exists", [False, True])
def test_sigterm_the_moment_the_download_folder_is_made(tmp_path,
                                                        folder_exists):
  # A missing data folder is made with its missing parent: TERM comes as
  # the parent is made, and neither is left.
  data_path = tmp_path / "data" / "ptb"
  if folder_exists:
    data_path.mkdir(parents=True)
  result = run_terminated_once_a_folder_is_made(
      tmp_path, "ptb_word_lm.py", "--data_path=%s" % data_path,
      "--data_url=http://127.0.0.1:9/simple-examples.tgz")
  assert result.returncode == 143, result.stderr
  assert result.stderr.splitlines()[-1] == (
      "SIGTERM: stopped during the download; nothing was kept")
  if folder_exists:
    assert os.listdir(data_path) == []
  else:
    assert not data_path.parent.exists()


def test_mismatched_checkpoint(toy_corpus, tmp_path):
  save = "--save_path=" + str(tmp_path / "run")
  first = run("--data_path=" + toy_corpus, *TOY_FLAGS, save)
  assert first.returncode == 0, first.stderr
  # Said before TensorFlow loads: the program runs without it.
  line = error_line(run_script("ptb_word_lm.py", "--data_path=" + toy_corpus,
                               *TOY_FLAGS, "--hidden_size=4", save,
                               prelude=WITHOUT_TENSORFLOW))
  assert line.startswith("error: the checkpoint in %s has hidden_size=8 but "
                         "this model has hidden_size=4" % (tmp_path / "run"))


CHECKPOINT_FILES = {"config.json": "{}", "vocab.txt": "a\n",
                    "checkpoint": "", "ckpt-3.index": ""}


@pytest.mark.parametrize("files, given, message", [
    (None, "run", "error: checkpoint folder {run} does not exist"),
    ({"config.json": "{}", "vocab.txt": "a\n"}, "run",
     "error: {run} holds no checkpoint"),
    ({"config.json": '{"vocab_size": 2}', "vocab.txt": "a\nb\nc\n",
      "checkpoint": ""}, "run",
     "error: {run}: vocab.txt has 3 words but the model 2"),
    # One checkpoint named, as TensorFlow names them, or one of its files.
    (CHECKPOINT_FILES, "run/ckpt-3", "error: {run}/ckpt-3 is not a folder: "
     "give the checkpoint folder {run} (its latest checkpoint is used)"),
    (CHECKPOINT_FILES, "run/ckpt-3.index", "error: {run}/ckpt-3.index is not "
     "a folder: give the checkpoint folder {run} (its latest checkpoint is "
     "used)"),
    ({"notes.txt": ""}, "run/notes.txt",
     "error: {run}/notes.txt is a file, not a checkpoint folder"),
])
def test_lm_says_a_folder_that_is_not_a_checkpoint_at_once(tmp_path, files,
                                                           given, message):
  folder = tmp_path / "run"
  if files is not None:
    folder.mkdir()
    for name, text in files.items():
      (folder / name).write_text(text)
  # Said before TensorFlow loads: the program runs without it.
  result = run_script("lm.py", "predict", "a",
                      "--checkpoint=" + str(tmp_path / given),
                      prelude=WITHOUT_TENSORFLOW)
  assert error_line(result) == message.format(run=folder)


def test_a_tilde_after_equals_means_home(tmp_path, monkeypatch, capsys):
  """`--save_path=~/run`: the shell leaves that ~ alone; both programs read
  it as the home folder, not as a folder named "~"."""
  write_corpus(str(tmp_path / "toy"), patterned_lines(400),
               patterned_lines(60), patterned_lines(60))
  elsewhere = tmp_path / "elsewhere"
  elsewhere.mkdir()
  home = dict(os.environ, HOME=str(tmp_path))
  trained = subprocess.run(
      [sys.executable, os.path.join(ROOT, "ptb_word_lm.py"),
       "--data_path=~/toy", "--save_path=~/run", *TOY_FLAGS[:-1],
       "--max_max_epoch=1"],
      capture_output=True, text=True, cwd=elsewhere, env=home, timeout=300)
  assert trained.returncode == 0, trained.stderr
  assert os.path.isfile(tmp_path / "run" / "config.json")
  # lm.py's main in this process, as if started there.
  monkeypatch.setenv("HOME", str(tmp_path))
  monkeypatch.chdir(elsewhere)
  predicted = run_lm(capsys, "predict", "--checkpoint=~/run", "a b")
  assert predicted.returncode == 0, predicted.stderr
  assert len(predicted.stdout.splitlines()) == 5
  assert os.listdir(elsewhere) == []


def saved_training_flags(tmp_path, train_lines, epochs):
  """Flags of a toy training with --save_path on a corpus of `train_lines`
  training lines (3000 give 899 batches an epoch)."""
  folder = write_corpus(str(tmp_path / "data"), patterned_lines(train_lines),
                        patterned_lines(60), patterned_lines(60))
  return ["--data_path=" + folder, "--save_path=" + str(tmp_path / "run"),
          *TOY_FLAGS[:-1], "--max_max_epoch=%d" % epochs]


def start(flags):
  """Starts ptb_word_lm.py unbuffered, its output readable as it comes."""
  return subprocess.Popen(
      [sys.executable, "-u", os.path.join(ROOT, "ptb_word_lm.py"), *flags],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_saved_training(tmp_path, train_lines, epochs):
  """Starts a toy training with --save_path; returns the command line (to
  resume with) and the running process."""
  flags = saved_training_flags(tmp_path, train_lines, epochs)
  return flags, start(flags)


def test_ctrl_c_saves_and_the_same_command_resumes(tmp_path):
  flags, process = start_saved_training(tmp_path, 3000, epochs=1)
  first_line = process.stdout.readline()
  assert first_line == "Epoch: 1 Learning rate: 1.000\n"
  process.stdout.readline()  # the first progress line: training is under way
  process.send_signal(signal.SIGINT)
  stdout, stderr = process.communicate(timeout=120)
  assert process.returncode == 130, stderr
  assert "Traceback" not in stderr
  stopped = re.search(r"^SIGINT: stopped in epoch 1 at batch (\d+) of 899; "
                      r"saved to (.*): run the same command to resume$",
                      stderr, re.M)
  assert stopped, stderr
  assert "Test Perplexity" not in stdout
  resumed = run(*flags)
  assert resumed.returncode == 0, resumed.stderr
  assert "resuming %s in epoch 1 at batch %s of 899" % (
      stopped.group(2), stopped.group(1)) in resumed.stderr.splitlines()
  lines = resumed.stdout.splitlines()
  assert lines[0] == "Epoch: 1 Learning rate: 1.000"
  # It went on from the saved batch: the progress line of batch 10 is past.
  assert 0 < sum("perplexity: " in line for line in lines) < 10
  assert lines[-1].startswith("Test Perplexity: ")


def test_lines_reach_a_log_file_as_they_are_printed(tmp_path):
  """Into a file or pipe, Python holds output back in a buffer unless told
  not to (PYTHONUNBUFFERED, -u); the reference's lines must not wait."""
  # An epoch long enough (about a minute) that its few lines cannot fill
  # a buffer before the test's wait is over.
  flags = saved_training_flags(tmp_path, 200000, epochs=1)
  environment = {name: value for name, value in os.environ.items()
                 if name != "PYTHONUNBUFFERED"}
  process = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, "ptb_word_lm.py"), *flags],
      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
      env=environment)
  try:
    ready, _, _ = select.select([process.stdout], [], [], 40)
    assert ready, "no line within 40 s"
    assert process.stdout.readline() == "Epoch: 1 Learning rate: 1.000\n"
    assert process.poll() is None  # it came while training went on
  finally:
    process.kill()
    process.wait(timeout=60)
    process.stdout.close()


def test_save_path_that_is_a_file(toy_corpus, tmp_path):
  (tmp_path / "run").write_text("x")
  line = error_line(run_script(
      "ptb_word_lm.py", "--data_path=" + toy_corpus, *TOY_FLAGS,
      "--save_path=" + str(tmp_path / "run"), prelude=WITHOUT_TENSORFLOW))
  assert line == "error: save path %s is not a folder" % (tmp_path / "run")


def test_kill_9_loses_at_most_the_epoch_in_progress(tmp_path):
  flags, process = start_saved_training(tmp_path, 3000, epochs=3)
  for line in process.stdout:
    if line.startswith("Epoch: 2 Learning rate"):
      break
  process.stdout.readline()  # a progress line of epoch 2
  process.kill()
  process.wait(timeout=60)
  process.stderr.close()
  resumed = run(*flags)
  assert resumed.returncode == 0, resumed.stderr
  lines = resumed.stdout.splitlines()
  assert lines[0] == "Epoch: 2 Learning rate: 0.500"  # epoch 1 was kept
  assert lines[-1].startswith("Test Perplexity: ")
  assert "resuming %s after epoch 1 of 3" % (tmp_path / "run") in (
      resumed.stderr.splitlines())
  # The same command once more: nothing is left to train, the test pass
  # gives the same number.
  finished = run(*flags)
  assert finished.returncode == 0, finished.stderr
  assert finished.stdout.splitlines() == lines[-1:]
  assert ("%s has trained 3 epochs (of --max_max_epoch=3): only the test "
          "pass is left" % (tmp_path / "run")) in finished.stderr.splitlines()


def test_one_run_per_save_folder(tmp_path):
  flags, first = start_saved_training(tmp_path, 3000, epochs=1000)
  folder = tmp_path / "run"
  try:
    for line in first.stdout:  # epoch 1 is saved: there is a checkpoint
      if line.startswith("Epoch: 2 Learning rate"):
        break
    # (Fewer epochs, so that without the lock it ends soon, and fails.)
    # Both are told before TensorFlow loads: they run without it.
    second = run_script("ptb_word_lm.py", *flags[:-1], "--max_max_epoch=2",
                        prelude=WITHOUT_TENSORFLOW)
    assert error_line(second).startswith(
        "error: %s is in use by another run (process %d on " % (folder,
                                                               first.pid))
    assert "--save_path=%s" % folder in error_line(second)
    exported = run_script("lm.py", "export", "--checkpoint", str(folder),
                          str(folder / "exported"), prelude=WITHOUT_TENSORFLOW)
    assert error_line(exported).startswith(
        "error: %s is in use by another run (process %d " % (folder,
                                                            first.pid))
    assert not (folder / "exported").exists()
    assert first.poll() is None  # the first run went on
  finally:
    first.kill()  # as kill -9 or a power cut would: its lock file stays
    first.communicate(timeout=60)
  assert (folder / "run.lock").exists()
  # ... and does not block the next run, which resumes.
  resumed = run(*flags[:-1], "--max_max_epoch=1")
  assert resumed.returncode == 0, resumed.stderr
  assert resumed.stdout.startswith("Test Perplexity: ")
  assert not (folder / "run.lock").exists()


def final_perplexities(stdout):
  """The last Train, Valid and Test perplexities a run printed."""
  found = {}
  for line in stdout.splitlines():
    for name in ("Train", "Valid", "Test"):
      if "%s Perplexity: " % name in line:
        found[name] = float(line.split()[-1])
  return [found.get(name) for name in ("Train", "Valid", "Test")]


def test_sigterm_saves_and_the_resumed_run_matches_an_unstopped_one(tmp_path):
  # keep_prob < 1: the dropout draws must resume too.
  flags = saved_training_flags(tmp_path, 3000, epochs=2) + ["--keep_prob=0.5"]
  unstopped = run(*[f for f in flags if not f.startswith("--save_path")])
  assert unstopped.returncode == 0, unstopped.stderr
  process = start(flags)
  for line in process.stdout:
    if line.startswith("Epoch: 2 Learning rate"):
      break
  process.stdout.readline()  # a progress line of epoch 2
  process.send_signal(signal.SIGTERM)
  stdout, stderr = process.communicate(timeout=120)
  assert process.returncode == 143, stderr
  assert re.search(r"^SIGTERM: stopped in epoch 2 at batch \d+ of 899; "
                   r"saved to ", stderr, re.M), stderr
  assert "Test Perplexity" not in stdout
  resumed = run(*flags)
  assert resumed.returncode == 0, resumed.stderr
  assert resumed.stdout.startswith("Epoch: 2 Learning rate: 0.500\n")
  assert final_perplexities(resumed.stdout) == pytest.approx(
      final_perplexities(unstopped.stdout), rel=1e-4)


def test_periodic_saves_and_kills_during_saves(tmp_path):
  """With a save after every batch, most of the time goes into saving, so
  kill -9 at random moments lands in saves; each time the run must resume
  from a readable mid-epoch checkpoint."""
  flags = saved_training_flags(tmp_path, 3000, epochs=1)
  for delay in (0.3, 0.9, 0.05, 1.7):
    process = start(flags + ["--save_every_secs=1e-6"])
    assert process.stdout.readline() == "Epoch: 1 Learning rate: 1.000\n"
    process.stdout.readline()  # a progress line: training is under way
    time.sleep(delay)
    process.kill()
    process.communicate(timeout=60)
  # (Without a save after every batch, the rest of the epoch is quick.)
  resumed = run(*flags)
  assert resumed.returncode == 0, resumed.stderr
  lines = resumed.stdout.splitlines()
  assert lines[0] == "Epoch: 1 Learning rate: 1.000"
  # It went on from a mid-epoch save: some progress lines are behind it.
  assert sum("perplexity: " in line for line in lines) < 10
  assert lines[-1].startswith("Test Perplexity: ")
