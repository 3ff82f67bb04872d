"""Replicated training (tf.distribute) computes what one device computes."""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT
from conftest import unstopped_toy_run
import configs
import distribute
from errors import InputError
import reader
import stopping
from test_training import StopAfter
import trainer

CONFIG = configs.TEST.override(hidden_size=16, num_steps=5, batch_size=4,
                               vocab_size=9, keep_prob=0.5, max_grad_norm=0.5,
                               max_max_epoch=3)


def cpu_strategy(replicas):
  """None (one device) or a MirroredStrategy over logical CPUs, made as
  ptb_word_lm.py --num_cpu_devices makes it."""
  if replicas == 1:
    return None
  return tf.distribute.MirroredStrategy(
      ["/cpu:%d" % i for i in range(replicas)],
      cross_device_ops=tf.distribute.ReductionToOneDevice())


def random_batch(seed):
  rng = np.random.default_rng(seed)
  return [rng.integers(0, 9, [4, 5]).astype(np.int32) for _ in range(2)]


@pytest.mark.parametrize("replicas", [2, 4])
def test_one_step_equals_one_device(replicas):
  """Cost, new state and updated weights (so the summed, clipped gradients)
  with dropout on: each replica drops its rows as one device would."""
  results = []
  for strategy in (None, cpu_strategy(replicas)):
    model = trainer.Trainer(CONFIG, seed=3, strategy=strategy)
    inputs, targets = random_batch(1)
    state = tf.random.stateless_uniform([1, 2, 4, 16], [1, 2])
    if strategy:
      # This worker wishes to stop, not to save: so do all (it is alone).
      cost, new_state, agreed = model.train_step(
          inputs, targets, state, tf.constant(1.0), tf.constant([1.0, 0.0]))
      assert agreed.numpy().tolist() == [True, False]
    else:
      cost, new_state = model.train_step(inputs, targets, state,
                                         tf.constant(1.0))
    weights = [v.numpy() for v in model.model.trainable_variables]
    results.append((float(cost), new_state.numpy(), weights))
  (cost, state, weights), (cost_n, state_n, weights_n) = results
  assert cost_n == pytest.approx(cost, rel=1e-6)
  np.testing.assert_allclose(state_n, state, rtol=1e-5, atol=1e-6)
  for w, w_n in zip(weights, weights_n):
    np.testing.assert_allclose(w_n, w, rtol=1e-5, atol=1e-6)


def printed_perplexities(lines):
  return [float(line.split()[-1]) for line in lines if "Perplexity" in line]


def test_short_training_equals_one_device(toy_corpus):
  """Every printed perplexity (train and valid of each epoch, test)."""
  data = reader.load_ptb(toy_corpus)
  runs = []
  for replicas in (1, 2, 4):
    lines = []
    trainer.train_and_evaluate(CONFIG, data, seed=2, log=lines.append,
                               strategy=cpu_strategy(replicas))
    runs.append(printed_perplexities(lines))
  assert len(runs[0]) == 2 * CONFIG.max_max_epoch + 1
  assert runs[1] == pytest.approx(runs[0], rel=1e-4)
  assert runs[2] == pytest.approx(runs[0], rel=1e-4)


class StopAfter:
  def __init__(self, count):
    self.remaining = count

  def __call__(self):
    self.remaining -= 1
    return self.remaining <= 0


@pytest.mark.parametrize("first, then", [(2, 1), (1, 2)])
def test_a_checkpoint_resumes_on_another_number_of_replicas(
    toy_corpus, tmp_path, first, then):
  data = reader.load_ptb(toy_corpus)
  unstopped = unstopped_toy_run(CONFIG, 2)
  save_path = str(tmp_path / "run")
  train_batches = len(reader.ptb_producer(data.train, 4, 5))
  valid_batches = len(reader.ptb_producer(data.valid, 4, 5))
  with pytest.raises(stopping.Interrupted):  # in epoch 2, at batch 9
    trainer.train_and_evaluate(
        CONFIG, data, save_path=save_path, seed=2, log=lambda _: None,
        strategy=cpu_strategy(first),
        stop_requested=StopAfter(train_batches + valid_batches + 9))
  resumed = trainer.train_and_evaluate(CONFIG, data, save_path=save_path,
                                       seed=2, log=lambda _: None,
                                       strategy=cpu_strategy(then))
  assert resumed == pytest.approx(unstopped, rel=1e-4)


