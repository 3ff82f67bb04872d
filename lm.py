"""Uses a model trained by ptb_word_lm.py --save_path, without the training data.

    python lm.py predict  --checkpoint runs/small "the stock market"
    python lm.py generate --checkpoint runs/small --num_words 50 --seed 1
    python lm.py score    --checkpoint runs/small some_text.txt [--sentences]
    echo "the stock market fell" | python lm.py score --checkpoint runs/small -
    python lm.py evaluate --checkpoint runs/small [--data_path data]
    python lm.py export   --checkpoint runs/small exported_model
    python lm.py gates    --checkpoint runs/small "the company said its profit rose"
    python lm.py neighbors --checkpoint runs/small company

One program with subcommands (like git): the seven uses share the checkpoint
loading and error handling, and `python lm.py --help` lists them all.
"""

import argparse
import itertools
import math
import os
import sys

# TensorFlow's start-up chatter would bury the output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import checkpoint_metadata  # pylint: disable=g-import-not-at-top
import download
import folder_lock
import internals
from errors import exit_status_of
from errors import InputError
from ptb_words import ptb_lines
from ptb_words import ptb_words
import reader

# How many unknown words the note on stderr names.
MAX_NAMED_UNKNOWN = 10
# Said of a prompt or text that reads as no words though it is not blank.
ONLY_PUNCTUATION = "has only punctuation, which the PTB files leave out"


def positive_int(text):
  value = int(text)
  if value < 1:
    raise argparse.ArgumentTypeError("must be 1 or more, got %d" % value)
  return value


def non_negative_int(text):
  value = int(text)
  if value < 0:
    raise argparse.ArgumentTypeError("must be 0 or more, got %d" % value)
  return value


def positive_float(text):
  value = float(text)
  if not (math.isfinite(value) and value > 0):
    raise argparse.ArgumentTypeError("must be a positive number, got %s" % text)
  return value


class OneLineErrors(argparse.ArgumentParser):
  """An argument parser whose errors are one `error:` line, like the rest
  of the program's, rather than a usage block."""

  def error(self, message):
    self.exit(2, "error: %s (see %s --help)\n" % (message, self.prog))


def parse_args(argv):
  parser = OneLineErrors(
      prog="lm.py",  # also when run from another program, as the tests do
      description=__doc__.split("\n")[0],
      formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest="command", required=True)

  def command(name, help_text, aliases=()):
    sub = commands.add_parser(name, help=help_text, description=help_text,
                              aliases=aliases)
    sub.set_defaults(command=name)  # also when called by an alias
    # --save_path too: the name the folder had when it was trained.
    sub.add_argument("--checkpoint", "--save_path", dest="checkpoint",
                     required=True, type=os.path.expanduser,
                     help="folder written by ptb_word_lm.py --save_path")
    return sub

  def takes_text(sub):
    sub.add_argument("--verbatim", action="store_true",
                     help="take the words as written, split at spaces (by "
                          "default text is read as the PTB files write it: "
                          "lower case, numbers as N, \"it 's\", no commas)")

  predict = command("predict", "the k likeliest next words after a prompt")
  # Quoted or not: `predict the stock market` is the same prompt.
  predict.add_argument("prompt", nargs="+",
                       help="words, e.g. \"the stock market\"")
  predict.add_argument("--top_k", type=positive_int, default=5,
                       help="how many words to list (default: %(default)s)")
  takes_text(predict)

  generate = command("generate", "sample text, <eos> printed as a line break")
  generate.add_argument("--prompt", default="",
                        help="words to continue (default: a sentence start)")
  generate.add_argument("--num_words", type=positive_int, default=50,
                        help="words to draw (default: %(default)s)")
  generate.add_argument("--temperature", type=positive_float, default=1.0,
                        help="below 1 likelier words, above 1 more varied "
                             "(default: %(default)s)")
  generate.add_argument("--top_k", type=non_negative_int, default=0,
                        help="sample among the k likeliest words "
                             "(0: all; default: %(default)s)")
  generate.add_argument("--seed", type=non_negative_int, default=0,
                        help="the same seed draws the same text "
                             "(default: %(default)s)")
  takes_text(generate)

  score = command("score", "perplexity of a text file (one sentence a line)")
  score.add_argument("file", type=os.path.expanduser,
                     help="the text; - for standard input")
  score.add_argument("--sentences", action="store_true",
                     help="also print each line's log-probability")
  takes_text(score)

  evaluate = command("evaluate", "test perplexity of the checkpoint on PTB")
  evaluate.add_argument("--data_path", default=None, type=os.path.expanduser,
                        help="PTB folder (when missing, taken from "
                             "simple-examples.tgz in it, else downloaded); "
                             "default: data/ beside this script")
  evaluate.add_argument("--data_url", default=None,
                        help="simple-examples.tgz to download, a URL or "
                             "a path (default: Mikolov's site, then a copy "
                             "on GitHub)")

  export = command("export", "write a TensorFlow SavedModel for serving")
  export.add_argument("output", type=os.path.expanduser,
                      help="new folder for the SavedModel")

  gates = command("gates", "what every layer's gates, candidate, cell state "
                  "and output do on a text, word by word")
  gates.add_argument("text", nargs="+",
                     help="words, e.g. \"the company said its profit rose\"")
  gates.add_argument("--plot", type=os.path.expanduser,
                     help="also draw heatmaps (units by words) into this "
                          ".png, .pdf or .svg file; needs matplotlib")
  gates.add_argument("--save", type=os.path.expanduser,
                     help="also write every value into this .npz file "
                          "(arrays [words, units] named layer1/forget_gate, "
                          "...)")
  takes_text(gates)

  neighbors = command("neighbors", "the words nearest to a word in the "
                      "model's embedding (and softmax weight, if not tied)",
                      aliases=["neighbours"])
  neighbors.add_argument("word", help="one word, e.g. company (read as the "
                         "PTB files write it: Money is money, 1987 is N)")
  # --top_k as in predict and generate; --top, its first name, still works
  # as argparse takes any unambiguous abbreviation.
  neighbors.add_argument("--top_k", type=positive_int, default=10,
                         help="how many words (default: %(default)s)")
  takes_text(neighbors)
  argv = sys.argv[1:] if argv is None else argv
  args, unknown = parser.parse_known_args(argv)
  if unknown:  # said by whichever --help lists what that place takes
    named = next(i for i, arg in enumerate(argv) if arg in commands.choices)
    said_by = (parser if argv.index(unknown[0]) < named
               else commands.choices[args.command])
    said_by.error("unrecognized arguments: %s" % " ".join(unknown))
  return args


