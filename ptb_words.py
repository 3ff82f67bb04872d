"""Free text written the way Mikolov's PTB files write it, for lm.py.

The PTB files are lower case; every number is N (so is a percent sign:
"5 %" is "N N"); the Penn Treebank's clitics are words of their own ("it
's", "do n't", "investors '"); most punctuation is gone, but "$", "&" and
"#" stay; every sentence ends in <eos> (in the files, a line end). A user's
"The market's 5.5% rise, in $1,000 bills. It fell." therefore reads as "the
market 's N N rise in $ N bills <eos> it fell <eos>". A word that is in the
vocabulary as it stands is never changed, so PTB text, and a model trained
on text with other conventions, read exactly as before.
"""

import re

from reader import EOS

NUMBER = "N"
# The Treebank's clitics, split off a word's end ("can't" is "ca n't").
CLITICS = ("n't", "'s", "'re", "'ve", "'m", "'ll", "'d", "'")
# Dropped from either end of a word that is not in the vocabulary.
DROPPED_PUNCTUATION = ".,;:!?\"()[]{}`-"
# Dropped too, but a word they end is the end of a sentence.
SENTENCE_ENDS = ".!?"
SPLIT_PREFIXES = ("$", "#")
# Longer tokens are left as they are (PTB's longest word has 19 characters).
LONGEST_WORD = 100
# (".5" needs no case of its own: the full stop is peeled off first.)
NUMERIC = re.compile(r"[+-]?\d+([,.:/]\d+)*$")
# Typographic quotes, as word processors write them, to the PTB's plain ones.
PLAIN_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'",
                              "\u201c": '"', "\u201d": '"'})


def ptb_words(text, vocabulary):
  """The words of `text` as the PTB files would write them, given the
  model's vocabulary (a set or dict of words)."""
  words = []
  for token in text.translate(PLAIN_QUOTES).split():
    token_words, ends_sentence = _spell(token, vocabulary)
    words.extend(token_words)
    if ends_sentence and EOS in vocabulary and words and words[-1] != EOS:
      words.append(EOS)
  return words


def _spell(token, vocabulary):
  """The PTB words for one whitespace-separated token (maybe none), and
  whether the token ends a sentence.

  Peels one thing at a time off the token until what is left is a word of
  the vocabulary or nothing more can be peeled.
  """
  if len(token) > LONGEST_WORD:
    return [token], False  # no word of any vocabulary: one unknown word
  percent = NUMBER if NUMBER in vocabulary else "%"
  front, back = [], []  # words split off either end
  ends_sentence = False
  word = token
  while word and word not in vocabulary:
    lower = word.lower()
    clitic = next((c for c in CLITICS if c in vocabulary
                   and lower.endswith(c)), None)
    if lower in vocabulary:
      word = lower
    elif word[-1] in DROPPED_PUNCTUATION:
      # "it." ends a sentence, "..." or "-" alone does not.
      ends_sentence |= (word[-1] in SENTENCE_ENDS
                        and any(c.isalnum() for c in word))
      word = word[:-1]
    elif word[0] in DROPPED_PUNCTUATION:
      word = word[1:]
    elif word[0] == "'":
      # A quotation, 'so' or 'so, not a clitic ("''" closes one in PTB).
      word = word[1:-1] if word.endswith("'") else word[1:]
    elif NUMBER in vocabulary and (word == "%" or NUMERIC.match(word)):
      word = NUMBER
    elif len(word) > 1 and word.startswith(SPLIT_PREFIXES):
      front.append(word[0])
      word = word[1:]
    elif len(word) > 1 and word.endswith("%"):
      back.insert(0, percent)
      word = word[:-1]
    elif clitic:
      back.insert(0, clitic)
      word = word[:-len(clitic)]
    else:
      break
  return front + ([word] if word else []) + back, ends_sentence


def ptb_lines(text, vocabulary):
  """The words of each line of `text` (see ptb_words), where a line's end
  is a sentence end of its own, as in the PTB files: a full stop at the end
  of a line adds no second <eos>."""
  lines = [ptb_words(line, vocabulary) for line in text.splitlines()]
  return [words[:-1] if words[-1:] == [EOS] else words for words in lines]