def run(*args, env=None, timeout=300):
  return subprocess.run([sys.executable, os.path.join(ROOT, "ptb_word_lm.py"),
                         *args], capture_output=True, text=True,
                        timeout=timeout, env=env)


TOY_CHANGES = dict(vocab_size=9, hidden_size=8, num_steps=5, batch_size=4,
                   max_max_epoch=2, keep_prob=0.5)
TOY_FLAGS = ["--model=test"] + ["--%s=%s" % item for item in TOY_CHANGES.items()]
TOY_CONFIG = configs.TEST.override(**TOY_CHANGES)  # what TOY_FLAGS train


def one_device_perplexities(toy_corpus):
  """What `ptb_word_lm.py TOY_FLAGS` prints on one device, computed in this
  process (a program of its own would load TensorFlow again)."""
  lines = []
  trainer.train_and_evaluate(TOY_CONFIG, reader.load_ptb(toy_corpus),
                             log=lines.append)
  return printed_perplexities(lines)


def error_line(result):
  assert result.returncode != 0
  assert "Traceback" not in result.stderr
  errors = [l for l in result.stderr.splitlines() if l.startswith("error: ")]
  assert len(errors) == 1, result.stderr
  return errors[0]


@pytest.mark.parametrize("args, message", [
    (["--num_cpu_devices=3"], "batch_size=4 cannot be split evenly over 3 "
                              "replicas"),
    (["--num_gpus=2"], "--num_gpus=2 but this machine has 0 GPU(s)"),
    (["--num_gpus=2", "--num_cpu_devices=2"],
     "--num_gpus=2 and --num_cpu_devices=2: choose one"),
    (["--num_cpu_devices=0"], "--num_cpu_devices must be 1 or more, got 0"),
    (["--num_gpus=-1"], "--num_gpus must be 0 or more, got -1"),
    (["--connect_timeout_secs=nan"], "--connect_timeout_secs must be a "
                                     "positive number of seconds, got nan"),
])
def test_bad_requests(toy_corpus, args, message):
  line = error_line(run("--data_path=" + toy_corpus, *TOY_FLAGS, *args))
  assert line == "error: " + message


def test_bad_tf_config(toy_corpus):
  env = dict(os.environ, TF_CONFIG='{"cluster": {"worker": ["a:1"]}, '
             '"task": {"type": "worker", "index": 3}}')
  line = error_line(run("--data_path=" + toy_corpus, *TOY_FLAGS, env=env))
  assert line.startswith("error: TF_CONFIG is not a cluster of workers")


@pytest.mark.parametrize("text, why", [
    ('{"cluster": {"worker": ["a:1", "b:1"]}, '
     '"task": {"type": "worker", "index": 2}}', "not one of the 2 workers"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, '
     '"task": {"type": "worker", "index": -1}}', "not one of the 2 workers"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}',
     "not one of the 1 workers"),
    ('{"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}',
     "'worker'"),
    ('{"cluster": {"worker": ["a:1"]}}', "'task'"),
    ("worker 0", "Expecting value"),
])
def test_a_tf_config_must_place_this_task_among_the_workers(monkeypatch, text,
                                                            why):
  monkeypatch.setenv("TF_CONFIG", text)
  with pytest.raises(ValueError, match="^TF_CONFIG is not a cluster of "
                     "workers with this task's place in it: .*%s" % why):
    distribute.cluster_from_environment()