def name_of_text(path):
  return "standard input" if path == "-" else path


def read_text_to_score(path):
  """The text of a file, or of standard input for "-"; an InputError when
  it cannot be read."""
  if path == "-":
    return reader.decode_text(sys.stdin.buffer.read(), name_of_text(path))
  return reader.read_text(path)


def note_unknown_words(lm, words):
  """One line on stderr naming the words the model does not know."""
  unknown = lm.unknown_words(words)
  if unknown:
    fate = ("read as %s" % reader.UNK if reader.UNK in lm.word_to_id
            else "left out")
    more = len(unknown) - MAX_NAMED_UNKNOWN
    print("note: not in the model's vocabulary, %s: %s%s" % (
        fate, ", ".join(unknown[:MAX_NAMED_UNKNOWN]),
        " and %d more" % more if more > 0 else ""), file=sys.stderr)


def no_words(what, text, wanted):
  """The error for a `text` that reads as no words: it is blank, or all it
  has is punctuation, which the PTB files (and so the model) leave out."""
  if text.strip():
    return InputError("%s %s: %s" % (what, ONLY_PUNCTUATION, wanted))
  return InputError("%s is empty: %s" % (what, wanted))


def one_word(typed, words):
  """The one word a user's `typed` word reads as (`words`), said on stderr
  when it is not the word as typed; an InputError if it is not one word."""
  if words[1:] and words[-1] == reader.EOS:
    words = words[:-1]  # the sentence end of a full stop: "profit." is profit
  if len(words) != 1:
    raise InputError("%r reads as %s: give one word" % (
        typed, "no word" if not words else "%d words (%s)" % (
            len(words), " ".join(words))))
  if words[0] != typed:
    print("note: %s read as %s, as the PTB files write it" % (typed, words[0]),
          file=sys.stderr)
  return words[0]


def print_as_text(words):
  """Prints words as they come (a long text shows as it is drawn), with
  spaces between them and <eos> as a line break."""
  at_line_start = True
  for word in words:
    if word == reader.EOS:
      sys.stdout.write("\n")
    else:
      sys.stdout.write(word if at_line_start else " " + word)
    at_line_start = word == reader.EOS
    sys.stdout.flush()
  if not at_line_start:
    sys.stdout.write("\n")


