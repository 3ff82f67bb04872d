"""Using a trained checkpoint: predict, generate, score, evaluate, export."""

import io
import json
import os
import re
import select
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, patterned_lines, write_corpus
from conftest import run_lm
from conftest import run_terminated_once_a_folder_is_made
import configs
from errors import InputError
import inference
import lm
from model import PTBModel
import reader
import trainer

CONFIG = configs.TEST.override(hidden_size=16, num_steps=5, batch_size=4,
                               max_max_epoch=3, max_epoch=2,
                               max_grad_norm=5.0, vocab_size=10)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A checkpoint of the toy language (a..h in cycles, some <unk>)."""
  root = tmp_path_factory.mktemp("trained")
  lines = patterned_lines(400)
  lines[::50] = ["a b <unk> d e"] * len(lines[::50])
  data_path = write_corpus(str(root / "data"), lines, patterned_lines(60),
                           patterned_lines(60))
  save_path = str(root / "run")
  _, _, test_perplexity = trainer.train_and_evaluate(
      CONFIG, reader.load_ptb(data_path), save_path=save_path,
      log=lambda _: None)
  return save_path, data_path, test_perplexity


def test_predict_follows_the_pattern(trained):
  model = inference.LanguageModel.load(trained[0])
  predictions = model.next_words("a b c".split(), k=5)
  assert [word for word, _ in predictions][0] == "d"
  probabilities = [p for _, p in predictions]
  assert probabilities[0] > 0.5
  assert probabilities == sorted(probabilities, reverse=True)
  assert sum(probabilities) <= 1.0 + 1e-6
  # An unknown word becomes <unk>, which the toy data has after "a b".
  assert model.ids(["a", "zebra"]) == model.ids(["a", "<unk>"])


def test_generation_is_repeatable_by_seed(trained):
  model = inference.LanguageModel.load(trained[0])
  first = model.generate(30, ["a"], seed=4)
  assert len(first) == 30
  assert model.generate(30, ["a"], seed=4) == first
  assert model.generate(30, ["a"], seed=5, temperature=3.0) != first
  # Top-1 sampling is greedy: the pattern continues after "a".
  assert model.generate(3, ["a"], top_k=1, seed=9) == ["b", "c", "d"]


@pytest.mark.parametrize("top_k, drawn", [
    (1, {2}), (2, {2, 0}), (3, {2, 0, 4}), (0, {0, 1, 2, 3, 4}),
    (9, {0, 1, 2, 3, 4})])  # 0, or more than there are: every word
def test_top_k_draws_among_the_k_likeliest(top_k, drawn):
  log_probs = np.log(np.array([0.25, 0.05, 0.4, 0.1, 0.2], np.float32))
  rng = np.random.default_rng(0)
  assert {inference.draw(log_probs, 1.0, top_k, rng)
          for _ in range(500)} == drawn


def test_temperature_shapes_the_samples(trained):
  model = inference.LanguageModel.load(trained[0])
  greedy = model.generate(30, ["a"], top_k=1)
  # The same seed at another temperature draws other words.
  assert model.generate(30, ["a"], seed=4, temperature=1.0) != model.generate(
      30, ["a"], seed=4, temperature=5.0)
  # A very low temperature leaves only the likeliest word, for any seed,
  # down to temperatures that overflow a division.
  for seed, temperature in enumerate([1e-3, 1e-300, 1e-310]):
    assert model.generate(30, ["a"], seed=seed,
                          temperature=temperature) == greedy
  # A very high one draws every word alike.
  words = model.generate(300, ["a"], seed=1, temperature=1e300)
  assert set(words) == set(model.id_to_word)


def test_the_library_refuses_what_the_command_line_does(tmp_path):
  """lm.py checks its arguments before the model loads; a program using
  LanguageModel directly gets the same refusals from the model itself. The
  model here (untrained) is of a corpus of one line, without a line end."""
  model = inference.LanguageModel(
      PTBModel(configs.TEST.override(vocab_size=3)), {"a": 0, "b": 1, "c": 2})
  (tmp_path / "taken").mkdir()  # empty: a rename would silently replace it
  with pytest.raises(InputError, match="taken already exists; export into"):
    model.export(str(tmp_path / "taken"))
  assert os.listdir(tmp_path) == ["taken"] and not os.listdir(
      tmp_path / "taken")
  for temperature in [0, 0.0, -1.0]:
    with pytest.raises(InputError, match="temperature must be positive"):
      model.generate(3, ["a"], temperature=temperature)
  with pytest.raises(InputError, match="no <eos> to start a sentence with"):
    model.generate(3)
  # A line end the vocabulary lacks is dropped, as the reader drops it.
  with pytest.raises(InputError, match="too short to score: it needs two"):
    model.score_lines([["a"]], "the text")
  assert model.score_lines([["a", "b"]], "the text")[1] == [
      (pytest.approx(np.log(1 / 3), abs=0.05), 1)]


def test_generated_text_streams_and_stops_when_its_reader_does(trained):
  """Words appear as they are drawn (so a long text can be read, or cut
  short by `head`, before it ends); a closed pipe ends the program quietly."""
  generating = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, "lm.py"), "generate",
       "--checkpoint=" + trained[0], "--prompt=a", "--top_k=1",
       "--num_words=%d" % 10**9], stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True)
  ready, _, _ = select.select([generating.stdout], [], [], 120)
  if not ready:
    generating.kill()
  assert ready, "no word within 120 s: the text is not printed as it comes"
  first_line = generating.stdout.readline()
  assert first_line.startswith("a b c") and first_line.endswith("\n")
  generating.stdout.close()
  assert generating.wait(timeout=120) == 141
  errors = generating.stderr.read()
  assert not re.search("^error:", errors, re.M) and "Traceback" not in errors
  assert "BrokenPipe" not in errors


def test_sigterm_during_an_export_leaves_nothing(trained, tmp_path):
  # The SavedModel is written aside, in a hidden folder, then renamed; the
  # TERM comes the moment that folder is made, inside the parent folder
  # made for it, which goes too.
  output = tmp_path / "out" / "model"
  exported = run_terminated_once_a_folder_is_made(
      output.parent / ".export-", "lm.py", "export",
      "--checkpoint=" + trained[0], str(output))
  assert exported.returncode == 143, exported.stderr
  assert exported.stderr.splitlines()[-1] == (
      "SIGTERM: stopped; nothing was exported")
  assert os.listdir(tmp_path) == []


def test_line_ends_print_as_line_breaks(capsys):
  lm.print_as_text(["<eos>", "a", "b", "<eos>", "<eos>", "c", "<eos>"])
  assert capsys.readouterr().out == "\na b\n\nc\n"
  lm.print_as_text(["a"])
  assert capsys.readouterr().out == "a\n"


def test_score_equals_the_training_test_perplexity(trained):
  save_path, data_path, test_perplexity = trained
  model = inference.LanguageModel.load(save_path)
  perplexity, per_line = model.score_file(
      os.path.join(data_path, "ptb.test.txt"))
  assert perplexity == pytest.approx(test_perplexity, rel=1e-5)
  # Every word and line end is scored once, but the very first word.
  assert sum(count for _, count in per_line) == 60 * 6 - 1
  total_log_prob = sum(log_prob for log_prob, _ in per_line)
  assert np.exp(-total_log_prob / (60 * 6 - 1)) == pytest.approx(perplexity,
                                                                  rel=1e-5)


@pytest.mark.parametrize("window", [1, 7, 359, 360])
def test_scores_do_not_depend_on_the_window(trained, monkeypatch, window):
  """Scoring goes a window of words at a time (memory stays small); the
  state carries over, so every window size gives the same numbers."""
  save_path, data_path, test_perplexity = trained
  monkeypatch.setattr(inference, "SCORE_WINDOW", window)
  model = inference.LanguageModel.load(save_path)
  perplexity, per_line = model.score_file(
      os.path.join(data_path, "ptb.test.txt"))
  assert perplexity == pytest.approx(test_perplexity, rel=1e-5)
  assert sum(count for _, count in per_line) == 60 * 6 - 1


def test_cli_uses(trained, tmp_path, capsys):
  """The commands as typed, run by lm.py's main in this process (lm.py as
  a process of its own: the export and streaming tests)."""
  save_path, data_path, test_perplexity = trained
  checkpoint = "--checkpoint=" + save_path

  def cli(*args):
    result = run_lm(capsys, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout

  lines = cli("predict", checkpoint, "a b c", "--top_k=3").splitlines()
  assert len(lines) == 3 and lines[0].split()[0] == "d"
  # A column of words 15 wide, then the probability to 4 places.
  assert all(re.fullmatch(r"\S{1,5} +0\.\d{4}", line) and len(line) == 22
             for line in lines), lines
  generated = cli("generate", checkpoint, "--num_words=12", "--top_k=1",
                  "--prompt=b c")
  # Greedy continuation of "b c" goes on with the pattern; 12 words of
  # 5-word lines hold at least one line end, printed as a line break.
  assert generated.startswith("b c d e")
  assert "\n" in generated.strip()
  assert "<eos>" not in generated
  assert cli("evaluate", checkpoint, "--data_path=" + data_path) == (
      "Test Perplexity: %.3f\n" % test_perplexity)
  text = tmp_path / "two.txt"
  text.write_text("a b c d e\nb c d e f\n")
  lines = cli("score", checkpoint, str(text), "--sentences").splitlines()
  assert lines[0].startswith("line 1: log-probability -")
  assert lines[0].endswith("over 5 words")  # b c d e <eos>
  assert lines[1].endswith("over 6 words")
  assert lines[2].startswith("Perplexity: ")


@pytest.mark.parametrize("unknown, named", [
    (10, ", ".join("z%d" % i for i in range(10))),  # all: "and 0 more" never
    (13, ", ".join("z%d" % i for i in range(10)) + " and 3 more")])
def test_the_unknown_words_note_names_ten(trained, capsys, unknown, named):
  prompt = " ".join("z%d" % i for i in range(unknown)) + " a"
  assert lm.main(["predict", prompt, "--checkpoint=" + trained[0]]) == 0
  assert capsys.readouterr().err == (
      "note: not in the model's vocabulary, read as <unk>: %s\n" % named)


def test_evaluate_names_the_test_words_the_model_lacks(trained, tmp_path,
                                                       capsys):
  save_path, data_path, _ = trained
  own = run_lm(capsys, "evaluate", "--checkpoint=" + save_path,
               "--data_path=" + data_path)
  assert (own.returncode, own.stderr) == (0, "")
  other = write_corpus(str(tmp_path / "other"), ["a b"], ["a b"],
                       ["a zebra b", "yak a"])
  evaluated = run_lm(capsys, "evaluate", "--checkpoint=" + save_path,
                     "--data_path=" + other)
  assert evaluated.returncode == 0, evaluated.stderr
  assert evaluated.stderr == ("note: not in the model's vocabulary, read as "
                              "<unk>: zebra, yak\n")
  assert evaluated.stdout.startswith("Test Perplexity: ")
  # Ten are named, each once, in order; the rest are counted.
  many = ["w%d" % n for n in range(13)]
  other = write_corpus(str(tmp_path / "many"), ["a b"], ["a b"],
                       [" ".join(["a"] + many + many)])
  evaluated = run_lm(capsys, "evaluate", "--checkpoint=" + save_path,
                     "--data_path=" + other)
  assert evaluated.stderr == ("note: not in the model's vocabulary, read as "
                              "<unk>: %s and 3 more\n" % ", ".join(many[:10]))


def test_free_text_reads_as_ptb_writes_it(trained, tmp_path, capsys):
  checkpoint = "--checkpoint=" + trained[0]

  def run(*args):
    assert lm.main(list(args) + [checkpoint]) == 0
    return capsys.readouterr()

  ptb = run("predict", "a b c")
  assert ptb.err == ""
  assert run("predict", "a", "b", "c") == ptb  # the prompt left unquoted
  # The folder by the name it was trained with.
  assert lm.main(["predict", "a b c", "--save_path", trained[0]]) == 0
  assert capsys.readouterr() == ptb
  assert run("predict", "A, B C") == ptb
  # A full stop ends the sentence, as <eos> does.
  assert run("predict", "D E. \u201cA, B C") == run("predict", "d e <eos> a b c")
  assert run("generate", "--prompt=\u201cB C", "--top_k=1").out.startswith(
      "b c d e")
  # A prompt of punctuation reads as none: a new sentence, and a note why.
  unprompted = run("generate", "--num_words=5")
  assert unprompted.err == ""
  assert run("generate", "--prompt= ?! ", "--num_words=5") == (
      unprompted.out, "note: the prompt has only punctuation, which the PTB "
      "files leave out: the text starts a new sentence\n")
  # The note names the words read as <unk>; predictions go on.
  unknown = run("predict", "a zebra")
  assert unknown.err == ("note: not in the model's vocabulary, read as "
                         "<unk>: zebra\n")
  assert unknown.out == run("predict", "a <unk>").out
  # --verbatim: the words as written, "A" unknown.
  verbatim = run("predict", "--verbatim", "b c A")
  assert verbatim.err.endswith(": A\n")
  assert verbatim.out == run("predict", "b c <unk>").out
  (tmp_path / "ptb.txt").write_text("a b c d e\nb c d e f\n")
  (tmp_path / "free.txt").write_text("A b c, d e.\n\"B c d e f!\"\n")
  scored = run("score", "--sentences", str(tmp_path / "ptb.txt"))
  assert run("score", "--sentences", str(tmp_path / "free.txt")) == scored
  assert run("score", "--verbatim", str(tmp_path / "free.txt")).err == (
      "note: not in the model's vocabulary, read as <unk>: A, c,, e., "
      "\"B, f!\"\n")


def test_score_reads_standard_input(trained, tmp_path, capsys, monkeypatch):
  checkpoint = "--checkpoint=" + trained[0]
  text = "a b c d e\nb c d e f\n"
  (tmp_path / "two.txt").write_text(text)
  assert lm.main(["score", "--sentences", str(tmp_path / "two.txt"),
                  checkpoint]) == 0
  from_file = capsys.readouterr().out
  monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(
      text.encode())))
  assert lm.main(["score", "--sentences", "-", checkpoint]) == 0
  assert capsys.readouterr().out == from_file
  # As Windows writes it: a byte-order mark, CR LF line ends.
  monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(
      b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())))
  assert lm.main(["score", "--sentences", "-", checkpoint]) == 0
  assert capsys.readouterr() == (from_file, "")
  # As Windows PowerShell 5 writes it: UTF-16 with a byte-order mark.
  monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(
      text.replace("\n", "\r\n").encode("utf-16"))))
  assert lm.main(["score", "--sentences", "-", checkpoint]) == 0
  assert capsys.readouterr() == (from_file, "")
  monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(
      b"zebra yak\n")))
  assert lm.main(["score", "-", checkpoint]) == 1
  assert capsys.readouterr().err == (
      "error: standard input has no word of the model's vocabulary\n")


def test_lines_without_words_are_not_scored(trained, tmp_path, capsys):
  checkpoint = "--checkpoint=" + trained[0]

  def score(text, *flags):
    (tmp_path / "text.txt").write_text(text)
    assert lm.main(["score", "--sentences", str(tmp_path / "text.txt"),
                    checkpoint] + list(flags)) == 0
    return capsys.readouterr().out

  two = score("a b c d e\nb c d e f\n").splitlines()
  # Paragraphs: a blank line, one of spaces, one of punctuation only.
  spaced = score("\na b c d e\n \n\n... --\nb c d e f\n\n")
  assert spaced.splitlines() == [two[0].replace("line 1", "line 2"),
                                 two[1].replace("line 2", "line 6"), two[2]]
  # --verbatim splits at spaces only: a line of a tab is no sentence either.
  verbatim = score("a b c d e\n\t\nb c d e f\n", "--verbatim")
  assert verbatim.splitlines() == [two[0], two[1].replace("line 2", "line 3"),
                                   two[2]]


EMPTY = "error: TEXT is empty: no words to score"
PUNCTUATION = ("error: TEXT has only punctuation, which the PTB files leave "
               "out: no words to score")
NOT_UTF8 = ("error: TEXT is not UTF-8 text: 'utf-8' codec can't decode byte "
            "0xff in position 0: invalid start byte")


@pytest.mark.parametrize("source, text, message", [
    ("file", None, "error: TEXT is missing"),
    ("file", b"", EMPTY), ("-", b"", EMPTY),
    ("file", b" \n\n\t\n", EMPTY), ("-", b" \n\n\t\n", EMPTY),
    ("file", b"...\n -- !\n", PUNCTUATION),
    ("-", "\u201c?\u201d\n".encode(), PUNCTUATION),  # typographic quotes
    ("file", b"\xff a b\n", NOT_UTF8), ("-", b"\xff a b\n", NOT_UTF8),
])
def test_a_text_that_cannot_be_scored_is_said_before_the_model_loads(
    trained, tmp_path, capsys, monkeypatch, source, text, message):
  monkeypatch.setitem(sys.modules, "inference", None)  # loading: ImportError
  if source == "-":
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    name = "standard input"
  else:
    source = name = str(tmp_path / "text.txt")
    if text is not None:
      (tmp_path / "text.txt").write_bytes(text)
  assert lm.main(["score", source, "--checkpoint=" + trained[0]]) == 1
  assert capsys.readouterr().err == message.replace("TEXT", name) + "\n"


@pytest.mark.parametrize("args, message", [
    (["predict", " . "], "error: the prompt has only punctuation, which the "
     "PTB files leave out: give at least one word"),
    (["predict", " ", "\t"],
     "error: the prompt is empty: give at least one word"),
    (["gates", "."], "error: the text has only punctuation, which the PTB "
     "files leave out: give at least one word"),
    (["gates", ""], "error: the text is empty: give at least one word"),
    (["gates", "a", "--save", "FILE/a.npz"],
     "error: cannot write FILE/a.npz: FILE is not a folder"),
    (["gates", "a", "--plot", "FILE/none/a.png"],
     "error: cannot write FILE/none/a.png: FILE/none is not a folder"),
    (["gates", "a", "--save", "DIR"], "error: cannot write DIR: it is a folder"),
    (["gates", "a", "--plot", "DIR"], "error: cannot write DIR: it is a folder"),
    (["neighbors", "$c"], "error: '$c' reads as 2 words ($ c): give one word"),
    (["evaluate", "--data_path=FILE"],
     "error: data path FILE is not a folder: give the folder that holds (or "
     "is to hold) ptb.train.txt, ptb.valid.txt, ptb.test.txt"),
    (["export", "FILE"],
     "error: FILE already exists; export into a new folder"),
])
def test_input_errors_are_said_before_the_model_loads(
    trained, tmp_path, capsys, monkeypatch, args, message):
  monkeypatch.setitem(sys.modules, "inference", None)  # loading: ImportError
  (tmp_path / "file").write_text("x")
  (tmp_path / "dir").mkdir()
  names = {"FILE": str(tmp_path / "file"), "DIR": str(tmp_path / "dir")}
  for placeholder, name in names.items():
    args = [arg.replace(placeholder, name) for arg in args]
    message = message.replace(placeholder, name)
  assert lm.main(args + ["--checkpoint=" + trained[0]]) == 1
  assert capsys.readouterr().err == message + "\n"


@pytest.mark.parametrize("with_matplotlib", [True, False])
def test_a_plot_that_cannot_be_drawn_is_said_before_the_model_loads(
    trained, tmp_path, capsys, monkeypatch, with_matplotlib):
  monkeypatch.setitem(sys.modules, "inference", None)  # loading: ImportError
  picture = str(tmp_path / "gates.nope")
  if with_matplotlib:
    pytest.importorskip("matplotlib")
    message = ("error: --plot %s: matplotlib cannot write .nope files; use "
               ".png, .pdf or .svg" % picture)
  else:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import: ImportError
    message = ("error: --plot needs matplotlib: pip install matplotlib (the "
               "table and --save do not)")
  assert lm.main(["gates", "a", "--plot", picture,
                  "--checkpoint=" + trained[0]]) == 1
  assert capsys.readouterr().err == message + "\n"
  assert os.listdir(tmp_path) == []


def test_a_test_file_without_words_is_said_before_the_model_loads(
    trained, tmp_path, capsys, monkeypatch):
  monkeypatch.setitem(sys.modules, "inference", None)  # loading: ImportError
  folder = write_corpus(str(tmp_path), ["a b"], ["a"], [])
  assert lm.main(["evaluate", "--data_path=" + folder,
                  "--checkpoint=" + trained[0]]) == 1
  assert capsys.readouterr().err == ("error: %s has no words (it is empty)\n"
                                     % (tmp_path / "ptb.test.txt"))


def test_exported_model_runs_without_this_project(trained, tmp_path):
  model = inference.LanguageModel.load(trained[0])
  exported = str(tmp_path / "models" / "exported")  # its folder made for it
  model.export(exported)
  ids = [[0, 3, 4, 5, 6, 7]]
  expected, _ = model.model(np.array(ids, np.int32), model.model.zero_state(1))
  # A fresh interpreter, away from the project: only TensorFlow.
  script = """
