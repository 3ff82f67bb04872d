"""benchmarks/benchmark.py: what it refuses before measuring, and how it
runs replicated training (--workers) against one process."""

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, run_into_a_closed_pipe

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import benchmark  # pylint: disable=g-import-not-at-top,wrong-import-position

SCRIPT = os.path.join(ROOT, "benchmarks", "benchmark.py")


def run(*args, timeout=60):
  return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True,
                        text=True, timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["--shapes=small,nope"], "--shapes: unknown nope; choose from "
     "small,medium,large,test"),
    (["--workers=0"], "--workers must be at least 1, not 0"),
    (["--workers=%d" % (len(os.sched_getaffinity(0)) + 1)],
     "--workers %d needs a core for each worker; this machine lets it use %d"
     % (len(os.sched_getaffinity(0)) + 1, len(os.sched_getaffinity(0)))),
    (["--workers=2", "--num_cpu_devices=2"],
     "--workers and --num_cpu_devices: choose one"),
])
def test_what_it_cannot_measure_is_refused_at_once(args, message):
  result = run(*args)
  assert result.returncode == 2
  assert result.stdout == ""  # no matrix-product measurement, no table
  assert result.stderr.splitlines()[-1] == "benchmark.py: error: " + message


@pytest.mark.parametrize("workers", [1, len(os.sched_getaffinity(0)) + 1])
def test_step_parts_needs_two_workers_and_a_core_each(workers):
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "benchmarks", "step_parts.py"),
       "--workers=%d" % workers], capture_output=True, text=True, timeout=60)
  assert result.returncode == 2
  assert result.stderr.splitlines()[-1] == (
      "step_parts.py: error: --workers must be from 2 to this machine's %d "
      "cores, not %d" % (len(os.sched_getaffinity(0)), workers))


def test_the_cores_are_shared_out_in_order(monkeypatch):
  monkeypatch.setattr(os, "sched_getaffinity", lambda _: {5, 1, 3, 7, 2})
  assert benchmark.core_shares(2) == [[1, 2], [3, 5]]
  assert benchmark.core_shares(5) == [[1], [2], [3], [5], [7]]


def test_a_measuring_process_runs_on_the_cores_it_is_given():
  result = run("--child=test", "--cores=0", timeout=120)
  assert result.returncode == 0, result.stderr
  measured = json.loads(result.stdout.splitlines()[-1])
  assert measured["cores"] == [0]
  assert measured["threads"] == 1
  assert measured["train"] > 0 and measured["eval"] > 0


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2,
                    reason="two workers need two cores")
def test_two_workers_are_timed_against_one_process_on_one_core():
  result = run("--shapes=test", "--workers=2", timeout=240)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert lines[1] == ("| shape | one process on 1 core(s) words/s | 2 workers "
                      "on 1 core(s) each words/s | speed-up | peak memory of "
                      "one |")
  row = re.fullmatch(r"\| test \| (\d+) \| (\d+) \| (\d+\.\d\d)x \| \d+ MiB \|",
                     lines[3])
  assert row, lines[3]
  alone, together, speed_up = map(float, row.groups())
  assert speed_up == pytest.approx(together / alone, abs=0.01)


KERNELS_SCRIPT = os.path.join(ROOT, "benchmarks", "matmul_kernels.py")


def test_the_products_timed_are_the_steps_own():
  import configs  # pylint: disable=g-import-not-at-top
  import matmul_kernels  # pylint: disable=g-import-not-at-top
  assert matmul_kernels.product_shapes(configs.get_config("medium")) == [
      ("recurrent step", 20, 650, 2600, 35),
      ("input projection", 700, 650, 2600, 1),
      ("softmax", 700, 650, 10000, 1)]


def test_a_chain_feeds_each_product_the_last_ones_first_columns():
  import numpy as np  # pylint: disable=g-import-not-at-top
  import matmul_kernels  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  x = rng.standard_normal([2, 3]).astype(np.float32)
  w = rng.standard_normal([3, 12]).astype(np.float32)
  expected = x
  for _ in range(4):
    expected = (expected @ w)[:, :3]
  products = matmul_kernels.chained_tf_products(4, 3)
  np.testing.assert_allclose(products(x, w).numpy(), expected, rtol=1e-5)


