"""PTB text to integer ids, and ids to the reference's (x, y) batches.

Semantics follow the reference tutorial's reader.py exactly: newlines become
`<eos>`, the vocabulary comes from the training file only (most frequent
first, ties broken alphabetically), and batches are cut in order, unshuffled.
"""

import codecs
import collections
import os

import numpy as np

from errors import InputError
from errors import reason

TRAIN_FILE = "ptb.train.txt"
VALID_FILE = "ptb.valid.txt"
TEST_FILE = "ptb.test.txt"
PTB_FILES = (TRAIN_FILE, VALID_FILE, TEST_FILE)

EOS = "<eos>"
UNK = "<unk>"

PTBData = collections.namedtuple(
    "PTBData", ["train", "valid", "test", "word_to_id"])


def decode_text(data, name):
  """The text of the bytes `data` read from `name` (a file, standard
  input): UTF-8, or UTF-16 where a byte-order mark says so, with line ends
  read as open() reads them; bytes of neither are an InputError."""
  # UTF-16 with a byte-order mark is what Windows PowerShell 5 writes with
  # `>` and Out-File; a UTF-8 byte-order mark (Windows editors) is not a
  # character of the first word either.
  utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
  encoding = "utf-16" if utf16 else "utf-8-sig"
  try:
    text = data.decode(encoding)
  except UnicodeDecodeError as e:
    raise InputError("%s is not %s text: %s" % (
        name, "UTF-16" if utf16 else "UTF-8", e)) from None
  return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text(filename):
  """The text of a file, as decode_text reads it; a missing or undecodable
  file is an InputError."""
  try:
    with open(filename, "rb") as f:
      data = f.read()
  except FileNotFoundError:
    raise InputError("%s is missing" % filename) from None
  except OSError as e:
    raise InputError("cannot read %s: %s" % (filename, reason(e))) from None
  return decode_text(data, filename)


def read_words(filename):
  """The words of a file, with every line ending read as `<eos>`."""
  # The reference replaces "\n" with "<eos>" alone, which glues words
  # together in files whose lines do not end in a space; PTB's lines do, so
  # the spaces added here change nothing on PTB.
  return read_text(filename).replace("\n", " %s " % EOS).split()


def build_vocab(words):
  """Maps each of `words` (the training file's) to an id: most frequent
  first, ties by word."""
  counts = collections.Counter(words)
  ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
  return {word: index for index, (word, _) in enumerate(ordered)}


def words_to_ids(words, word_to_id):
  """The ids of `words`, dropping words outside the vocabulary (as the reference)."""
  return [word_to_id[word] for word in words if word in word_to_id]


def read_corpus_file(path):
  """The words of one of a corpus's three files (read_words). A file
  without a word is an InputError that says so: "too few ids for the batch
  shape" would send the user to shrink a batch that no shape can fill."""
  words = read_words(path)
  if set(words) <= {EOS}:
    raise InputError("%s has no words (%s)" % (
        path, "only empty lines" if words else "it is empty"))
  return words


def load_ptb(data_path):
  """Reads the three PTB files of `data_path` into a PTBData of id lists."""
  paths = [os.path.join(data_path, name) for name in PTB_FILES]
  words = [read_corpus_file(path) for path in paths]
  word_to_id = build_vocab(words[0])
  train, valid, test = (words_to_ids(w, word_to_id) for w in words)
  return PTBData(train, valid, test, word_to_id)


def unigram_perplexity(train_ids, ids):
  """The perplexity of `ids` for a model that only counts how often each
  word comes in `train_ids`: what a language model must beat to have
  learned anything from the words before (PTB's valid set: 687.0)."""
  # Every id is of a word of the training text, so every count is above 0.
  probabilities = np.bincount(train_ids)[ids] / len(train_ids)
  return float(np.exp(-np.mean(np.log(probabilities))))


def ptb_raw_data(data_path):
  """The reference's interface: (train_ids, valid_ids, test_ids, vocab_size)."""
  data = load_ptb(data_path)
  return data.train, data.valid, data.test, len(data.word_to_id)


def counted(count, source):
  """"1234", or "ptb.valid.txt's 1234" with the file the ids came from."""
  return "%s's %d" % (source, count) if source else "%d" % count