import json, sys
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
state = loaded.signatures["zero_state"](batch_size=tf.constant(1))["state"]
out = loaded.signatures["serving_default"](
    word_ids=tf.constant(%r, tf.int32), state=state)
vocab = open(loaded.vocab.asset_path.numpy().decode()).read().split()
print(json.dumps({"logits": out["logits"].numpy().tolist(), "vocab": vocab}))
""" % ids
  result = subprocess.run([sys.executable, "-c", script, exported],
                          capture_output=True, text=True, timeout=300,
                          cwd=str(tmp_path))
  assert result.returncode == 0, result.stderr
  output = json.loads(result.stdout.strip().splitlines()[-1])
  np.testing.assert_allclose(output["logits"], expected.numpy(), atol=1e-5)
  assert output["vocab"] == model.id_to_word
  # Nothing of the writing is left beside it.
  assert os.listdir(tmp_path / "models") == ["exported"]


@pytest.mark.parametrize("args, message", [
    (["predict", "a b"], "checkpoint folder .*missing.* does not exist"),
    (["predict", "", "CHECKPOINT"], "the prompt is empty"),
    (["predict", "zebra yak", "CHECKPOINT"], "the prompt has no word"),
    (["score", "UNKNOWN", "CHECKPOINT"], "has no word of the model"),
    (["export", "EXISTING", "CHECKPOINT"], "already exists"),
    (["export", "INSIDE_A_FILE", "CHECKPOINT"],
     "cannot export into .*/bad.txt/model: .*/bad.txt is a file, not a "
     "folder$"),
    (["export", "UNDER_A_FILE", "CHECKPOINT"],
     "cannot export into .*/bad.txt/sub/model: Not a directory$"),
])
def test_bad_input(trained, tmp_path, capsys, args, message):
  (tmp_path / "bad.txt").write_bytes(b"\xff\xfe a b\n")
  (tmp_path / "unknown.txt").write_text("zebra yak\nquux\n")
  (tmp_path / "existing").mkdir()
  replace = {"CHECKPOINT": "--checkpoint=" + trained[0],
             "UNKNOWN": str(tmp_path / "unknown.txt"),
             "EXISTING": str(tmp_path / "existing"),
             "INSIDE_A_FILE": str(tmp_path / "bad.txt" / "model"),
             "UNDER_A_FILE": str(tmp_path / "bad.txt" / "sub" / "model")}
  args = [replace.get(a, a) for a in args]
  if "--checkpoint=" + trained[0] not in args:
    args.append("--checkpoint=" + str(tmp_path / "missing"))
  assert lm.main(args) == 1
  error = capsys.readouterr().err.strip()
  assert len(error.splitlines()) == 1
  assert re.match("error: .*" + message, error), error


@pytest.mark.parametrize("args, message", [
    (["generate", "--temperature=nan"], "--temperature: must be a positive "
                                        "number, got nan"),
    (["generate", "--temperature=inf"], "--temperature: must be a positive"),
    (["generate", "--temperature=-1"], "--temperature: must be a positive"),
    (["generate", "--top_k=-2"], "--top_k: must be 0 or more, got -2"),
    (["generate", "--seed=-1"], "--seed: must be 0 or more, got -1"),
    (["generate", "--num_words=0"], "--num_words: must be 1 or more, got 0"),
    (["predict", "a", "--top_k=0"], "--top_k: must be 1 or more, got 0"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments_are_one_line(trained, capsys, args, message):
  with pytest.raises(SystemExit) as exited:
    lm.main(args + ["--checkpoint=" + trained[0]])
  assert exited.value.code == 2
  error = capsys.readouterr().err
  assert len(error.splitlines()) == 1, error
  assert error.startswith("error: argument ") and message in error, error


@pytest.mark.parametrize("args, unknown, help_command", [
    (["export", "--output", "x"], "--output", "lm.py export"),  # positional
    (["score", "--file", "x"], "--file", "lm.py score"),
    (["predict", "a", "--per_word", "--top=2"], "--per_word", "lm.py predict"),
    (["neighbours", "a", "--top_n=2"], "--top_n=2", "lm.py neighbors"),
    # before the command: the program's own flags, which are only --help
    (["--top_k=2", "predict", "a"], "--top_k=2", "lm.py"),
])
def test_an_unknown_flag_points_at_the_help_that_lists_its_place(
    trained, capsys, args, unknown, help_command):
  with pytest.raises(SystemExit) as exited:
    lm.main(args + ["--checkpoint=" + trained[0]])
  assert exited.value.code == 2
  assert capsys.readouterr().err == (
      "error: unrecognized arguments: %s (see %s --help)\n"
      % (unknown, help_command))


def test_outputs_beyond_the_vocabulary_are_never_chosen(tmp_path):
  """A model trained with vocab_size above the data's words has outputs
  with no word; predict and generate never pick them."""
  data_path = write_corpus(str(tmp_path / "data"), patterned_lines(100),
                           patterned_lines(30), patterned_lines(30))
  save_path = str(tmp_path / "run")
  trainer.train_and_evaluate(
      CONFIG.override(vocab_size=40, max_max_epoch=1),
      reader.load_ptb(data_path), save_path=save_path, log=lambda _: None)
  model = inference.LanguageModel.load(save_path)
  assert len(model.id_to_word) == 9
  assert len(model.next_words(["a"], k=20)) == 9
  words = model.generate(200, temperature=100.0, seed=1)
  assert set(words) <= set(model.id_to_word)


def test_equally_likely_words_come_in_vocabulary_order():
  """Ties (here every word, from a softmax of zeros) are listed in id
  order, the most frequent training word first, the same on every run."""
  model = PTBModel(CONFIG)
  model.softmax_w.assign(tf.zeros_like(model.softmax_w))
  model.softmax_b.assign(tf.zeros_like(model.softmax_b))
  words = ["<eos>", "the", "a", "b", "c", "d", "e", "f", "g", "h"]
  language_model = inference.LanguageModel(
      model, {word: i for i, word in enumerate(words)})
  assert language_model.next_words(["b"], k=4) == [
      (word, pytest.approx(0.1)) for word in words[:4]]


def test_help_gives_the_defaults(capsys):
  with pytest.raises(SystemExit) as exited:
    lm.main(["generate", "--help"])
  assert exited.value.code == 0
  text = " ".join(capsys.readouterr().out.split())
  for default in ["words to draw (default: 50)", "more varied (default: 1.0)",
                  "(0: all; default: 0)", "the same text (default: 0)"]:
    assert default in text


def test_foreign_checkpoint_folder(tmp_path, capsys):
  (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 16}))
  (tmp_path / "vocab.txt").write_text("a\nb\n")
  assert lm.main(["predict", "a", "--checkpoint=" + str(tmp_path)]) == 1
  assert capsys.readouterr().err == "error: %s holds no checkpoint\n" % tmp_path
