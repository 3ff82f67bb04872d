"""The one exception type for problems in what the user gave us, and how the
command-line programs report it and end (on bad input, a closed pipe,
Ctrl-C, or SIGTERM while a folder is being written)."""

import contextlib
import errno
import os
import secrets
import shutil
import signal
import sys
import threading


class InputError(ValueError):
  """Bad data, flags or checkpoint: reported as one line, exit status 1.

  A ValueError, so callers of the library can catch the usual type.
  """


def exit_status_of(function, *args):
  """Runs function(*args), returning its exit status; bad input or an OS
  error (a folder that cannot be written) becomes one `error:` line and 1,
  Ctrl-C becomes `interrupted` and 130, a closed output pipe 141."""
  try:
    status = function(*args)
    # Output to a pipe waits in a buffer until exit, where a closed pipe
    # would be a traceback Python can no longer catch: write it out here.
    sys.stdout.flush()
    return status
  except BrokenPipeError:
    # Whoever read the output stopped reading (`| head`): end quietly, as
    # Unix tools do, with the status of a program ended by SIGPIPE.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 128 + signal.SIGPIPE
  except (InputError, OSError) as e:
    print("error: %s" % describe(e), file=sys.stderr)
    return 1
  except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    return 130


def reason(error):
  """Why an error happened, in words: for an OS error its reason alone ("Is
  a directory"), without Python's "[Errno 21]" and the path."""
  return getattr(error, "strerror", None) or str(error)


@contextlib.contextmanager
def os_errors_said_as(what):
  """An OS error inside becomes one InputError line, "<what>: <reason>"
  ("cannot save into runs/x: Not a directory"), naming the folder the user
  gave rather than a temporary one inside it."""
  try:
    yield
  except OSError as e:
    raise InputError("%s: %s" % (what, reason(e))) from e


# How an OS error and TensorFlow's error for its own writes (the same
# ResourceExhaustedError type as for memory) say that a disk is full.
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
DISK_FULL_WORDS = ("No space left on device", "Disk quota exceeded")


def is_disk_full(error):
  if isinstance(error, OSError) and error.errno is not None:
    return error.errno in DISK_FULL_ERRNOS
  return any(words in str(error) for words in DISK_FULL_WORDS)


def size_text(count):
  """Bytes in words: "264.2 MB", "12 kB"."""
  return "%.1f MB" % (count / 1e6) if count >= 1e5 else "%d kB" % (count / 1e3)


@contextlib.contextmanager
def disk_full_said_as(folder, advice, needs=None, clean_up=None):
  """A write inside that fails on a full disk becomes one InputError line:
  "the disk of <folder> is full (<needs>, 12.0 MB free): <advice>", with
  `needs` like "a checkpoint needs 264.2 MB". `clean_up()` first removes
  what was half-written, so that the free space said is the user's."""
  try:
    yield
  except Exception as e:  # pylint: disable=broad-except
    if not is_disk_full(e):
      raise
    if clean_up:
      clean_up()
    try:
      free = size_text(shutil.disk_usage(folder).free) + " free"
    except OSError:
      free = "no space"
    raise InputError("the disk of %s is full (%s): %s" % (
        folder, "%s, %s" % (needs, free) if needs else free, advice)) from None


def describe(error):
  """The error in words: an OS error as "path: reason", without Python's
  "[Errno 20]" and quotes."""
  if isinstance(error, OSError) and error.filename and error.strerror:
    return "%s: %s" % (error.filename, error.strerror)
  return str(error)


def outermost_missing_folder(path):
  """The first folder os.makedirs(path) would make: `path` itself or the
  outermost of its missing parents; None when `path` exists. A failure can
  remove it and so leave no trace of the folders made for what failed."""
  path, missing = os.path.abspath(path), None
  while not os.path.lexists(path):
    path, missing = os.path.dirname(path), path
  return missing


def remove_empty_folders(folder, outermost):
  """Removes `folder` and its parents up to `outermost` (what
  outermost_missing_folder named before they were made), as long as each is
  empty: what a failure left of the folders made for it."""
  folder = os.path.abspath(folder)
  with contextlib.suppress(OSError):  # not empty: in use, so kept
    while True:
      os.rmdir(folder)
      if folder == outermost:
        return
      folder = os.path.dirname(folder)


def unused_folder_name(parent, prefix):
  """A path for a new hidden folder in `parent`, named (at random) before it
  is made: guard it with removed_on_sigterm first, then make it, so that no
  moment is left in which a TERM would leave it behind."""
  return os.path.join(parent, prefix + secrets.token_hex(6))


@contextlib.contextmanager
def removed_on_sigterm(path, message):
  """While active, SIGTERM (a scheduler, `timeout`, `kill`) removes `path`, a
  folder being written, says `message` and ends the process (status 143),
  where it would otherwise leave the folder half-written. The handler ends
  the process itself: an exception raised into TensorFlow's C++ code may be
  lost there, and the work would go on."""
  if threading.current_thread() is not threading.main_thread():
    yield  # only the main thread can handle signals
    return

  def stop(signum, frame):
    del frame
    print(message, file=sys.stderr, flush=True)
    shutil.rmtree(path, ignore_errors=True)
    os._exit(128 + signum)  # pylint: disable=protected-access

  previous = signal.signal(signal.SIGTERM, stop)
  try:
    yield
  finally:
    signal.signal(signal.SIGTERM, previous)