class EpochBatches:
  """One epoch of (x, y) int32 batches of shape [batch_size, num_steps].

  The id sequence is cut into `batch_size` rows of `batch_len` consecutive
  ids; batch i is the i-th window of `num_steps` columns, and y is x shifted
  one id to the right:

      ids:  a b c d e f g h i j k l m n o      batch_size=3, num_steps=2
      rows: a b c d e                          batch_len = 15 // 3 = 5
            f g h i j                          epoch_size = (5 - 1) // 2 = 2
            k l m n o
                 x0     y0      x1     y1
      row 0     a b    b c     c d    d e
      row 1     f g    g h     h i    i j
      row 2     k l    l m     m n    n o

  Row r continues in batch i+1 where it stopped in batch i, which is why the
  LSTM state is carried from one batch to the next.
  """

  def __init__(self, raw_data, batch_size, num_steps, source=None):
    """`source` names the ids' file in the error for too few of them."""
    if batch_size < 1 or num_steps < 1:
      raise InputError(
          "batch_size and num_steps must be positive, got batch_size=%d, "
          "num_steps=%d" % (batch_size, num_steps))
    ids = np.asarray(raw_data, dtype=np.int32)
    batch_len = len(ids) // batch_size
    self.batch_size = batch_size
    self.num_steps = num_steps
    self.epoch_size = (batch_len - 1) // num_steps
    if self.epoch_size <= 0:
      raise InputError(
          "epoch_size == 0: %s ids are too few for one batch of "
          "batch_size=%d and num_steps=%d; decrease batch_size or num_steps"
          % (counted(len(ids), source), batch_size, num_steps))
    self.rows = ids[:batch_size * batch_len].reshape(batch_size, batch_len)

  def __len__(self):
    return self.epoch_size

  def __iter__(self):
    for i in range(self.epoch_size):
      yield self.batch(i)

  def batch(self, i):
    start = i * self.num_steps
    x = self.rows[:, start:start + self.num_steps]
    y = self.rows[:, start + 1:start + self.num_steps + 1]
    return x, y


class ContinuousBatches:
  """The reference's batch_size=1, num_steps=1 pass, `window` steps at a time.

  Every id but the first is predicted once, in order, as with
  EpochBatches(raw_data, 1, 1); since the state carries over, longer windows
  give the same perplexity with far fewer steps. The last window is shorter.
  """

  batch_size = 1

  def __init__(self, raw_data, window, source=None):
    """`source` names the ids' file in the error for too few of them."""
    self.ids = np.asarray(raw_data, dtype=np.int32)
    if len(self.ids) < 2:
      raise InputError("%s ids are too few to predict any"
                       % counted(len(self.ids), source))
    self.window = window

  def __len__(self):
    return -(-(len(self.ids) - 1) // self.window)

  def __iter__(self):
    for i in range(len(self)):
      yield self.batch(i)

  def batch(self, i):
    start = i * self.window
    stop = min(start + self.window, len(self.ids) - 1)
    return self.ids[None, start:stop], self.ids[None, start + 1:stop + 1]


def ptb_producer(raw_data, batch_size, num_steps):
  """The reference's batching, as an iterable over one epoch of (x, y)."""
  return EpochBatches(raw_data, batch_size, num_steps)


# Test words predicted per evaluation step. The reference steps one word at a
# time; since the state carries over, windows give the same perplexity.
TEST_WINDOW = 500


def run_batches(data, config):
  """The batches of a run's training and validation epochs and of its test
  pass, for a configs.Config; an InputError if the data does not fit it."""
  if len(data.word_to_id) > config.vocab_size:
    raise InputError("the data has %d words but vocab_size is %d; pass "
                     "--vocab_size=%d" % (len(data.word_to_id),
                                          config.vocab_size,
                                          len(data.word_to_id)))
  return (EpochBatches(data.train, config.batch_size, config.num_steps,
                       TRAIN_FILE),
          EpochBatches(data.valid, config.batch_size, config.num_steps,
                       VALID_FILE),
          ContinuousBatches(data.test, TEST_WINDOW, TEST_FILE))
