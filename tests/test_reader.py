import numpy as np
import pytest

from conftest import write_corpus
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
  with pytest.raises(ValueError, match=r"batch_size=3 and num_steps=5"):
    reader.ptb_producer(EXAMPLE, batch_size=3, num_steps=5)


def test_vocabulary_order_and_ids(tmp_path):
  folder = write_corpus(str(tmp_path), ["b a c", "c b", "z"], ["a q b"],
                        ["c"])
  train, valid, test, vocab_size = reader.ptb_raw_data(folder)
  word_to_id = reader.load_ptb(folder).word_to_id
  # <eos> x3; b, c x2 (tie: b < c); a, z x1 (tie: a < z).
  assert word_to_id == {"<eos>": 0, "b": 1, "c": 2, "a": 3, "z": 4}
  assert vocab_size == 5
  assert train == [1, 3, 2, 0, 2, 1, 0, 4, 0]
  assert valid == [3, 1, 0]  # "q" is outside the vocabulary: dropped.
  assert test == [2, 0]


def test_continuous_batches_predict_what_word_by_word_does():
  word_by_word = list(reader.ptb_producer(EXAMPLE, 1, 1))
  windows = list(reader.ContinuousBatches(EXAMPLE, window=4))
  assert [w[0].shape[1] for w in windows] == [4, 4, 4, 2]
  joined_x = np.concatenate([x for x, _ in windows], axis=1)
  joined_y = np.concatenate([y for _, y in windows], axis=1)
  assert joined_x.tolist() == [[x[0, 0] for x, _ in word_by_word]]
  assert joined_y.tolist() == [[y[0, 0] for _, y in word_by_word]]


def test_non_utf8_file_is_a_clear_error(tmp_path):
  folder = write_corpus(str(tmp_path), ["a b"], ["a"], ["b"])
  with open(tmp_path / "ptb.valid.txt", "wb") as f:
    f.write(b"\xff\xfe bad \n")
  with pytest.raises(ValueError, match="ptb.valid.txt is not UTF-8"):
    reader.load_ptb(folder)


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