def test_the_last_worker_of_a_tf_config_is_a_place(monkeypatch):
  monkeypatch.setenv("TF_CONFIG", distribute.local_cluster(3)[2])
  cluster = distribute.cluster_from_environment()
  assert cluster["task"] == {"type": "worker", "index": 2}
  assert not distribute.is_chief()


@pytest.mark.parametrize("num_gpus, found, devices", [
    (2, 2, ["/gpu:0", "/gpu:1"]),
    (2, 4, ["/gpu:0", "/gpu:1"]),  # the first N
    (1, 1, None),                  # one GPU: TensorFlow's default device
])
def test_num_gpus_mirrors_over_the_first_gpus(monkeypatch, num_gpus, found,
                                              devices):
  """The GPU path, as far as a machine without GPUs can follow it: the
  strategy asked of TensorFlow, which sums with its default (NCCL)."""
  monkeypatch.delenv("TF_CONFIG", raising=False)
  monkeypatch.setattr(tf.config, "list_physical_devices",
                      lambda kind: ["gpu"] * found if kind == "GPU" else [])
  monkeypatch.setattr(tf.distribute, "MirroredStrategy",
                      lambda devices, cross_device_ops: (devices,
                                                         cross_device_ops))
  made = distribute.make_strategy(num_gpus, 1)
  assert made == ((devices, None) if devices else None)


def test_more_gpus_than_found_is_an_error(monkeypatch):
  monkeypatch.setattr(tf.config, "list_physical_devices",
                      lambda kind: ["gpu"] * 2 if kind == "GPU" else [])
  with pytest.raises(ValueError,
                     match="^--num_gpus=3 but this machine has 2 GPU"):
    distribute.make_strategy(3, 1)


def local_cluster(count):
  """The workers' addresses and their TF_CONFIG values."""
  values = distribute.local_cluster(count)
  return json.loads(values[0])["cluster"]["worker"], values


@pytest.mark.parametrize("workers, devices, batch_size, total", [
    (3, 1, 20, 3),  # three machines of one device: 20 rows do not split
    (2, 3, 4, 6),   # two machines of three logical devices each
    (4, 2, 20, 8),
])
def test_the_rows_must_split_over_every_workers_replicas(
    monkeypatch, workers, devices, batch_size, total):
  monkeypatch.setenv("TF_CONFIG", distribute.local_cluster(workers)[0])
  with pytest.raises(ValueError, match="^batch_size=%d cannot be split "
                     "evenly over %d replicas$" % (batch_size, total)):
    distribute.check_request(0, devices, batch_size)
  # A batch that does split is this machine's replicas.
  assert distribute.check_request(0, devices, total * 2) == devices


def test_two_workers_equal_one(toy_corpus, tmp_path):
  flags = ["--data_path=" + toy_corpus, *TOY_FLAGS]
  workers, tf_configs = local_cluster(2)
  save_path = tmp_path / "run"
  (tmp_path / "tmp").mkdir()  # where the other worker saves, and removes
  processes = [subprocess.Popen(
      [sys.executable, os.path.join(ROOT, "ptb_word_lm.py"), *flags,
       "--save_path=" + str(save_path), "--connect_timeout_secs=60"],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      env=dict(os.environ, TF_CONFIG=tf_configs[index],
               TMPDIR=str(tmp_path / "tmp")))
               for index in range(2)]
  try:
    outputs = [process.communicate(timeout=240) for process in processes]
  finally:
    for process in processes:
      process.kill()
  assert [p.returncode for p in processes] == [0, 0], outputs[1][1]
  # Only the chief prints and saves; the numbers are one device's.
  assert outputs[1][0] == ""
  note = ("note: training on 2 replicas (2 workers x 1 device: CPU:0), "
          "2 of each batch's 4 rows on each")
  assert note in outputs[0][1].splitlines()
  assert "note: training on" not in outputs[1][1]
  chief = printed_perplexities(outputs[0][0].splitlines())
  expected = one_device_perplexities(toy_corpus)
  assert len(expected) == 5
  assert chief == pytest.approx(expected, rel=1e-4)
  assert (save_path / "config.json").exists()
  assert os.listdir(tmp_path / "tmp") == []


