"""How a run is asked to stop, and how it says where it stopped.

Apart from supervisor.py (which needs TensorFlow) so that a run can listen
for signals from its first moment, before TensorFlow has loaded.
"""

import signal


class StopOnSignal:
  """While active, SIGINT and SIGTERM ask the loop to stop after the batch
  in progress rather than kill it halfway through an update. Called, it
  says whether a stop was asked; `signal_name` says by which signal.
  A second Ctrl-C quits at once, keeping the last checkpoint."""

  SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __init__(self):
    self.signal_name = None

  def __call__(self):
    return self.signal_name is not None

  def __enter__(self):
    self._previous = {number: signal.getsignal(number)
                      for number in self.SIGNALS}
    self.listen()
    return self

  def listen(self):
    """Installs the handlers (again): TensorFlow's cluster coordination
    service puts a SIGTERM handler of its own in their place."""
    for number in self.SIGNALS:
      signal.signal(number, self._request)

  def __exit__(self, *exc_info):
    for number, handler in self._previous.items():
      signal.signal(number, handler)

  def _request(self, signum, frame):
    del frame
    if self.signal_name is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt  # a second Ctrl-C: the user wants out now
    self.signal_name = self.signal_name or signal.Signals(signum).name


class Interrupted(Exception):
  """The run stopped on request; `where` says in which pass, and
  `progress` (a trainer.EpochProgress) how far its training epoch got."""

  def __init__(self, where, progress=None):
    super().__init__("stopped %s" % where)
    self.where = where
    self.progress = progress