def test_the_kernel_table_has_a_row_per_product_and_refuses_unknown_shapes():
  result = subprocess.run([sys.executable, KERNELS_SCRIPT, "--shapes=test"],
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr
  rows = [line for line in result.stdout.splitlines()
          if line.startswith("| test |")]
  assert [row.split(" | ")[1:3] for row in rows] == [
      ["recurrent step", "20 x 2 x 8 (2 in a row)"],
      ["input projection", "40 x 2 x 8"], ["softmax", "40 x 2 x 10000"]]
  columns = 2 + benchmark.torch_available()
  assert all(re.fullmatch(r"\| test \| .* \|( \d+ \|){%d}" % columns, row)
             for row in rows), rows
  refused = subprocess.run([sys.executable, KERNELS_SCRIPT, "--shapes=nope"],
                           capture_output=True, text=True, timeout=60)
  assert refused.returncode == 2 and refused.stdout == ""
  assert refused.stderr.splitlines()[-1] == (
      "matmul_kernels.py: error: --shapes: unknown nope; choose from "
      "small,medium,large,test")


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_a_table_into_a_closed_pipe_ends_quietly(unbuffered):
  # `| head -1` closes the pipe long before the last row is written.
  status, stderr = run_into_a_closed_pipe(
      [sys.executable, KERNELS_SCRIPT, "--shapes=test"], unbuffered)
  assert status == 141 and "Traceback" not in stderr, stderr


XLA_SCOPE_SCRIPT = os.path.join(ROOT, "benchmarks", "xla_scope.py")


def xla_compiled(step, arguments):
  """Whether the traced step is XLA-compiled as a whole, and the names of
  the functions inside it that are."""
  traced = step.get_concrete_function(*arguments)
  inner = {re.sub(r"^__inference_(.*)_\d+$", r"\1", f.signature.name)
           for f in traced.graph.as_graph_def().library.function
           if "_XlaMustCompile" in f.attr and f.attr["_XlaMustCompile"].b}
  whole = traced.function_def.attr.get("_XlaMustCompile")
  return bool(whole and whole.b), inner


def test_loops_only_compiles_the_recurrent_loops_alone_and_trains_alike():
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import configs  # pylint: disable=g-import-not-at-top
  import recurrent  # pylint: disable=g-import-not-at-top
  import trainer  # pylint: disable=g-import-not-at-top
  import xla_scope  # pylint: disable=g-import-not-at-top
  config = configs.get_config("test").override(hidden_size=8, vocab_size=50)
  words = tf.constant(np.arange(40).reshape(20, 2) % 50, tf.int32)

  batch = (words, words, tf.zeros([config.num_layers, 2, 20, config.hidden_size]),
           tf.constant(1.0))

  def traced_step(model_trainer):  # what train_step calls, with its inputs
    # pylint: disable=protected-access
    return (model_trainer._compiled_train_step,
            (*batch, model_trainer.dropout_keys()))

  originals = recurrent.lstm_steps, recurrent.lstm_backward_steps
  whole = trainer.Trainer(config)
  with xla_scope.loops_alone_compiled():
    loops_only = xla_scope.loops_only_trainer(config)
    costs = [loops_only.train_step(*batch)[0] for _ in range(3)]
  assert (recurrent.lstm_steps, recurrent.lstm_backward_steps) == originals
  expected = [whole.train_step(*batch)[0] for _ in range(3)]
  np.testing.assert_allclose(costs, expected, rtol=1e-5)
  assert costs[2] < costs[0]  # the same SGD steps: it learns the words
  assert xla_compiled(*traced_step(loops_only)) == (
      False, {"lstm_steps", "lstm_backward_steps"})
  assert xla_compiled(*traced_step(whole))[0]


def test_the_xla_scope_table_has_a_row_per_round_and_refuses_bad_flags():
  result = subprocess.run(
      [sys.executable, XLA_SCOPE_SCRIPT, "--shapes=test", "--rounds=2"],
      capture_output=True, text=True, timeout=180)
  assert result.returncode == 0, result.stderr
  rows = [line for line in result.stdout.splitlines()
          if line.startswith("| test |")]
  assert [row.split(" | ")[1] for row in rows] == ["1", "2"]
  for row in rows:
    whole, loops, ratio = map(float, row.strip("| ").split(" | ")[2:])
    assert ratio == pytest.approx(loops / whole, abs=0.01)
  for flag, message in [("--shapes=nope", "--shapes: unknown nope; choose "
                         "from small,medium,large,test"),
                        ("--rounds=0", "--rounds must be at least 1, not 0")]:
    refused = subprocess.run([sys.executable, XLA_SCOPE_SCRIPT, flag],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.splitlines()[-1] == (
        "xla_scope.py: error: " + message)