def test_the_num_cpu_devices_flag_trains_as_one_device(toy_corpus, tmp_path):
  """The flag's own path, which cpu_strategy only imitates: the split of
  the CPU into logical devices and the strategy over them, in a program
  of its own (the split is possible only before TensorFlow starts)."""
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "ptb_word_lm.py"),
       "--data_path=" + toy_corpus, *TOY_FLAGS, "--num_cpu_devices=2",
       "--save_path=" + str(tmp_path / "run")],
      capture_output=True, text=True, timeout=240)
  assert result.returncode == 0, result.stderr
  # Two replicas did train (one device would print the same numbers).
  assert ("note: training on 2 replicas (1 worker x 2 devices: CPU:0, "
          "CPU:1), 2 of each batch's 4 rows on each"
          in result.stderr.splitlines())
  assert printed_perplexities(result.stdout.splitlines()) == pytest.approx(
      one_device_perplexities(toy_corpus), rel=1e-4)


def start_workers(toy_corpus, save_path, *flags, save_paths=None):
  """Two workers on 127.0.0.1 of one training, their output unbuffered."""
  workers, tf_configs = local_cluster(2)
  save_paths = save_paths or [save_path] * 2
  return workers, [subprocess.Popen(
      [sys.executable, os.path.join(ROOT, "ptb_word_lm.py"),
       "--data_path=" + toy_corpus, *TOY_FLAGS, *flags,
       "--save_path=" + str(save_paths[index]), "--connect_timeout_secs=60"],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      env=dict(os.environ, TF_CONFIG=tf_configs[index],
               PYTHONUNBUFFERED="1"))
                   for index in range(2)]


def finish(processes, timeout=240):
  try:
    return [process.communicate(timeout=timeout) for process in processes]
  finally:
    for process in processes:
      process.kill()


def test_a_stop_reaching_one_worker_stops_all_at_the_same_batch(
    toy_corpus, tmp_path):
  """SIGTERM to the second worker only: both stop after the same batch
  (the wish to stop travels with the step's sums), the chief saves, and
  the resumed run prints what an unstopped one prints."""
  _, processes = start_workers(toy_corpus, tmp_path / "run")
  assert processes[0].stdout.readline().startswith("Epoch: 1 ")
  processes[1].send_signal(signal.SIGTERM)
  outputs = finish(processes)
  assert [p.returncode for p in processes] == [143, 143], outputs
  stops = [re.search(r"stopped in epoch \d+ at batch \d+ of \d+", err)
           for _, err in outputs]
  assert stops[0] and stops[1] and stops[0][0] == stops[1][0], outputs
  assert "another worker's stop: stopped in" in outputs[0][1]
  assert "SIGTERM: stopped in" in outputs[1][1]
  _, processes = start_workers(toy_corpus, tmp_path / "run")
  outputs = finish(processes)
  assert [p.returncode for p in processes] == [0, 0], outputs[1][1]
  resumed = printed_perplexities(outputs[0][0].splitlines())
  expected = one_device_perplexities(toy_corpus)
  assert resumed[-1] == pytest.approx(expected[-1], rel=1e-4)


