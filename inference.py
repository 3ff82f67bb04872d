"""Using a trained checkpoint: next-word prediction, sampling, scoring, export.

Everything here needs only a checkpoint folder written by ptb_word_lm.py
--save_path (weights, config.json, vocab.txt), not the training data.
"""

import os
import shutil

import numpy as np
import tensorflow as tf

import checkpoint_metadata
import checkpoints
from errors import disk_full_said_as
from errors import InputError
from errors import size_text
from errors import os_errors_said_as
from errors import outermost_missing_folder
from errors import remove_empty_folders
from errors import removed_on_sigterm
from errors import unused_folder_name
import folder_lock
from model import PTBModel
import reader

# Words scored per model call; the state carries over, so the result does
# not depend on it.
SCORE_WINDOW = 500


class LanguageModel:
  """A trained PTBModel with its vocabulary."""

  def __init__(self, model, word_to_id):
    self.model = model
    self.word_to_id = word_to_id
    self.id_to_word = sorted(word_to_id, key=word_to_id.get)
    # No autograph: see Trainer (the model's loops are tf.while_loops).
    self._next = tf.function(self._next_fn, jit_compile=True, autograph=False)
    self._score = tf.function(self._score_fn, jit_compile=True,
                              autograph=False)
    self._inside = tf.function(model.inside, autograph=False)

  @classmethod
  def load(cls, checkpoint_dir):
    """Loads the latest checkpoint of a ptb_word_lm.py --save_path folder."""
    config, word_to_id = checkpoint_metadata.load_for_use(checkpoint_dir)
    latest = checkpoints.latest_checkpoint(checkpoint_dir)
    if latest is None:  # removed since
      raise InputError("%s holds no checkpoint" % checkpoint_dir)
    model = PTBModel(config)
    # Only the model: the training progress saved beside it is not needed.
    checkpoints.restore(tf.train.Checkpoint(model=model), latest)
    return cls(model, word_to_id)

  def _next_fn(self, inputs, state):
    """Log-probabilities [vocab] of the word after inputs [1, steps]."""
    logits, state = self.model(inputs, state)
    return tf.nn.log_softmax(logits[0, -1]), state

  def _score_fn(self, inputs, targets, state):
    """Log-probability [steps] of each target [1, steps] after its input."""
    logits, state = self.model(inputs, state)
    log_probs = tf.nn.log_softmax(logits[0])
    return tf.gather(log_probs, targets[0], batch_dims=1), state

  def unknown_words(self, words):
    """The words the vocabulary lacks, each once, in order of appearance."""
    return list(dict.fromkeys(w for w in words if w not in self.word_to_id))

  def ids(self, words):
    """Ids of `words`; a word outside the vocabulary becomes <unk> if the
    vocabulary has it, else is dropped (as the reader drops it)."""
    unk = self.word_to_id.get(reader.UNK)
    ids = [self.word_to_id.get(word, unk) for word in words]
    return [i for i in ids if i is not None]

  def known_ids(self, words, what):
    """ids(words), or an InputError when no word of `what` (other than line
    ends) is in the vocabulary."""
    if not any(word in self.word_to_id for word in words if word != reader.EOS):
      raise InputError("%s has no word of the model's vocabulary" % what)
    return self.ids(words)

  def _run(self, ids, state=None):
    """Log-probabilities [vocab] of the word after `ids`, and the new state."""
    if state is None:
      state = self.model.zero_state(1)
    for start in range(0, len(ids), SCORE_WINDOW):
      window = np.asarray([ids[start:start + SCORE_WINDOW]], np.int32)
      log_probs, state = self._next(window, state)
    # A model may have more outputs (vocab_size) than the vocabulary has
    # words; those ids are never predicted or sampled.
    return log_probs[:len(self.id_to_word)].numpy(), state

  def _target_log_probs(self, ids):
    """Log-probability of ids[i + 1] after ids[:i + 1], for every i.

    A window at a time, so that memory holds [SCORE_WINDOW, vocab]
    log-probabilities, not [len(ids), vocab] (3.3 GB for PTB's test set).
    """
    state = self.model.zero_state(1)
    log_probs = []
    for start in range(0, len(ids) - 1, SCORE_WINDOW):
      targets = ids[start + 1:start + 1 + SCORE_WINDOW]
      inputs = ids[start:start + len(targets)]
      window_log_probs, state = self._score(
          np.asarray([inputs], np.int32), np.asarray([targets], np.int32),
          state)
      log_probs.append(window_log_probs.numpy())
    return np.concatenate(log_probs)

  def next_words(self, prompt, k):
    """The k likeliest next words after the words of `prompt`, with their
    probabilities, likeliest first."""
    ids = self.known_ids(prompt, "the prompt")
    log_probs, _ = self._run(ids)
    best = np.argsort(-log_probs, kind="stable")[:k]
    return [(self.id_to_word[i], float(np.exp(log_probs[i]))) for i in best]

  def inside(self, words):
    """What each recurrent layer computes on `words` (from the zero state,
    as after a sentence start): per layer {part: [len(words), hidden]}, the
    parts of recurrent.LSTM_PARTS or GRU_PARTS."""
    ids = self.known_ids(words, "the text")
    state = self.model.zero_state(1)
    windows = []  # a window at a time, the state carried, as score does
    for start in range(0, len(ids), SCORE_WINDOW):
      window = np.asarray([ids[start:start + SCORE_WINDOW]], np.int32)
      _, state, layers = self._inside(window, state)
      windows.append(layers)
    return [{name: np.concatenate([w[layer][name][0].numpy()
                                   for w in windows])
             for name in part_names}
            for layer, part_names in enumerate(windows[0])]

  def neighbors(self, word, top):
    """The `top` words nearest to `word` by cosine similarity, as
    {"input embedding": [(word, similarity), ...], "softmax weight": ...}
    (the softmax weight only when it is not the embedding, tied); the word
    itself left out."""
    if word not in self.word_to_id:
      raise InputError("%r is not in the model's vocabulary" % word)
    vocab = len(self.id_to_word)
    spaces = {"input embedding": self.model.embedding.numpy()[:vocab]}
    if not self.model.config.tie_embeddings:
      spaces["softmax weight"] = self.model.softmax_w.numpy()[:, :vocab].T
    nearest = {}
    for name, vectors in spaces.items():
      lengths = np.linalg.norm(vectors, axis=1)
      query = vectors[self.word_to_id[word]]
      similarity = vectors @ query / np.maximum(
          lengths * np.linalg.norm(query), np.finfo(np.float32).tiny)
      similarity[self.word_to_id[word]] = -np.inf
      best = np.argsort(-similarity, kind="stable")[:top]
      best = best[np.isfinite(similarity[best])]  # not the word itself
      nearest[name] = [(self.id_to_word[i], float(similarity[i]))
                       for i in best]
    return nearest

  def generate(self, num_words, prompt=(), temperature=1.0, top_k=0, seed=0):
    """Samples `num_words` words following `prompt` (default: a sentence
    start). top_k > 0 samples among the k likeliest words only."""
    return list(self.sample_words(num_words, prompt, temperature, top_k, seed))

  def sample_words(self, num_words, prompt=(), temperature=1.0, top_k=0,
                   seed=0):
    """generate()'s words one at a time, as each is drawn (an iterator).
    Bad arguments raise here, before the first word."""
    if temperature <= 0:
      raise InputError("temperature must be positive, got %r" % temperature)
    if not prompt and reader.EOS not in self.word_to_id:
      raise InputError("the vocabulary has no %s to start a sentence with; "
                       "give a --prompt" % reader.EOS)
    context = (self.known_ids(prompt, "the prompt") if prompt
               else [self.word_to_id[reader.EOS]])
    return self._samples(num_words, context, temperature, top_k,
                         np.random.default_rng(seed))

  def _samples(self, num_words, context, temperature, top_k, rng):
    log_probs, state = self._run(context)
    for _ in range(num_words):
      next_id = draw(log_probs, temperature, top_k, rng)
      yield self.id_to_word[next_id]
      log_probs, state = self._run([next_id], state)

  def score_lines(self, words_per_line, what):
    """Scores text given as the words of each line, as the reference's test
    pass would.

    Returns (perplexity, per-line list of (log-probability, words scored)).
    Newlines count as <eos>; the first word has no context and is not
    scored, like the first test word in the reference.
    """
    words_per_line = [words + [reader.EOS] for words in words_per_line]
    ids = self.known_ids([w for words in words_per_line for w in words], what)
    if len(ids) < 2:
      raise InputError("%s is too short to score: it needs two words" % what)
    token_log_probs = self._target_log_probs(ids)
    perplexity = float(np.exp(-token_log_probs.astype(np.float64).mean()))
    per_line, position = [], -1  # position of the line's first id - 1
    for words in words_per_line:
      count = len(self.ids(words))
      scored = token_log_probs[max(position, 0):position + count]
      per_line.append((float(scored.sum()), len(scored)))
      position += count
    return perplexity, per_line

  def score_file(self, path):
    """Scores a file read as the reference reads PTB: words split at spaces."""
    lines = reader.read_text(path).splitlines()
    return self.score_lines([line.split() for line in lines], path)

  def export(self, output_dir):
    """Writes a SavedModel with a serving signature (see ServingModule)."""
    folder_lock.check_export_folder(output_dir)
    parent = os.path.dirname(os.path.abspath(output_dir))
    needs = checkpoints.size_in_bytes(self.model.variables)
    # Written aside and renamed, so a failure leaves no half SavedModel (nor
    # the parent folders made for it).
    made = outermost_missing_folder(parent)
    partial = unused_folder_name(parent, ".export-")
    try:
      with removed_on_sigterm(made or partial,
                              "SIGTERM: stopped; nothing was exported"), \
          disk_full_said_as(parent, "nothing was exported; free some space "
                            "and export again",
                            needs="the model needs %s" % size_text(needs),
                            clean_up=lambda: shutil.rmtree(partial, True)):
        with os_errors_said_as("cannot export into %s" % output_dir):
          os.makedirs(partial)  # and its parent, when missing
        vocab_path = os.path.join(partial, checkpoint_metadata.VOCAB_FILE)
        checkpoint_metadata.write_vocab(vocab_path, self.id_to_word)
        module = ServingModule(self.model, vocab_path)
        saved_dir = os.path.join(partial, "model")
        tf.saved_model.save(module, saved_dir, signatures={
            "serving_default": module.serve, "zero_state": module.zero_state})
        os.rename(saved_dir, output_dir)
    finally:
      shutil.rmtree(partial, ignore_errors=True)
      if made:
        remove_empty_folders(parent, made)


