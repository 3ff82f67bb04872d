"""The files beside a checkpoint that say what it is: `config.json` (the
Config it was trained with) and `vocab.txt` (one word a line, in id order).

They need no TensorFlow, so that a checkpoint of another model is said
before TensorFlow takes seconds to load.
"""

import contextlib
import json
import os

import configs
from errors import disk_full_said_as
from errors import InputError
from errors import os_errors_said_as
from errors import reason

RESUME_ADVICE = ("free some space, then run the same command to resume from "
                 "the last checkpoint")
CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.txt"
# TensorFlow's index of the checkpoints in a folder: there once a run saved.
INDEX_FILE = "checkpoint"
# Fields that decide which weights there are and their shapes; the others
# may change when a run is resumed (for example more epochs).
SHAPE_FIELDS = ("cell", "tie_embeddings", "num_layers", "hidden_size",
                "vocab_size")


def write_atomically(path, text):
  """Writes `text` to `path` through a temporary file, never half a file:
  a kill or a full disk mid-write leaves the previous file as it was, and
  no temporary file."""
  partial = path + ".partial"
  try:
    with open(partial, "w", encoding="utf-8") as f:
      f.write(text)
    os.replace(partial, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(partial)
    raise


def save_metadata(save_path, config, word_to_id):
  with os_errors_said_as("cannot save into %s" % save_path):
    os.makedirs(save_path, exist_ok=True)
  with disk_full_said_as(save_path, RESUME_ADVICE):
    write_atomically(os.path.join(save_path, CONFIG_FILE),
                     json.dumps(config.to_dict(), indent=2) + "\n")
    write_vocab(os.path.join(save_path, VOCAB_FILE),
                sorted(word_to_id, key=word_to_id.get))


def write_vocab(path, words):
  """Writes the vocabulary one word a line, in id order."""
  write_atomically(path, "".join(word + "\n" for word in words))


def load_config(save_path):
  """The Config a checkpoint folder was trained with."""
  path = os.path.join(save_path, CONFIG_FILE)
  try:
    with open(path, encoding="utf-8") as f:
      values = json.load(f)
    return configs.Config().override(**values)
  except FileNotFoundError:
    raise InputError("%s is not a checkpoint folder of this program: %s is "
                     "missing" % (save_path, CONFIG_FILE)) from None
  except (ValueError, TypeError) as e:
    raise InputError("%s is unreadable: %s" % (path, e)) from None


def load_vocab(save_path):
  """The word_to_id mapping saved beside a checkpoint."""
  path = os.path.join(save_path, VOCAB_FILE)
  try:
    with open(path, encoding="utf-8") as f:
      words = f.read().split("\n")[:-1]
  except (OSError, UnicodeDecodeError) as e:
    raise InputError("cannot read the vocabulary %s: %s"
                     % (path, reason(e))) from None
  word_to_id = {}
  for index, word in enumerate(words):
    if not word or word.split() != [word]:
      raise InputError("the vocabulary %s is damaged: line %d is not one "
                       "word" % (path, index + 1))
    if word in word_to_id:
      raise InputError("the vocabulary %s is damaged: %r is on lines %d and "
                       "%d" % (path, word, word_to_id[word] + 1, index + 1))
    word_to_id[word] = index
  if not word_to_id:
    raise InputError("the vocabulary %s is empty" % path)
  return word_to_id


def check_compatible(save_path, config, word_to_id):
  """The saved Config, if it has `config`'s weight shapes and the vocabulary."""
  saved = load_config(save_path)
  for field in SHAPE_FIELDS:
    if getattr(saved, field) != getattr(config, field):
      raise InputError(
          "the checkpoint in %s has %s=%s but this model has %s=%s; use "
          "another --save_path or the checkpoint's settings"
          % (save_path, field, getattr(saved, field), field,
             getattr(config, field)))
  if load_vocab(save_path) != word_to_id:
    raise InputError("the checkpoint in %s was trained on another "
                     "vocabulary than this data's" % save_path)
  return saved


def holds_checkpoint(folder):
  """Whether a run has saved a checkpoint into `folder`: TensorFlow's index
  of them is there (whether it is sound, only TensorFlow can tell)."""
  return os.path.exists(os.path.join(folder, INDEX_FILE))


def check_resumable(save_path, config, word_to_id):
  """If `save_path` holds a checkpoint, that `config` and the vocabulary can
  resume it (see check_compatible)."""
  if holds_checkpoint(save_path):
    check_compatible(save_path, config, word_to_id)


def load_for_use(checkpoint_dir):
  """The (Config, word_to_id) of a --save_path folder whose latest
  checkpoint is to be used; an InputError when the folder is not one."""
  if not os.path.isdir(checkpoint_dir):
    # TensorFlow's habit is to name one checkpoint ("run/ckpt-3") or a file
    # of it: the folder around it is what is meant.
    folder = os.path.dirname(os.path.normpath(checkpoint_dir)) or "."
    if os.path.isfile(os.path.join(folder, CONFIG_FILE)):
      raise InputError("%s is not a folder: give the checkpoint folder %s "
                       "(its latest checkpoint is used)"
                       % (checkpoint_dir, folder))
    if os.path.exists(checkpoint_dir):
      raise InputError("%s is a file, not a checkpoint folder"
                       % checkpoint_dir)
    raise InputError("checkpoint folder %s does not exist" % checkpoint_dir)
  config = load_config(checkpoint_dir)
  word_to_id = load_vocab(checkpoint_dir)
  if not holds_checkpoint(checkpoint_dir):
    raise InputError("%s holds no checkpoint" % checkpoint_dir)
  if len(word_to_id) > config.vocab_size:
    raise InputError("%s: vocab.txt has %d words but the model %d"
                     % (checkpoint_dir, len(word_to_id), config.vocab_size))
  return config, word_to_id