@pytest.mark.parametrize("batches, chief_at", [
    (None, "epoch 2 batch 0"),  # a whole epoch (--max_max_epoch=1) saved
    (3, "epoch 1 batch 3"),  # the same epoch, another batch
])
def test_workers_that_would_resume_at_different_points_refuse(
    toy_corpus, tmp_path, batches, chief_at):
  """The second worker cannot see the chief's checkpoint (its --save_path is
  another, empty folder): both say so in one line rather than train on
  mismatched steps."""
  stop = StopAfter(batches) if batches else None
  stops = pytest.raises(stopping.Interrupted) if stop else (
      contextlib.nullcontext())
  with stops:
    trainer.train_and_evaluate(
        TOY_CONFIG.override(max_max_epoch=1), reader.load_ptb(toy_corpus),
        save_path=str(tmp_path / "run"), log=lambda _: None,
        stop_requested=stop)
  _, processes = start_workers(toy_corpus, None, save_paths=[
      tmp_path / "run", tmp_path / "elsewhere"])
  outputs = finish(processes)
  assert [p.returncode for p in processes] == [1, 1], outputs
  for where, (_, err) in zip([chief_at, "epoch 1 batch 0"], outputs):
    assert error_line_of(err) == (
        "error: the workers would resume at different points (%s here); "
        "every worker must read the chief's checkpoint: give all the same "
        "--save_path on a filesystem they share" % where)


def error_line_of(stderr):
  errors = [l for l in stderr.splitlines() if l.startswith("error: ")]
  assert len(errors) == 1 and "Traceback" not in stderr, stderr
  return errors[0]


def test_a_worker_that_loses_the_others_says_so_in_one_line(toy_corpus,
                                                            tmp_path):
  """The chief dies (SIGKILL) mid-run; the other worker, whose sums can no
  longer complete, exits with one error line, not a traceback."""
  workers, processes = start_workers(toy_corpus, tmp_path / "run",
                                     "--max_max_epoch=1000")
  assert processes[0].stdout.readline().startswith("Epoch: 1 ")
  processes[0].kill()
  outputs = finish(processes, timeout=120)
  assert processes[1].returncode == 1
  assert "Traceback" not in outputs[1][1]
  errors = [l for l in outputs[1][1].splitlines() if l.startswith("error: ")]
  assert len(errors) == 1, outputs[1][1]
  assert errors[0].startswith("error: worker 1 of %s lost the other workers ("
                              % ", ".join(workers)), errors[0]
  assert errors[0].endswith("one of them stopped or failed. Start every "
                            "worker again with the same command to resume "
                            "from the chief's last checkpoint"), errors[0]


def test_a_worker_alone_gives_up_with_a_clear_error(toy_corpus):
  workers, tf_configs = local_cluster(2)
  result = run("--data_path=" + toy_corpus, *TOY_FLAGS,
               "--connect_timeout_secs=5", timeout=120,
               env=dict(os.environ, TF_CONFIG=tf_configs[0]))
  assert result.returncode != 0
  assert ("error: worker 0 of %s could not reach the other workers within "
          "5 s" % ", ".join(workers)) in result.stderr


@pytest.mark.parametrize("error_type", [
    tf.errors.UnavailableError,  # the connection dropped
    tf.errors.AbortedError,
    tf.errors.CancelledError,
    tf.errors.DeadlineExceededError,  # a worker hangs past the timeout
])
def test_each_way_of_losing_the_workers_is_the_same_error(monkeypatch,
                                                         error_type):
  """The kill test above meets only one of these types; a worker that hangs
  (DeadlineExceeded) cannot be staged in a test's time."""
  workers, tf_configs = local_cluster(2)
  monkeypatch.setenv("TF_CONFIG", tf_configs[1])
  with pytest.raises(InputError) as raised:
    with distribute.lost_workers_reported():
      raise error_type(None, None, "collective ops timed out")
  assert str(raised.value).startswith(
      "worker 1 of %s lost the other workers (%s): " % (
          ", ".join(workers), error_type.__name__)), raised.value


def test_a_lost_connection_outside_a_cluster_is_not_blamed_on_workers(
    monkeypatch):
  # Without TF_CONFIG there are no workers to have lost: TensorFlow's own
  # error goes on as it is.
  monkeypatch.delenv("TF_CONFIG", raising=False)
  with pytest.raises(tf.errors.UnavailableError, match="socket closed"):
    with distribute.lost_workers_reported():
      raise tf.errors.UnavailableError(None, None, "socket closed")
