"""The one exception type for problems in what the user gave us."""


class InputError(ValueError):
  """Bad data, flags or checkpoint: reported as one line, exit status 1.

  A ValueError, so callers of the library can catch the usual type.
  """
