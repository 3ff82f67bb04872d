"""Which software and processor a run ran on, in one line.

    python environment.py
    Python 3.11.7, TensorFlow 2.21.0, Keras 3.12.0, NumPy 2.4.6, absl-py 2.3.1; AMD EPYC (cpu family 25), 2 cores

The same seed gives the same digits only with the same versions (and, for
the last digits, a processor of the same kind), so every long run's log
(scripts/logged_run.sh) and TensorBoard folder records this line. Versions
are read from the installed packages' metadata: no import of TensorFlow.
"""

import importlib.metadata
import os
import platform
import re

PACKAGES = (("TensorFlow", "tensorflow"), ("Keras", "keras"),
            ("NumPy", "numpy"), ("absl-py", "absl-py"))


def version_of(distribution):
  try:
    return importlib.metadata.version(distribution)
  except importlib.metadata.PackageNotFoundError:
    return "not installed"


def processor(cpuinfo="/proc/cpuinfo"):
  """'AMD EPYC (cpu family 25)' from Linux's cpuinfo, else what Python
  knows. The family tells apart processors that share a model name and
  differ in speed (reference.md: 190 or 440 GFLOP/s)."""
  try:
    with open(cpuinfo, encoding="utf-8", errors="replace") as f:
      text = f.read()
  except OSError:
    return platform.processor() or platform.machine() or "unknown processor"
  name = re.search(r"^model name\s*:\s*(.*)$", text, re.MULTILINE)
  family = re.search(r"^cpu family\s*:\s*(\d+)$", text, re.MULTILINE)
  described = name.group(1).strip() if name else platform.machine()
  return described + (" (cpu family %s)" % family.group(1) if family else "")


def describe():
  versions = ", ".join("%s %s" % (label, version_of(distribution))
                       for label, distribution in PACKAGES)
  return "Python %s, %s; %s, %d cores" % (
      platform.python_version(), versions, processor(), os.cpu_count() or 0)


if __name__ == "__main__":
  print(describe())
