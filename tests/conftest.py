"""Shared fixtures: the real PTB folder (from PTB_DATA) and small fake corpora."""

import functools
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Four logical CPU devices for the tests of replicated training
# (test_distribute.py); possible only before TensorFlow runs anything.
import tensorflow as tf  # pylint: disable=g-import-not-at-top,wrong-import-position
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 4)


@pytest.fixture(scope="session")
def ptb_path():
  """The real PTB folder named by PTB_DATA; tests needing it skip without it."""
  path = os.environ.get("PTB_DATA")
  if not path or not os.path.isfile(os.path.join(path, "ptb.train.txt")):
    pytest.skip("PTB_DATA does not point at the PTB files")
  return path


def write_corpus(folder, train, valid, test):
  """Writes three PTB-style files (one sentence a line) into `folder`."""
  os.makedirs(folder, exist_ok=True)
  for name, lines in (("ptb.train.txt", train), ("ptb.valid.txt", valid),
                      ("ptb.test.txt", test)):
    with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
      f.write("".join(" %s \n" % line for line in lines))
  return folder


def patterned_lines(count):
  """A learnable toy language: sentences cycling through a fixed pattern."""
  words = ["a", "b", "c", "d", "e", "f", "g", "h"]
  return [" ".join(words[(i + k) % len(words)] for k in range(5))
          for i in range(count)]


def write_toy_corpus(folder):
  return write_corpus(folder, patterned_lines(400), patterned_lines(60),
                      patterned_lines(60))


@pytest.fixture
def toy_corpus(tmp_path):
  return write_toy_corpus(str(tmp_path / "toy"))


@functools.lru_cache(maxsize=None)
def unstopped_toy_run(config, seed):
  """The (train, valid, test) perplexities of an uninterrupted training on
  the toy corpus: what several tests' stopped and resumed runs must end at,
  trained once per test process (each training compiles its steps anew)."""
  import reader  # pylint: disable=g-import-not-at-top
  import trainer  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as folder:
    data = reader.load_ptb(write_toy_corpus(folder))
  return trainer.train_and_evaluate(config, data, seed=seed,
                                    log=lambda _: None)


def term_once_writing(process, folder, timeout=120):
  """Waits until `process` has put something into `folder` (a pathlib
  folder), sends it SIGTERM, and returns its stderr once it has ended."""
  deadline = time.monotonic() + timeout
  while not (folder.is_dir() and os.listdir(folder)):
    assert time.monotonic() < deadline and process.poll() is None
    time.sleep(0.01)
  process.send_signal(signal.SIGTERM)
  return process.communicate(timeout=60)[1]


# Set in the child pytest that runs a small_disk test in a user and mount
# namespace of its own, so that it skips rather than nests another one.
IN_OWN_MOUNT_NAMESPACE = "PTB_TEST_IN_OWN_MOUNT_NAMESPACE"
OWN_MOUNT_NAMESPACE = ["unshare", "--user", "--map-root-user", "--mount"]


@functools.cache
def own_mount_namespace_allowed():
  try:
    return subprocess.run(OWN_MOUNT_NAMESPACE + ["true"], capture_output=True,
                          check=False).returncode == 0
  except OSError:  # no unshare
    return False


@pytest.fixture
def small_disk(tmp_path):
  """A folder on a filesystem of its own (tmpfs) of 30 MB, to fill.

  Where this process may not mount one (not root), it is None, and the test
  runs again in a child pytest in a user and mount namespace of its own,
  where an unprivileged user may (see pytest_pyfunc_call); where that is not
  allowed either, the test skips. See remount_disk.
  """
  folder = tmp_path / "small-disk"
  folder.mkdir()
  mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=30m",
                            "tmpfs", str(folder)], capture_output=True,
                           text=True, check=False)
  if not mounted.returncode:
    yield folder
    subprocess.run(["umount", "--lazy", str(folder)], check=False)
  elif (os.environ.get(IN_OWN_MOUNT_NAMESPACE)
        or not own_mount_namespace_allowed()):
    pytest.skip("cannot mount a small filesystem here: %s"
                % mounted.stderr.strip())
  else:
    yield None


