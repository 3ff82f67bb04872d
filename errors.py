"""The one exception type for problems in what the user gave us, and how the
command-line programs report it."""

import os
import signal
import sys


class InputError(ValueError):
  """Bad data, flags or checkpoint: reported as one line, exit status 1.

  A ValueError, so callers of the library can catch the usual type.
  """


def exit_status_of(function, *args):
  """Runs function(*args), returning its exit status; bad input or an OS
  error (a folder that cannot be written) becomes one `error:` line and 1,
  Ctrl-C becomes `interrupted` and 130, a closed output pipe 141."""
  try:
    return function(*args)
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


def describe(error):
  """The error in words: an OS error as "path: reason", without Python's
  "[Errno 20]" and quotes."""
  if isinstance(error, OSError) and error.filename and error.strerror:
    return "%s: %s" % (error.filename, error.strerror)
  return str(error)
