"""How the signals stop a run (stopping.StopOnSignal)."""

import os
import signal

import pytest

import stopping


def send(signum):
  os.kill(os.getpid(), signum)


def test_sigterm_asks_for_a_stop_and_a_second_one_does_not_quit():
  with stopping.StopOnSignal() as stop_requested:
    assert not stop_requested()
    send(signal.SIGTERM)
    assert stop_requested() and stop_requested.signal_name == "SIGTERM"
    # A scheduler may repeat its TERM while the run saves: it must go on
    # saving, not die half-way through the checkpoint.
    try:
      send(signal.SIGTERM)
    except KeyboardInterrupt:
      pytest.fail("a second SIGTERM quit at once, without saving")
    assert stop_requested.signal_name == "SIGTERM"


def test_a_second_ctrl_c_quits_at_once():
  with stopping.StopOnSignal() as stop_requested:
    send(signal.SIGINT)
    assert stop_requested.signal_name == "SIGINT"
    with pytest.raises(KeyboardInterrupt):
      send(signal.SIGINT)


def test_ctrl_c_after_a_sigterm_quits_at_once():
  with stopping.StopOnSignal() as stop_requested:
    send(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
      send(signal.SIGINT)
    assert stop_requested.signal_name == "SIGTERM"


def test_the_first_signal_is_the_one_said():
  with stopping.StopOnSignal() as stop_requested:
    send(signal.SIGINT)
    send(signal.SIGTERM)  # while the Ctrl-C's stop saves: not a second Ctrl-C
    assert stop_requested.signal_name == "SIGINT"


def test_the_previous_handlers_come_back():
  before = signal.getsignal(signal.SIGTERM)
  with stopping.StopOnSignal():
    assert signal.getsignal(signal.SIGTERM) != before
  assert signal.getsignal(signal.SIGTERM) == before


def test_listen_takes_the_signals_back():
  """As after TensorFlow's coordination service put its own SIGTERM
  handler in place (test_distribute's stop test covers the real one)."""
  with stopping.StopOnSignal() as stop_requested:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stop_requested.listen()
    send(signal.SIGTERM)
    assert stop_requested.signal_name == "SIGTERM"
