"""lm.py gates and neighbors: what a trained model computes inside, checked
against NumPy from the checkpoint's own weights."""

import os
import stat
import sys

import numpy as np
import pytest

from conftest import ROOT, patterned_lines, run_lm, write_corpus
import configs
import inference
import internals
import reader
import recurrent
import trainer

TOY = configs.TEST.override(num_layers=2, hidden_size=6, num_steps=5,
                            batch_size=4, vocab_size=9, max_max_epoch=1)
VARIANTS = {"lstm": {}, "gru": {"cell": "gru"},
            "lstm-tied": {"tie_embeddings": True}}


@pytest.fixture(scope="module")
def checkpoints_of(tmp_path_factory):
  """A trained toy checkpoint folder per variant."""
  root = tmp_path_factory.mktemp("internals")
  data = reader.load_ptb(write_corpus(str(root / "data"), patterned_lines(200),
                                      patterned_lines(30), patterned_lines(30)))
  folders = {}
  for name, changes in VARIANTS.items():
    folders[name] = str(root / name)
    trainer.train_and_evaluate(TOY.override(**changes), data,
                               save_path=folders[name], log=lambda _: None)
  return folders


def sigmoid(x):
  return 1 / (1 + np.exp(-x))


def numpy_parts(model, ids):
  """Every layer's parts, word by word from the zero state, in NumPy from
  the model's weights (the reference's cells, written out again)."""
  hidden = model.config.hidden_size
  x_all = model.embedding.numpy()[ids]
  layers = []
  for layer in range(model.config.num_layers):
    parts = {}
    c = h = np.zeros(hidden, np.float32)
    for x in x_all:
      if model.config.cell == "lstm":
        pre = (np.concatenate([x, h]) @ model.lstm_kernels[layer].numpy()
               + model.lstm_biases[layer].numpy())
        i, j, f, o = np.split(pre, 4)
        i, j, f, o = sigmoid(i), np.tanh(j), sigmoid(f), sigmoid(o)
        c = c * f + i * j
        h = np.tanh(c) * o
        values = dict(input_gate=i, forget_gate=f, output_gate=o,
                      candidate=j, cell_state=c, output=h)
      else:
        r, u = np.split(sigmoid(
            np.concatenate([x, h]) @ model.gru_gate_kernels[layer].numpy()
            + model.gru_gate_biases[layer].numpy()), 2)
        candidate = np.tanh(
            np.concatenate([x, r * h])
            @ model.gru_candidate_kernels[layer].numpy()
            + model.gru_candidate_biases[layer].numpy())
        h = u * h + (1 - u) * candidate
        values = dict(reset_gate=r, update_gate=u, candidate=candidate,
                      output=h)
      for name, value in values.items():
        parts.setdefault(name, []).append(value)
    layers.append({name: np.stack(v) for name, v in parts.items()})
    x_all = layers[-1]["output"]
  return layers


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_parts_are_the_models_own(checkpoints_of, variant):
  lm = inference.LanguageModel.load(checkpoints_of[variant])
  words = "a b c d e f g h a <eos> c".split()
  layers = lm.inside(words)
  expected = numpy_parts(lm.model, lm.ids(words))
  parts = (recurrent.LSTM_PARTS if variant.startswith("lstm")
           else recurrent.GRU_PARTS)
  assert [list(layer) for layer in layers] == [list(parts)] * 2
  for layer, numpy_layer in zip(layers, expected):
    for name in parts:
      assert layer[name].shape == (len(words), TOY.hidden_size)
      np.testing.assert_allclose(layer[name], numpy_layer[name], atol=1e-5,
                                 err_msg=name)
  # The same forward pass as the model's call: the same logits and state.
  ids = np.asarray([lm.ids(words)], np.int32)
  logits, state, _ = lm.model.inside(ids, lm.model.zero_state(1))
  called_logits, called_state = lm.model(ids, lm.model.zero_state(1))
  np.testing.assert_array_equal(logits.numpy(), called_logits.numpy())
  np.testing.assert_array_equal(state.numpy(), called_state.numpy())


def test_the_parts_do_not_depend_on_the_window(checkpoints_of, monkeypatch):
  words = " <eos> ".join(patterned_lines(7)).split()  # 41 words
  whole = inference.LanguageModel.load(checkpoints_of["gru"]).inside(words)
  monkeypatch.setattr(inference, "SCORE_WINDOW", 4)  # the state carried over
  windowed = inference.LanguageModel.load(checkpoints_of["gru"]).inside(words)
  for layer, windowed_layer in zip(whole, windowed):
    for name, values in layer.items():
      assert values.shape == (41, TOY.hidden_size)
      np.testing.assert_allclose(windowed_layer[name], values, atol=1e-6)


