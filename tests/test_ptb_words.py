"""Free text read the way the PTB files write it (ptb_words.py)."""

import os

import pytest

from ptb_words import ptb_lines
from ptb_words import ptb_words
import reader

# A few words as the PTB vocabulary has them.
VOCABULARY = {"the", "stock", "market", "it", "do", "ca", "wo", "investors",
              "rise", "in", "bills", "u.s.", "mr.", "smith", "hello",
              "quietly", "she", "said", "1980s", "30-year", "N", "$", "#",
              "&", "<unk>", "<eos>", "'s", "n't", "'", "'re", "'d", "'80s",
              "he", "no", "then", "left", "fell", "etc."}


@pytest.mark.parametrize("text, words", [
    ("The Stock MARKET", "the stock market"),
    ("It's", "it 's"),
    ("He'd", "he 'd"),
    ("don't can't won't", "do n't ca n't wo n't"),
    ("investors' rise", "investors ' rise"),
    ("The market's 5.5% rise, in $1,000 bills. It fell.",
     "the market 's N N rise in $ N bills <eos> it fell <eos>"),
    ("5 % 12 -3 .5 1/2 10:30", "N N N N N N N"),
    ("U.S., Mr. Smith.", "u.s. mr. smith <eos>"),
    ("He said: \"No!\" Then -- ... left?!", "he said no <eos> then left <eos>"),
    ("It fell? He left", "it fell <eos> he left"),
    ("in the U.S. Then etc. It fell.", "in the u.s. then etc. it fell <eos>"),
    ("\u201cHello,\u201d she said -- 'quietly' \u2018it\u2019s\u2019",
     "hello she said quietly it 's"),
    ("-- ... '' ( ) !", ""),
    ("'quietly he left", "quietly he left"),  # a quotation left open
    ("1980s 30-year '80s #3 AT&T &", "1980s 30-year '80s # N AT&T &"),
    ("Zebras ate", "Zebras ate"),
    ("zebra's", "zebra 's"),
    ("Antidisestablishmentarianism's.",
     "Antidisestablishmentarianism 's <eos>"),
    ("the <unk> <eos>", "the <unk> <eos>"),
    ("It fell <eos>.", "it fell <eos>"),  # a sentence ends once
])
def test_free_text_reads_as_ptb_writes_it(text, words):
  assert ptb_words(text, VOCABULARY) == words.split()


def test_a_line_end_is_the_sentence_end_of_its_line():
  assert ptb_lines("It fell.\n\nHe left. It fell\n...\n", VOCABULARY) == [
      ["it", "fell"], [], ["he", "left", "<eos>", "it", "fell"], []]


def test_a_word_of_the_vocabulary_is_never_changed():
  vocabulary = {"Apple", "it's", "5", "3.5%", "--"}
  assert ptb_words("Apple it's 5 3.5% -- N.", vocabulary) == [
      "Apple", "it's", "5", "3.5%", "--", "N"]


def test_conventions_the_vocabulary_lacks_are_not_applied():
  # No N, no clitics, no <eos>: numbers, contractions and full stops are
  # left as they are or dropped.
  vocabulary = {"the", "do"}
  assert ptb_words("The 5 % don't 7%. The", vocabulary) == [
      "the", "5", "%", "don't", "7", "%", "the"]


def test_a_huge_token_is_one_unknown_word():
  huge = "-" * 100000
  assert ptb_words(huge + " The $$5", VOCABULARY) == [huge, "the", "$", "$",
                                                       "N"]
  # Up to 100 characters a token is read as any other; beyond, as it is.
  assert ptb_words("x" * 99 + ".", VOCABULARY) == ["x" * 99, "<eos>"]
  assert ptb_words("x" * 100 + ".", VOCABULARY) == ["x" * 100 + "."]


def test_ptb_text_reads_unchanged(ptb_path):
  vocabulary = reader.build_vocab(
      reader.read_words(os.path.join(ptb_path, reader.TRAIN_FILE)))
  for name in reader.PTB_FILES:
    for line in reader.read_text(os.path.join(ptb_path, name)).splitlines():
      assert ptb_words(line, vocabulary) == line.split(), line
