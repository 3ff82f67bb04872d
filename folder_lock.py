"""One run per save folder.

Two runs saving into one folder (the same command started in two terminals,
or a scheduler retrying a job whose first try is still alive) would each
overwrite the other's checkpoints and mix their TensorBoard curves. A run
holds an exclusive lock on `FILE` in its folder while it trains; a second run
finds it held and stops with one line naming the first run's process.

The lock is the kernel's (flock): it goes with the process that held it, so
a run killed with kill -9 or a power cut never blocks the next one, whatever
its file still says.
"""

import contextlib
import datetime
import fcntl
import os
import socket
import sys

from errors import InputError
from errors import os_errors_said_as
from errors import outermost_missing_folder
from errors import remove_empty_folders

FILE = "run.lock"


def holder(folder):
  """Who holds `folder`'s lock ("process 1234 on vm since ...: python
  ptb_word_lm.py ..."), or None when no live process holds it."""
  try:
    fd = os.open(os.path.join(folder, FILE), os.O_RDONLY)
  except OSError:
    return None
  try:
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    return None  # the file of a run that died: nobody holds it
  except BlockingIOError:
    text = os.read(fd, 4096).decode("utf-8", errors="replace").strip()
    return text or "a process that is starting"
  finally:
    os.close(fd)


def in_use_error(folder, who):
  return InputError("%s is in use by another run (%s); wait for it to end, "
                    "stop it, or use another folder" % (folder, who))


@contextlib.contextmanager
def held(folder):
  """Holds `folder`'s lock while active, making the folder if needed; if
  another process holds it, an InputError naming that process."""
  if os.path.exists(folder) and not os.path.isdir(folder):
    raise InputError("save path %s is not a folder" % folder)
  made = outermost_missing_folder(folder)
  with os_errors_said_as("cannot save into %s" % folder):
    os.makedirs(folder, exist_ok=True)
  path = os.path.join(folder, FILE)
  fd = lock_file(folder, path)
  try:
    os.ftruncate(fd, 0)
    os.write(fd, ("process %d on %s since %s: %s\n" % (
        os.getpid(), socket.gethostname(),
        datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S UTC"), " ".join(sys.argv))).encode("utf-8"))
    yield folder
  finally:
    # Removed while still locked: a run waiting to lock this file finds it
    # gone (see lock_file) and makes a new one.
    with contextlib.suppress(FileNotFoundError):
      os.unlink(path)
    os.close(fd)
    if made:  # a run that ended before writing anything leaves no folder
      remove_empty_folders(folder, made)


def lock_file(folder, path):
  """An open descriptor of `path`, exclusively locked by this process."""
  while True:
    with os_errors_said_as("cannot save into %s" % folder):
      fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      who = os.read(fd, 4096).decode("utf-8", errors="replace").strip()
      os.close(fd)
      raise in_use_error(folder, who or "a process that is starting") from None
    try:
      if os.fstat(fd).st_ino == os.stat(path).st_ino:
        return fd
    except FileNotFoundError:
      pass
    # The run that held it removed the file between our open and our lock:
    # this lock is on a file nobody else will look at. Try again.
    os.close(fd)


def check_not_in_use(path):
  """An InputError if `path` or a folder above it is a running run's folder
  (for writing into it from elsewhere, as `lm.py export` does)."""
  folder = os.path.abspath(path)
  while True:
    who = holder(folder)
    if who:
      raise in_use_error(folder, who)
    parent = os.path.dirname(folder)
    if parent == folder:
      return
    folder = parent


def check_export_folder(output_dir):
  """An InputError unless `output_dir` can be a new folder to export into,
  outside any running run's folder (its checkpoints would be read while
  being written)."""
  check_not_in_use(output_dir)
  if os.path.exists(output_dir):
    raise InputError("%s already exists; export into a new folder"
                     % output_dir)
  parent = os.path.dirname(os.path.abspath(output_dir))
  if os.path.isfile(parent):
    raise InputError("cannot export into %s: %s is a file, not a folder"
                     % (output_dir, parent))
