"""Which software and processor a run ran on, in one line.

    python environment.py
    Python 3.11.7, TensorFlow 2.21.0, Keras 3.15.1, NumPy 2.4.6, absl-py 2.5.1; AMD EPYC (cpu family 25, model 1, AVX2), 2 cores

The same seed gives the same digits only with the same versions (and, for
the last digits, a processor of the same kind), so every long run's log
(scripts/logged_run.sh) and TensorBoard folder records this line. Versions
are read from the installed packages' metadata: no import of TensorFlow.
"""

import importlib.metadata
import os
import platform

PACKAGES = (("TensorFlow", "tensorflow"), ("Keras", "keras"),
            ("NumPy", "numpy"), ("absl-py", "absl-py"))


def version_of(distribution):
  try:
    return importlib.metadata.version(distribution)
  except importlib.metadata.PackageNotFoundError:
    return "not installed"


def cpuinfo_fields(path="/proc/cpuinfo"):
  """The first processor's fields in Linux's cpuinfo ({} elsewhere)."""
  try:
    with open(path, encoding="utf-8", errors="replace") as f:
      text = f.read().split("\n\n")[0]
  except OSError:
    return {}
  return {name.strip(): value.strip() for name, _, value in
          (line.partition(":") for line in text.splitlines())}


def vector_instructions(fields=None):
  """The widest x86 vector instructions of this processor ("AVX-512",
  "AVX2", ...), or None where cpuinfo has no x86 flags. They decide which
  matrix-product kernels run, and so the last digits of a run."""
  flags = set((fields or cpuinfo_fields()).get("flags", "").split())
  if not flags:
    return None
  for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX")):
    if flag in flags:
      return name
  return "no AVX"


def processor():
  """'AMD EPYC (cpu family 25, model 1, AVX2)': family and model tell apart
  processors sold under one name."""
  fields = cpuinfo_fields()
  if not fields:
    return platform.processor() or platform.machine() or "unknown processor"
  details = ["%s %s" % (name, fields[name]) for name in ("cpu family", "model")
             if name in fields]
  details.append(vector_instructions(fields))
  return "%s (%s)" % (fields.get("model name", platform.machine()),
                      ", ".join(filter(None, details)))


def describe():
  versions = ", ".join("%s %s" % (label, version_of(distribution))
                       for label, distribution in PACKAGES)
  return "Python %s, %s; %s, %d cores" % (
      platform.python_version(), versions, processor(), os.cpu_count() or 0)


if __name__ == "__main__":
  print(describe())