def read_input(args, word_to_id):
  """What the command works on, read and checked before TensorFlow loads:
  the words of a prompt or text, the (line number, words) of each line with
  words of a text to score, the PTB test file and its words, or the one word
  of neighbors (None for export, whose folder is only checked)."""
  verbatim = getattr(args, "verbatim", False)

  def read(text):
    return text.split() if verbatim else ptb_words(text, word_to_id)

  if args.command == "predict":
    text = " ".join(args.prompt)
    prompt = read(text)
    if not prompt:
      raise no_words("the prompt", text, "give at least one word")
    return prompt
  if args.command == "generate":
    prompt = read(args.prompt)
    if args.prompt.strip() and not prompt:
      print("note: the prompt %s: the text starts a new sentence"
            % ONLY_PUNCTUATION, file=sys.stderr)
    return prompt
  if args.command == "score":
    text = read_text_to_score(args.file)
    lines = ([line.split() for line in text.splitlines()] if verbatim
             else ptb_lines(text, word_to_id))
    # A line without words (one between paragraphs) is no sentence: its
    # <eos> would charge the model for two in a row, which PTB never has.
    numbered = [(number, words) for number, words in enumerate(lines, 1)
                if words]
    if not numbered:
      raise no_words(name_of_text(args.file), text, "no words to score")
    return numbered
  if args.command == "evaluate":
    data_path = download.ensure_ptb_files(
        args.data_path or download.DEFAULT_DATA_PATH, args.data_url)
    test_file = os.path.join(data_path, reader.TEST_FILE)
    return test_file, reader.read_corpus_file(test_file)
  if args.command == "export":
    folder_lock.check_export_folder(args.output)
    return None
  if args.command == "gates":
    text = " ".join(args.text)
    words = read(text)
    if not words:
      raise no_words("the text", text, "give at least one word")
    for path in filter(None, (args.plot, args.save)):
      folder = os.path.dirname(os.path.abspath(path))
      if os.path.isdir(path):
        raise InputError("cannot write %s: it is a folder" % path)
      if not os.path.isdir(folder):
        raise InputError("cannot write %s: %s is not a folder" % (path,
                                                                  folder))
    if args.plot:
      internals.plotter(args.plot)
    return words
  return one_word(args.word, read(args.word))  # neighbors


def run(args):
  # What can be said before TensorFlow loads is: in a second, not after eight.
  _, word_to_id = checkpoint_metadata.load_for_use(args.checkpoint)
  given = read_input(args, word_to_id)
  import inference  # pylint: disable=g-import-not-at-top
  lm = inference.LanguageModel.load(args.checkpoint)

  if args.command == "predict":
    predictions = lm.next_words(given, args.top_k)
    note_unknown_words(lm, given)
    for word, probability in predictions:
      print("%-15s %.4f" % (word, probability))
  elif args.command == "generate":
    words = lm.sample_words(args.num_words, given, args.temperature,
                            args.top_k, args.seed)
    note_unknown_words(lm, given)
    print_as_text(itertools.chain(given, words))
  elif args.command == "score":
    numbers, lines = zip(*given)
    perplexity, per_line = lm.score_lines(lines, name_of_text(args.file))
    note_unknown_words(lm, [word for words in lines for word in words])
    if args.sentences:  # numbered as in the file, blank lines left out
      for number, (log_prob, count) in zip(numbers, per_line):
        print("line %d: log-probability %.3f over %d words" % (
            number, log_prob, count))
    print("Perplexity: %.3f" % perplexity)
  elif args.command == "evaluate":
    test_file, words = given
    perplexity, _ = lm.score_file(test_file)
    # None on PTB with a model trained on it; many: another corpus's model.
    note_unknown_words(lm, words)
    print("Test Perplexity: %.3f" % perplexity)
  elif args.command == "export":
    lm.export(args.output)
    print("SavedModel written to %s" % args.output)
  elif args.command == "gates":
    layers = lm.inside(given)
    note_unknown_words(lm, given)
    shown = [lm.id_to_word[i] for i in lm.ids(given)]  # <unk> as the model
    if args.plot:
      internals.plot(args.plot, shown, layers)
    if args.save:
      internals.save_npz(args.save, shown, layers)
    print("\n".join(internals.table(shown, layers)))
  elif args.command == "neighbors":
    for space, nearest in lm.neighbors(given, args.top_k).items():
      print("nearest to %s in the %s:" % (given, space))
      for word, similarity in nearest:
        print("  %-15s %.4f" % (word, similarity))
  return 0


def main(argv=None):
  return exit_status_of(run, parse_args(argv))


if __name__ == "__main__":
  sys.exit(main())