def test_gates_table_and_saved_values(checkpoints_of, tmp_path, capsys):
  folder = checkpoints_of["lstm"]
  saved = tmp_path / "gates.npz"
  result = run_lm(capsys, "gates", "--checkpoint", folder, "a b zz c.",
                  "--save", str(saved))
  assert result.returncode == 0, result.stderr
  # (The toy vocabulary has no <unk>.)
  assert "note: not in the model's vocabulary, left out: zz" in result.stderr
  blocks = [block.splitlines() for block in result.stdout.split("\n\n")]
  words = ["a", "b", "c", "<eos>"]  # read as predict reads it
  assert [block[0] for block in blocks] == ["layer 1", "layer 2"]
  assert blocks[0][1].split() == ["input", "gate", "forget", "gate",
                                  "output", "gate", "cand", "cell", "h"]
  assert [line.split()[0] for line in blocks[1][3:]] == words
  values = np.load(saved)
  umask = os.umask(0)
  os.umask(umask)
  assert stat.S_IMODE(os.stat(saved).st_mode) == 0o666 & ~umask
  assert list(values["words"]) == words
  lm = inference.LanguageModel.load(folder)
  layers = lm.inside(words)
  for number, layer in enumerate(layers, 1):
    for name, expected in layer.items():
      np.testing.assert_allclose(values["layer%d/%s" % (number, name)],
                                 expected, atol=1e-6)
    # Row by row: the forget gate's mean and its shut and open shares.
    for row, forget in zip(blocks[number - 1][3:], layer["forget_gate"]):
      mean, shut, opened = row.split()[4:7]
      assert float(mean) == pytest.approx(forget.mean(), abs=0.006)
      assert shut == "%.0f%%" % (100 * (forget < 0.1).mean())
      assert opened == "%.0f%%" % (100 * (forget > 0.9).mean())
  gru = run_lm(capsys, "gates", "--checkpoint", checkpoints_of["gru"], "a",
               "b")
  assert gru.stdout.splitlines()[1].split() == ["reset", "gate", "update",
                                                "gate", "cand", "h"]


def test_a_file_written_aside_onto_a_folder_is_one_error_and_no_leftover(
    tmp_path):
  """The rename is what fails: the error names the file asked for, not
  the temporary one, which is removed."""
  (tmp_path / "taken").mkdir()
  with pytest.raises(ValueError, match="^cannot write %s: Is a directory$"
                     % (tmp_path / "taken")):
    with internals.written_aside(str(tmp_path / "taken")) as f:
      f.write(b"values")
  assert os.listdir(tmp_path) == ["taken"]


def test_gates_plot(checkpoints_of, tmp_path, capsys):
  picture = tmp_path / "gates.png"
  result = run_lm(capsys, "gates", "--checkpoint", checkpoints_of["lstm"],
                  "a b c", "--plot", str(picture))
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top,unused-import  # noqa
  except ImportError:
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --plot needs matplotlib: pip install matplotlib (the table "
        "and --save do not)")
    assert result.stdout == "" and not picture.exists()
  else:
    assert result.returncode == 0, result.stderr
    assert picture.read_bytes().startswith(b"\x89PNG")
  assert os.listdir(tmp_path) in ([], ["gates.png"])  # no partial file


def test_plot_colour_ranges(tmp_path):
  """Gates on their own 0..1 scale; other parts on a range symmetric about 0
  as wide as their largest magnitude, and -1..1 when all of it is zero (a
  range of width 0 would draw nothing)."""
  pyplot = pytest.importorskip("matplotlib.pyplot")
  layers = [{"input_gate": np.full((3, 2), 0.25),
             "cell": np.array([[0.5, -2.0], [1.0, 0.0], [0.0, 0.0]]),
             "h": np.zeros((3, 2))}]
  internals.plot(str(tmp_path / "parts.png"), ["a", "b", "c"], layers)
  limits = [axis.images[0].get_clim() for axis in pyplot.gcf().axes
            if axis.images]
  assert limits == [(0, 1), (-2.0, 2.0), (-1.0, 1.0)]
  pyplot.close("all")


def test_a_plot_named_without_an_extension_is_a_png(tmp_path):
  pytest.importorskip("matplotlib")
  assert internals.plotter(str(tmp_path / "gates"))[1] == "png"
  assert internals.plotter(str(tmp_path / "gates.SVG"))[1] == "svg"


