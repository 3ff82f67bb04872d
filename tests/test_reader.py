import numpy as np
import pytest

from conftest import write_corpus
import configs
import reader

EXAMPLE = [4, 3, 2, 1, 0, 5, 6, 1, 1, 1, 1, 0, 3, 4, 1]


def test_reference_example_batches():
  batches = list(reader.ptb_producer(EXAMPLE, batch_size=3, num_steps=2))
  assert len(batches) == 2
  (x0, y0), (x1, y1) = batches
  assert x0.tolist() == [[4, 3], [5, 6], [1, 0]]
  assert y0.tolist() == [[3, 2], [6, 1], [0, 3]]
  assert x1.tolist() == [[2, 1], [1, 1], [3, 4]]
  assert y1.tolist() == [[1, 0], [1, 1], [4, 1]]
  assert x0.dtype == np.int32 and y1.dtype == np.int32


def test_too_short_data_names_the_shape():
  with pytest.raises(ValueError, match=r"^epoch_size == 0: 15 ids are too "
                     r"few for one batch of batch_size=3 and num_steps=5; "
                     r"decrease batch_size or num_steps$"):
    reader.ptb_producer(EXAMPLE, batch_size=3, num_steps=5)


@pytest.mark.parametrize("batch_size, num_steps", [(0, 2), (3, 0), (-1, 2)])
def test_a_shape_that_is_not_positive_is_a_clear_error(batch_size, num_steps):
  # Not a division by zero, nor rows of a negative length.
  with pytest.raises(ValueError, match="^batch_size and num_steps must be "
                     "positive, got batch_size=%d, num_steps=%d$"
                     % (batch_size, num_steps)):
    reader.ptb_producer(EXAMPLE, batch_size, num_steps)


def test_vocabulary_order_and_ids(tmp_path):
  # First seen in the order c z a <eos> b: ties are broken by the word, not
  # by where it first appears.
  folder = write_corpus(str(tmp_path), ["c z a", "b c", "b"], ["a q b"],
                        ["c"])
  train, valid, test, vocab_size = reader.ptb_raw_data(folder)
  word_to_id = reader.load_ptb(folder).word_to_id
  # <eos> x3; b, c x2 (tie: b < c); a, z x1 (tie: a < z).
  assert word_to_id == {"<eos>": 0, "b": 1, "c": 2, "a": 3, "z": 4}
  assert vocab_size == 5
  assert train == [2, 4, 3, 0, 1, 2, 0, 1, 0]
  assert valid == [3, 1, 0]  # "q" is outside the vocabulary: dropped.
  assert test == [2, 0]


# EXAMPLE has 14 words to predict: windows that divide them leave no
# empty window at the end.
@pytest.mark.parametrize("window, lengths", [
    (4, [4, 4, 4, 2]), (7, [7, 7]), (14, [14]), (20, [14])])
def test_continuous_batches_predict_what_word_by_word_does(window, lengths):
  word_by_word = list(reader.ptb_producer(EXAMPLE, 1, 1))
  windows = list(reader.ContinuousBatches(EXAMPLE, window=window))
  assert [w[0].shape[1] for w in windows] == lengths
  joined_x = np.concatenate([x for x, _ in windows], axis=1)
  joined_y = np.concatenate([y for _, y in windows], axis=1)
  assert joined_x.tolist() == [[x[0, 0] for x, _ in word_by_word]]
  assert joined_y.tolist() == [[y[0, 0] for _, y in word_by_word]]


def test_a_test_set_of_one_word_has_nothing_to_predict():
  with pytest.raises(ValueError, match="^1 ids are too few to predict any$"):
    reader.ContinuousBatches([5], window=4)
  (x, y), = reader.ContinuousBatches([5, 6], window=4)
  assert (x.tolist(), y.tolist()) == ([[5]], [[6]])


