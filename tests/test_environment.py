"""environment.py: the one line that says which software and processor a
run ran on (the processor's kind decides a run's last digits)."""

import importlib.metadata
import platform

import pytest

import environment

# Two processors' blocks, as Linux writes them; only the first is read (the
# second, another core, must not mix in).
CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse2 avx avx2 fma

processor\t: 1
model name\t: another core
flags\t\t: avx512f
"""


def test_cpuinfo_is_read_from_the_first_processor(tmp_path):
  path = tmp_path / "cpuinfo"
  path.write_text(CPUINFO)
  fields = environment.cpuinfo_fields(str(path))
  assert fields["model name"] == "AMD EPYC 7B13"
  assert fields["cpu family"] == "25" and fields["model"] == "1"
  assert fields["flags"] == "fpu sse2 avx avx2 fma"
  assert environment.cpuinfo_fields(str(tmp_path / "none")) == {}


def test_a_byte_that_is_not_utf8_in_cpuinfo_does_not_stop_the_run(tmp_path):
  # A name field in another encoding (Latin-1 "\xae" for a registered sign)
  # must not cost a long run its log line.
  path = tmp_path / "cpuinfo"
  path.write_bytes(CPUINFO.replace("7B13", "7B13\xae").encode("latin-1"))
  fields = environment.cpuinfo_fields(str(path))
  assert fields["model name"] == "AMD EPYC 7B13\ufffd"
  assert fields["cpu family"] == "25"


@pytest.mark.parametrize("flags, kind", [
    ("fpu avx avx2 avx512f avx512bw amx_tile", "AVX-512"),
    ("fpu sse2 avx avx2 fma", "AVX2"),
    ("fpu sse2 avx", "AVX"),
    ("fpu sse2", "no AVX"),
    ("", None),  # not x86 (or no flags line): nothing to say
])
def test_the_widest_vector_instructions_are_named(flags, kind):
  assert environment.vector_instructions({"flags": flags}) == kind


def test_the_processor_is_its_name_family_model_and_vector_width(
    tmp_path, monkeypatch):
  path = tmp_path / "cpuinfo"
  path.write_text(CPUINFO)
  read = environment.cpuinfo_fields
  monkeypatch.setattr(environment, "cpuinfo_fields", lambda: read(str(path)))
  assert environment.processor() == (
      "AMD EPYC 7B13 (cpu family 25, model 1, AVX2)")


def test_without_cpuinfo_the_platform_names_the_processor(monkeypatch):
  monkeypatch.setattr(environment, "cpuinfo_fields", dict)
  # As on macOS on Apple silicon: a processor name, then only the machine.
  monkeypatch.setattr(platform, "processor", lambda: "arm")
  monkeypatch.setattr(platform, "machine", lambda: "arm64")
  assert environment.processor() == "arm"
  monkeypatch.setattr(platform, "processor", lambda: "")
  assert environment.processor() == "arm64"
  monkeypatch.setattr(platform, "machine", lambda: "")
  assert environment.processor() == "unknown processor"


def test_the_line_names_each_version_and_the_cores(monkeypatch):
  monkeypatch.setattr(environment, "processor", lambda: "a processor")
  monkeypatch.setattr(environment.os, "cpu_count", lambda: 2)
  assert environment.describe() == (
      "Python %s, TensorFlow %s, Keras %s, NumPy %s, absl-py %s; "
      "a processor, 2 cores" % (
          platform.python_version(),
          *(importlib.metadata.version(name) for name in
            ("tensorflow", "keras", "numpy", "absl-py"))))


def test_a_package_that_is_not_installed_is_said_so():
  assert environment.version_of("no-such-package-here") == "not installed"