def nearest_by_numpy(vectors, index, top):
  unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
  similarity = unit @ unit[index]
  order = [i for i in np.argsort(-similarity, kind="stable") if i != index]
  return order[:top], similarity


def test_neighbors(checkpoints_of, capsys):
  lm = inference.LanguageModel.load(checkpoints_of["lstm"])
  nearest = lm.neighbors("c", 3)
  assert list(nearest) == ["input embedding", "softmax weight"]
  for space, vectors in (("input embedding", lm.model.embedding.numpy()),
                         ("softmax weight", lm.model.softmax_w.numpy().T)):
    order, similarity = nearest_by_numpy(vectors, lm.word_to_id["c"], 3)
    assert [word for word, _ in nearest[space]] == [
        lm.id_to_word[i] for i in order]
    np.testing.assert_allclose([s for _, s in nearest[space]],
                               similarity[order], rtol=1e-5)
  # Every other word, never the word itself, however many are asked for.
  assert len(lm.neighbors("c", 100)["input embedding"]) == 8
  tied = inference.LanguageModel.load(checkpoints_of["lstm-tied"])
  assert list(tied.neighbors("c", 3)) == ["input embedding"]
  result = run_lm(capsys, "neighbors", "--checkpoint", checkpoints_of["lstm"],
                  "c", "--top_k", "2")
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert lines[0] == "nearest to c in the input embedding:"
  assert lines[3] == "nearest to c in the softmax weight:"
  word, similarity = lines[1].split()
  assert (word, float(similarity)) == (nearest["input embedding"][0][0],
                                       pytest.approx(nearest[
                                           "input embedding"][0][1], abs=1e-4))


def test_neighbours_spelled_the_british_way_is_the_same_command(
    checkpoints_of, capsys):
  american = run_lm(capsys, "neighbors", "--checkpoint",
                    checkpoints_of["lstm"], "c", "--top_k", "2")
  british = run_lm(capsys, "neighbours", "--checkpoint",
                   checkpoints_of["lstm"], "c", "--top_k", "2")
  assert british.returncode == 0, british.stderr
  assert (british.stdout, british.stderr) == (american.stdout, "")


def test_neighbors_reads_the_word_as_the_ptb_files_write_it(checkpoints_of,
                                                            capsys):
  asked = run_lm(capsys, "neighbors", "--checkpoint", checkpoints_of["lstm"],
                 "C.", "--top", "2")
  assert asked.returncode == 0, asked.stderr
  assert asked.stderr == "note: C. read as c, as the PTB files write it\n"
  as_written = run_lm(capsys, "neighbors", "--checkpoint",
                      checkpoints_of["lstm"], "c", "--top", "2")
  assert (as_written.stdout, as_written.stderr) == (asked.stdout, "")


def test_the_sentence_end_has_neighbours_too(checkpoints_of, capsys):
  asked = run_lm(capsys, "neighbors", "--checkpoint", checkpoints_of["lstm"],
                 "<eos>", "--top_k", "2")
  assert asked.returncode == 0, asked.stderr
  assert asked.stdout.startswith("nearest to <eos> in the input embedding:")
  assert asked.stderr == ""


@pytest.mark.parametrize("args, message", [
    (["gates", "."], "error: the text has only punctuation, which the PTB "
     "files leave out: give at least one word"),
    (["gates", "zz"], "error: the text has no word of the model's vocabulary"),
    (["neighbors", "zz"], "error: 'zz' is not in the model's vocabulary"),
    (["neighbors", "C", "--verbatim"],
     "error: 'C' is not in the model's vocabulary"),
    (["neighbors", "$c"], "error: '$c' reads as 2 words ($ c): give one word"),
    (["neighbors", "..."], "error: '...' reads as no word: give one word"),
    (["neighbors", "c. d"], "error: 'c. d' reads as 3 words (c <eos> d): "
     "give one word"),
    (["neighbors", "c d."], "error: 'c d.' reads as 2 words (c d): give "
     "one word"),
    (["gates", "a", "--plot", "x.nope"], None),
    (["neighbors", "a", "--checkpoint", "/no/such/run"],
     "error: checkpoint folder /no/such/run does not exist"),
])
def test_bad_input_is_one_line(checkpoints_of, args, message, capsys):
  # (A second --checkpoint overrides the first. An exception let through
  # would fail the test, as a traceback.)
  result = run_lm(capsys, args[0], "--checkpoint", checkpoints_of["lstm"],
                  *args[1:])
  assert result.returncode == 1, result.stderr
  errors = result.stderr.splitlines()
  assert len(errors) == 1 and errors[0].startswith("error:"), result.stderr
  if message:
    assert errors[0] == message


