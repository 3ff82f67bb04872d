"""errors.py: how a program ends on bad input, an OS error or Ctrl-C, and
which errors mean a full disk. (A closed output pipe is tested on the
command line, test_cli.py: its handling redirects standard output.)"""

import errno

import pytest

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


def test_other_failures_are_not_swallowed():
  # A bug is a traceback, not a one-line "error:" that hides it.
  with pytest.raises(ZeroDivisionError):
    errors.exit_status_of(lambda: 1 / 0)


@pytest.mark.parametrize("error, full", [
    (OSError(errno.ENOSPC, "No space left on device"), True),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
    (OSError(errno.EACCES, "Permission denied"), False),
    # TensorFlow's own writes fail with a ResourceExhaustedError, the type
    # it also raises for memory: only its message tells them apart.
    (RuntimeError("ckpt-2_temp/part-0; No space left on device"), True),
    (RuntimeError("events file: Disk quota exceeded"), True),
    (RuntimeError("OOM when allocating tensor with shape[1000000000,2000]"),
     False),
])
def test_a_full_disk_is_told_from_other_failures(error, full):
  assert errors.is_disk_full(error) == full
