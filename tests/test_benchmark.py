"""benchmarks/benchmark.py refuses what it cannot measure before measuring."""

import os
import subprocess
import sys

from conftest import ROOT


def test_an_unknown_shape_is_refused_at_once():
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "benchmarks", "benchmark.py"),
       "--shapes=small,nope"], capture_output=True, text=True, timeout=60)
  assert result.returncode == 2
  assert result.stdout == ""  # no matrix-product measurement, no table
  assert result.stderr.splitlines()[-1] == (
      "benchmark.py: error: --shapes: unknown nope; choose from "
      "small,medium,large")
