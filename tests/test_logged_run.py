"""scripts/logged_run.sh: the log of a long run, stretch by stretch."""

import os
import re
import signal
import subprocess
import sys
import time

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "logged_run.sh")


def test_output_between_start_and_end_lines(tmp_path):
  log = tmp_path / "run.log"
  log.write_text("earlier stretch\n")
  result = subprocess.run([SCRIPT, str(log), "sh", "-c", "echo out; "
                           "echo err >&2; exit 3"], timeout=60)
  assert result.returncode == 3
  lines = log.read_text().splitlines()
  assert lines[0] == "earlier stretch"  # appended, never overwritten
  assert re.fullmatch(r"=== start \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC commit "
                      r"\w+ host \S+ \d+ cores: sh -c echo\\ out\\;.*",
                      lines[1])
  assert lines[2:4] == ["out", "err"]
  assert re.fullmatch(r"=== end .* UTC exit 3 after \d+ s", lines[4])


def test_term_is_passed_on_and_waited_for(tmp_path):
  log = tmp_path / "run.log"
  # A command that, like the trainer, takes a moment to save on SIGTERM.
  child = ("import signal, sys, time\n"
           "def save(*_):\n"
           "  time.sleep(1); print('saved', flush=True); sys.exit(143)\n"
           "signal.signal(signal.SIGTERM, save)\n"
           "print('ready', flush=True)\n"
           "time.sleep(60)\n")
  process = subprocess.Popen([SCRIPT, str(log), sys.executable, "-c", child])
  deadline = time.time() + 30
  while "ready" not in (log.read_text() if log.exists() else ""):
    assert time.time() < deadline
    time.sleep(0.05)
  process.send_signal(signal.SIGTERM)
  assert process.wait(timeout=30) == 143
  lines = log.read_text().splitlines()
  assert lines[1:3] == ["ready", "saved"]
  assert re.fullmatch(r"=== end .* exit 143 after \d+ s", lines[3])
