"""errors.py: how a program ends on bad input, an OS error, Ctrl-C or a
closed output pipe, and which errors mean a full disk."""

import errno
import signal
import subprocess
import sys

import pytest

from conftest import ROOT
from conftest import run_into_a_closed_pipe
import errors


def raising(error):
  def function():
    raise error
  return function


def test_bad_input_is_one_error_line_and_status_1(capsys):
  status = errors.exit_status_of(
      raising(errors.InputError("unknown model name")))
  assert (status, capsys.readouterr().err) == (
      1, "error: unknown model name\n")


def test_an_os_error_names_its_path_and_reason_without_python_s_words(capsys):
  status = errors.exit_status_of(raising(
      NotADirectoryError(errno.ENOTDIR, "Not a directory", "runs/x")))
  assert (status, capsys.readouterr().err) == (
      1, "error: runs/x: Not a directory\n")


def test_ctrl_c_is_interrupted_and_status_130(capsys):
  status = errors.exit_status_of(raising(KeyboardInterrupt()))
  assert (status, capsys.readouterr().err) == (130, "interrupted\n")


def test_a_program_s_own_status_is_passed_on(capsys):
  assert errors.exit_status_of(lambda code: code, 3) == 3
  assert capsys.readouterr().err == ""


# Unbuffered, the print meets the closed pipe; buffered (a pipe's default),
# only the flush does, which at exit would be a traceback.
@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_output_into_a_closed_pipe_ends_quietly_with_status_141(unbuffered):
  program = ("import sys; from errors import exit_status_of\n"
             "sys.exit(exit_status_of(lambda: print('words') or 0))")
  assert run_into_a_closed_pipe([sys.executable, "-c", program],
                                unbuffered) == (128 + signal.SIGPIPE, "")


def test_other_failures_are_not_swallowed():
  # A bug is a traceback, not a one-line "error:" that hides it.
  with pytest.raises(ZeroDivisionError):
    errors.exit_status_of(lambda: 1 / 0)


@pytest.mark.parametrize("error, full", [
    (OSError(errno.ENOSPC, "No space left on device"), True),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
    (OSError(errno.EACCES, "Permission denied"), False),
    # An OSError raised with a message only, as some libraries do.
    (OSError("write failed: No space left on device"), True),
    # TensorFlow's own writes fail with a ResourceExhaustedError, the type
    # it also raises for memory: only its message tells them apart.
    (RuntimeError("ckpt-2_temp/part-0; No space left on device"), True),
    (RuntimeError("events file: Disk quota exceeded"), True),
    (RuntimeError("OOM when allocating tensor with shape[1000000000,2000]"),
     False),
])
def test_a_full_disk_is_told_from_other_failures(error, full):
  assert errors.is_disk_full(error) == full


def test_sizes_in_words():
  assert [errors.size_text(count) for count in
          (264_600_000, 17_300_000, 100_000, 99_999, 12_345)] == [
              "264.6 MB", "17.3 MB", "0.1 MB", "99 kB", "12 kB"]


def test_a_failure_removes_the_folders_made_for_it_and_no_more(tmp_path):
  (tmp_path / "existing").mkdir()  # empty, but the user's: it stays
  target = tmp_path / "existing" / "made" / "for" / "it"
  outermost = errors.outermost_missing_folder(str(target))
  assert outermost == str(tmp_path / "existing" / "made")
  target.mkdir(parents=True)
  errors.remove_empty_folders(str(target), outermost)
  assert sorted(p.name for p in tmp_path.rglob("*")) == ["existing"]


def test_the_sigterm_handler_is_given_back(tmp_path):
  """After the folder is written, SIGTERM is the program's own again (the
  trainer's save-and-stop, after a download): not a removal of the folder."""
  def own_handler(signum, frame):
    del signum, frame
  previous = signal.signal(signal.SIGTERM, own_handler)
  try:
    with errors.removed_on_sigterm(str(tmp_path), "stopped"):
      assert signal.getsignal(signal.SIGTERM) is not own_handler
    assert signal.getsignal(signal.SIGTERM) is own_handler
  finally:
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_before_the_guarded_folder_is_made(tmp_path):
  """The folder is guarded before it is made: a TERM in between finds
  nothing to remove, and still ends the program with its line and 143."""
  folder = tmp_path / "not-yet-made"
  ended = subprocess.run([sys.executable, "-c", """
import os, signal, sys, time
sys.path.insert(0, %r)
import errors
with errors.removed_on_sigterm(%r, "SIGTERM: stopped; nothing was kept"):
  os.kill(os.getpid(), signal.SIGTERM)
  time.sleep(60)
""" % (ROOT, str(folder))], capture_output=True, text=True, timeout=60)
  assert ended.returncode == 143
  assert ended.stderr == "SIGTERM: stopped; nothing was kept\n"
  assert not folder.exists()