def test_line_ends_are_words_of_their_own(tmp_path):
  # Lines without the PTB files' trailing space: the words stay apart.
  (tmp_path / "text.txt").write_text("a b\nc\n\nd")
  assert reader.read_words(str(tmp_path / "text.txt")) == [
      "a", "b", "<eos>", "c", "<eos>", "<eos>", "d"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16-le", "utf-16-be"])
def test_a_byte_order_mark_says_the_encoding_and_is_no_word(tmp_path,
                                                              encoding):
  # As Windows writes text: UTF-8 with a byte-order mark (editors), UTF-16
  # with one (PowerShell 5's `>`), CR LF line ends; and a lone CR ends a line.
  bom = {"utf-16-le": "\ufeff", "utf-16-be": "\ufeff"}.get(encoding, "")
  (tmp_path / "text.txt").write_bytes(
      (bom + "a b\r\nc\u00e9\r\nd\re\r\n").encode(encoding))
  assert reader.read_words(str(tmp_path / "text.txt")) == [
      "a", "b", "<eos>", "c\u00e9", "<eos>", "d", "<eos>", "e", "<eos>"]


@pytest.mark.parametrize("vocab_size, fits", [(5, True), (6, True),
                                              (4, False)])
def test_the_vocabulary_must_fit_the_model(tmp_path, vocab_size, fits):
  data = reader.load_ptb(write_corpus(str(tmp_path), ["c z a", "b c", "b"],
                                      ["a b"], ["c b"]))
  config = configs.get_config("test").override(vocab_size=vocab_size,
                                               batch_size=1, num_steps=2)
  if fits:
    train, _, test = reader.run_batches(data, config)
    assert (len(train), len(test)) == (4, 1)
  else:
    with pytest.raises(ValueError, match="^the data has 5 words but "
                       "vocab_size is 4; pass --vocab_size=5$"):
      reader.run_batches(data, config)


def test_non_utf8_file_is_a_clear_error(tmp_path):
  folder = write_corpus(str(tmp_path), ["a b"], ["a"], ["b"])
  with open(tmp_path / "ptb.valid.txt", "wb") as f:
    f.write(b"\xff bad \n")
  with pytest.raises(ValueError, match="ptb.valid.txt is not UTF-8 text: "
                     "'utf-8' codec can't decode byte 0xff in position 0"):
    reader.load_ptb(folder)
  # A UTF-16 byte-order mark before an odd number of bytes.
  with open(tmp_path / "ptb.valid.txt", "wb") as f:
    f.write(b"\xff\xfea\x00b")
  with pytest.raises(ValueError, match="ptb.valid.txt is not UTF-16 text: "
                     "'utf-16-le' codec can't decode byte 0x62 in position 4: "
                     "truncated data"):
    reader.load_ptb(folder)


@pytest.mark.parametrize("text, why", [
    ("", "it is empty"), (" \n\n \t\n", "only empty lines")])
@pytest.mark.parametrize("name", reader.PTB_FILES)
def test_a_file_without_words_is_a_clear_error(tmp_path, name, text, why):
  folder = write_corpus(str(tmp_path), ["a b"], ["a"], ["b"])
  (tmp_path / name).write_text(text)
  with pytest.raises(ValueError) as raised:
    reader.load_ptb(folder)
  assert str(raised.value) == "%s has no words (%s)" % (tmp_path / name, why)


def test_missing_file_is_a_clear_error(tmp_path):
  with pytest.raises(ValueError, match="ptb.train.txt is missing"):
    reader.load_ptb(str(tmp_path))


def test_a_folder_in_place_of_a_file_is_a_clear_error(tmp_path):
  with pytest.raises(ValueError) as raised:
    reader.read_text(str(tmp_path))
  assert str(raised.value) == "cannot read %s: Is a directory" % tmp_path


def test_real_ptb_statistics(ptb_path):
  data = reader.load_ptb(ptb_path)
  assert (len(data.train), len(data.valid), len(data.test)) == (
      929589, 73760, 82430)
  assert len(data.word_to_id) == 10000
  assert [data.word_to_id[w] for w in ("the", "<unk>", "<eos>")] == [0, 1, 2]