def pytest_pyfunc_call(pyfuncitem):
  """Runs a test whose small_disk could not be mounted here in a child
  pytest in a user and mount namespace of its own, where it can."""
  if pyfuncitem.funcargs.get("small_disk", True) is not None:
    return None  # the usual call
  child = subprocess.run(
      OWN_MOUNT_NAMESPACE + [
          sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
          "--basetemp=%s" % (pyfuncitem.funcargs["tmp_path"] / "child"),
          pyfuncitem.nodeid],
      cwd=str(pyfuncitem.config.rootpath), capture_output=True, text=True,
      env=dict(os.environ, **{IN_OWN_MOUNT_NAMESPACE: "1"}), check=False)
  if child.returncode:
    pytest.fail("in a mount namespace of its own:\n" + child.stdout[-4000:],
                pytrace=False)
  if " passed" not in child.stdout.splitlines()[-1]:
    pytest.skip("in a mount namespace of its own: "
                + child.stdout.splitlines()[-1])
  return True


def remount_disk(folder, options):
  """Changes a small_disk under a run: "size=80m" frees space, "ro" makes it
  read-only (which refuses root too, unlike a folder's mode)."""
  subprocess.run(["mount", "-o", "remount," + options, str(folder)],
                 check=True)


def fill_disk(folder):
  """Writes a file into `folder` until its filesystem has no byte left."""
  with open(os.path.join(folder, "filler"), "wb", buffering=0) as f:
    for chunk in (1 << 20, 4096, 1):
      try:
        while True:
          f.write(b"\0" * chunk)
      except OSError:
        pass


def run_script(script, *args, prelude=""):
  """Runs this project's `script` with `args` in a fresh Python, after the
  Python source `prelude` has run there: the program in a world changed on
  purpose (an import made to fail, a signal at a chosen moment)."""
  return subprocess.run(
      [sys.executable, "-c", prelude + _RUN_THE_SCRIPT,
       os.path.join(ROOT, script), *args],
      capture_output=True, text=True, timeout=300)


_RUN_THE_SCRIPT = """
import runpy, sys
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_into_a_closed_pipe(command, unbuffered):
  """(exit status, standard error) of command writing into a pipe whose
  reader is gone, as `| head` leaves it."""
  read_end, write_end = os.pipe()
  os.close(read_end)
  environment = dict(os.environ, PYTHONUNBUFFERED=unbuffered)
  try:
    ended = subprocess.run(command, stdout=write_end, stderr=subprocess.PIPE,
                           text=True, env=environment, cwd=ROOT, timeout=60,
                           check=False)
  finally:
    os.close(write_end)
  return ended.returncode, ended.stderr


def run_terminated_once_a_folder_is_made(under, script, *args):
  """Runs `script`, which sends itself SIGTERM the moment it has made a
  folder under the path `under`: the worst moment for a TERM, which a test
  that waits for the folder to appear reaches only by chance."""
  return run_script(script, *args, prelude="""
import os, signal
make_folder = os.mkdir
def mkdir(path, *args, **kwargs):
  make_folder(path, *args, **kwargs)
  if os.path.abspath(path).startswith(%r):
    os.kill(os.getpid(), signal.SIGTERM)
os.mkdir = mkdir
""" % str(under))


def run_lm(capsys, *args):
  """lm.py's command line, run by its main in this process (a TensorFlow
  start of its own each time would take seconds); as subprocess.run
  returns it."""
  import lm  # pylint: disable=g-import-not-at-top
  status = lm.main(list(args))
  output = capsys.readouterr()
  return subprocess.CompletedProcess(["lm.py", *args], status, output.out,
                                     output.err)