def draw(log_probs, temperature, top_k, rng):
  """The id of a word drawn from `log_probs` [vocab] sharpened (temperature
  below 1) or flattened (above 1); top_k > 0 draws among the k likeliest
  only (ties at the k-th all stay)."""
  # The likeliest word at 0 before dividing: no temperature, however small
  # or large, can give inf - inf; the others may go to -inf.
  with np.errstate(over="ignore"):
    logits = (log_probs.astype(np.float64) - log_probs.max()) / temperature
  if 0 < top_k < len(logits):
    cutoff = np.partition(logits, -top_k)[-top_k]
    logits = np.where(logits >= cutoff, logits, -np.inf)
  probs = np.exp(logits)
  return int(rng.choice(len(probs), p=probs / probs.sum()))


class ServingModule(tf.Module):
  """What the SavedModel holds: the weights, the vocabulary and two functions.

  serve(word_ids [batch, steps] int32, state [layers, parts, batch, hidden];
        parts: 2 (c, h) for an LSTM, 1 (h) for a GRU)
    -> {"logits": [batch, steps, vocab], "state": the state after the steps}
  zero_state(batch_size) -> {"state": the initial state}
  The vocabulary is the asset vocab.txt, one word a line in id order.
  """

  def __init__(self, model, vocab_path):
    super().__init__()
    self.model = model
    self.vocab = tf.saved_model.Asset(vocab_path)
    config = model.config
    state_spec = tf.TensorSpec(
        [config.num_layers, model.state_parts, None, config.hidden_size],
        tf.float32)
    self.serve = tf.function(
        self._serve, input_signature=[
            tf.TensorSpec([None, None], tf.int32, name="word_ids"),
            tf.TensorSpec.from_spec(state_spec, name="state")],
        autograph=False)
    self.zero_state = tf.function(
        self._zero_state,
        input_signature=[tf.TensorSpec([], tf.int32, name="batch_size")],
        autograph=False)

  def _serve(self, word_ids, state):
    logits, state = self.model(word_ids, state)
    return {"logits": logits, "state": state}

  def _zero_state(self, batch_size):
    return {"state": self.model.zero_state(batch_size)}