def test_table_shares_are_of_the_units():
  # Nearly shut is under 0.1, nearly open over 0.9: 0.1 and 0.9 themselves
  # are neither, nor are 0.15 and 0.85.
  gate = [0.05, 0.1, 0.15, 0.5, 0.5, 0.5, 0.85, 0.9, 0.95, 0.99]
  layer = {"forget_gate": np.array([gate, gate[::-1]]),
           "cell_state": np.array([[-2.0, 2.0, 1.0, -1.0]] * 2)}
  lines = internals.table(["w", "sentences"], [layer])
  assert lines[3].split() == ["w", "0.55", "10%", "20%", "1.500"]
  # The word column is as wide as the longest word: the columns line up.
  assert lines[2].startswith("word        mean")
  assert lines[4].startswith("sentences   0.55")
  assert len({len(line) for line in lines[1:]}) == 1, lines


def import_gate_statistics():
  sys.path.insert(0, os.path.join(ROOT, "scripts"))
  import gate_statistics  # pylint: disable=g-import-not-at-top
  return gate_statistics


def test_gate_statistics_by_place_in_the_sentence():
  gate_statistics = import_gate_statistics()
  words = ["a", "<eos>", "b", "c", "<eos>", "d"]
  forget = np.array([[0.5, 0.5], [0.05, 0.95], [0.2, 0.4], [0.6, 0.8],
                     [0.01, 0.03], [0.91, 0.99]])
  rows = gate_statistics.statistics(words, [{"forget_gate": forget,
                                             "cell_state": forget}])
  assert [row[:3] for row in rows] == [
      (1, "forget_gate", "<eos>"), (1, "forget_gate", "first word"),
      (1, "forget_gate", "other words")]
  # <eos>: steps 1 and 4; first words: 2 and 5; others: 0 and 3.
  expected = [(0.26, 0.75, 0.25, 2), (0.625, 0.0, 0.5, 2), (0.6, 0.0, 0.0, 2)]
  for row, (mean, shut, opened, steps) in zip(rows, expected):
    assert row[3:] == (pytest.approx(mean), shut, opened, steps)


def test_gate_statistics_reads_the_ptb_folder_inside_data_path(
    checkpoints_of, tmp_path, capsys, monkeypatch):
  monkeypatch.setitem(sys.modules, "inference", None)  # loading: ImportError
  unpacked = tmp_path / "data" / "ptb"
  unpacked.mkdir(parents=True)
  for name in ("ptb.train.txt", "ptb.valid.txt"):
    (unpacked / name).write_text("a b\n")
  (unpacked / "ptb.test.txt").write_text("")  # its error names where it looked
  assert import_gate_statistics().main(
      ["--checkpoint", checkpoints_of["lstm"],
       "--data_path", str(tmp_path / "data")]) == 1
  assert capsys.readouterr().err.splitlines()[-1] == (
      "error: %s has no words (it is empty)" % (unpacked / "ptb.test.txt"))


def test_a_write_that_fails_leaves_neither_the_file_nor_a_partial_one(
    tmp_path):
  path = tmp_path / "gates.npz"
  with pytest.raises(RuntimeError, match="cut short"):
    with internals.written_aside(str(path)) as f:
      f.write(b"half of it")
      raise RuntimeError("cut short")
  assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("args, message", [
    (["--checkpoint=NONE"], "error: checkpoint folder NONE does not exist"),
    (["--checkpoint=RUN", "--file=NONE"], "error: NONE is missing"),
    (["--checkpoint=RUN", "--file=EMPTY"],
     "error: EMPTY has no words (it is empty)"),
])
def test_gate_statistics_says_bad_input_before_the_model_loads(
    checkpoints_of, tmp_path, capsys, monkeypatch, args, message):
  monkeypatch.setitem(sys.modules, "inference", None)  # loading: ImportError
  (tmp_path / "empty.txt").write_text("")
  paths = {"NONE": str(tmp_path / "none"), "RUN": checkpoints_of["lstm"],
           "EMPTY": str(tmp_path / "empty.txt")}
  for name, path in paths.items():
    args = [arg.replace(name, path) for arg in args]
    message = message.replace(name, path)
  assert import_gate_statistics().main(args) == 1
  assert capsys.readouterr().err == message + "\n"
