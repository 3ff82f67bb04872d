"""The logs of long runs: scripts/logged_run.sh writes them stretch by
stretch, run_time.py adds the stretches up, plot_runs.py reads the epochs,
compare_logs.py tells whether two runs printed the same numbers."""

import calendar
import contextlib
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from conftest import run_into_a_closed_pipe

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import compare_logs  # pylint: disable=g-import-not-at-top,wrong-import-position
import plot_runs  # pylint: disable=g-import-not-at-top,wrong-import-position
import run_time  # pylint: disable=g-import-not-at-top,wrong-import-position

SCRIPT = os.path.join(ROOT, "scripts", "logged_run.sh")


def wait_for_line(log, line):
  # (A start line quotes the command, the awaited word included: so the
  # whole line, not a part of one.)
  deadline = time.time() + 30
  while line not in (log.read_text().splitlines() if log.exists() else []):
    assert time.time() < deadline
    time.sleep(0.05)


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
  assert re.fullmatch(r"=== on Python \d+\.\d+\.\d+, TensorFlow \S+, Keras \S+, "
                      r"NumPy \S+, absl-py \S+; .+, \d+ cores", lines[2])
  assert lines[3:5] == ["out", "err"]
  assert re.fullmatch(r"=== end .* UTC exit 3 after \d+ s", lines[5])


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
  wait_for_line(log, "ready")
  process.send_signal(signal.SIGTERM)
  assert process.wait(timeout=30) == 143
  lines = log.read_text().splitlines()
  assert lines[2:4] == ["ready", "saved"]
  assert re.fullmatch(r"=== end .* exit 143 after \d+ s", lines[4])


def test_a_stretch_killed_unseen_is_cut_off_at_its_last_line(tmp_path):
  # The machine (or the session) stopped under the last stretch: no end
  # line. Its last line was written at 09:21:40, 2 h 31 min 21 s after it
  # started. (The one before it, from before cut-off lines, has none either.)
  log = tmp_path / "run.log"
  log.write_text(
      "=== start 2026-12-06 23:00:00 UTC commit d174dde host vm 2 cores: x\n"
      "=== start 2026-12-07 06:50:19 UTC commit d174dde host vm 2 cores: x\n"
      "0.505 perplexity: 139.533 speed: 320 wps\n")
  last_written = calendar.timegm((2026, 12, 7, 9, 21, 40))
  os.utime(log, (last_written, last_written))
  # The times in the log are UTC, whatever the machine's time zone.
  subprocess.run([SCRIPT, str(log), "echo", "resumed"], check=True, timeout=60,
                 env=dict(os.environ, TZ="Asia/Tokyo"))
  lines = log.read_text().splitlines()
  assert lines[3] == ("=== cut off 2026-12-07 09:21:40 UTC after 9081 s: no "
                      "end line, the time is its last line's")
  assert lines[4].startswith("=== start ")
  assert lines[6] == "resumed"
  # An ended stretch is not cut off again by the next.
  subprocess.run([SCRIPT, str(log), "echo", "again"], check=True, timeout=60)
  assert [line for line in log.read_text().splitlines()
          if line.startswith("=== cut off")] == [lines[3]]


def test_a_log_that_cannot_be_written_is_one_line(tmp_path):
  log = tmp_path / "no-such-folder" / "run.log"
  ran = tmp_path / "ran"
  result = subprocess.run([SCRIPT, str(log), "touch", str(ran)],
                          capture_output=True, text=True, timeout=60)
  assert (result.returncode, result.stdout) == (2, "")
  assert result.stderr == ("error: cannot write the log %s: is its folder "
                           "there, and writable?\n" % log)
  assert not ran.exists()  # a run whose output would be lost is not begun


def test_a_log_a_running_stretch_writes_is_refused(tmp_path):
  log = tmp_path / "run.log"
  first = subprocess.Popen([SCRIPT, str(log), sys.executable, "-c",
                            "print('ready', flush=True); import time; "
                            "time.sleep(60)"], start_new_session=True)
  try:
    wait_for_line(log, "ready")
    before = log.read_text()
    # Killed alone (kill -9), the wrapper leaves its command running, and
    # the lock with it.
    first.kill()
    first.wait(timeout=30)
    second = subprocess.run([SCRIPT, str(log), "echo", "second"],
                            capture_output=True, text=True, timeout=60)
    assert (second.returncode, second.stdout) == (2, "")
    assert second.stderr == (
        "error: %s is being written by a stretch still running; stop that "
        "one first (kill -TERM its logged_run.sh) or give another log\n" % log)
    assert log.read_text() == before
    # Another log is another run's: it goes ahead.
    subprocess.run([SCRIPT, str(tmp_path / "other.log"), "echo", "other"],
                   check=True, timeout=60)
  finally:
    with contextlib.suppress(ProcessLookupError):
      os.killpg(first.pid, signal.SIGKILL)


LOG = """=== start 2026-11-27 03:32:02 UTC commit 87694a3 host vm 2 cores: python x
Epoch: 1 Learning rate: 1.000
0.008 perplexity: 5136.494 speed: 1122 wps
Epoch: 1 Train Perplexity: 357.102
Epoch: 1 Valid Perplexity: 206.250
Epoch: 2 Learning rate: 1.000
SIGTERM: stopped in epoch 2 at batch 20 of 1327; saved to x: run the same ...
=== end 2026-11-27 04:02:02 UTC exit 143 after 1800 s
=== start 2026-11-27 05:00:00 UTC commit 87694a3 host vm 2 cores: python x
Epoch: 2 Learning rate: 1.000
=== start 2026-11-28 01:00:00 UTC commit 87694a3 host vm 2 cores: python x
Epoch: 2 Learning rate: 1.000
Epoch: 2 Train Perplexity: 180.000
Epoch: 2 Valid Perplexity: 150.000
Test Perplexity: 140.500
=== end 2026-11-28 02:00:00 UTC exit 0 after 3600 s
"""


def test_run_time_adds_up_the_stretches(tmp_path, capsys):
  (tmp_path / "run.log").write_text(LOG)
  run_time.main(str(tmp_path / "run.log"))
  assert capsys.readouterr().out.splitlines() == [
      "stretch 1: 2026-11-27 03:32:02 UTC, commit 87694a3, 0 h 30 min, exit 143",
      "stretch 2: 2026-11-27 05:00:00 UTC, commit 87694a3, no end line (not "
      "counted)",
      "stretch 3: 2026-11-28 01:00:00 UTC, commit 87694a3, 1 h 00 min, exit 0",
      "running: 1 h 30 min in 3 stretches",
      "wall time from first start to last end: 22 h 27 min"]


def test_run_time_counts_a_cut_off_stretch_to_its_last_line(tmp_path,
                                                            capsys):
  cut_off = LOG.replace(
      "=== start 2026-11-28 01:00:00",
      "=== cut off 2026-11-27 06:00:00 UTC after 3600 s: no end line, the "
      "time is its last line's\n=== start 2026-11-28 01:00:00")
  (tmp_path / "run.log").write_text(cut_off)
  run_time.main(str(tmp_path / "run.log"))
  assert capsys.readouterr().out.splitlines()[1:4] == [
      "stretch 2: 2026-11-27 05:00:00 UTC, commit 87694a3, 1 h 00 min to its "
      "last line, cut off",
      "stretch 3: 2026-11-28 01:00:00 UTC, commit 87694a3, 1 h 00 min, exit 0",
      "running: 2 h 30 min in 3 stretches"]


def test_run_time_of_one_stretch(tmp_path, capsys):
  (tmp_path / "run.log").write_text(LOG.split("=== start 2026-11-27 05")[0])
  run_time.main(str(tmp_path / "run.log"))
  assert capsys.readouterr().out.splitlines()[1:] == [
      "running: 0 h 30 min in 1 stretch",
      "wall time from first start to last end: 0 h 30 min"]


def test_plot_reads_the_epochs_of_a_resumed_run(tmp_path):
  (tmp_path / "run.log").write_text(LOG)
  curves, test = plot_runs.read_log(str(tmp_path / "run.log"))
  assert curves == {"Train": {1: 357.102, 2: 180.0},
                    "Valid": {1: 206.25, 2: 150.0}}
  assert test == 140.5


def test_plot_titles_name_the_test_or_the_epochs_of_a_run_without_one(
    tmp_path):
  (tmp_path / "run.log").write_text(LOG)
  curves, test = plot_runs.read_log(str(tmp_path / "run.log"))
  assert plot_runs.panel_title("medium", curves, test) == (
      "medium (test 140.500)")
  (tmp_path / "run.log").write_text(LOG.split("Test Perplexity")[0])
  curves, test = plot_runs.read_log(str(tmp_path / "run.log"))
  assert plot_runs.panel_title("large", curves, test) == (
      "large (2 epochs, not finished)")
  del curves["Train"][2]
  assert plot_runs.panel_title("large", curves, test) == (
      "large (1 epoch, not finished)")


def test_run_time_of_a_missing_log_is_one_line(tmp_path):
  with pytest.raises(SystemExit) as exited:
    run_time.main(str(tmp_path / "none.log"))
  assert exited.value.code == ("error: cannot read %s: No such file or "
                               "directory" % (tmp_path / "none.log"))


def test_run_time_of_a_log_without_start_lines_is_one_line(tmp_path):
  # A log written by hand (or by the training's own output, not through
  # logged_run.sh) has epochs but no stretches to add up.
  without_stretches = "".join(line for line in LOG.splitlines(True)
                              if not line.startswith("==="))
  (tmp_path / "run.log").write_text(without_stretches)
  with pytest.raises(SystemExit) as exited:
    run_time.main(str(tmp_path / "run.log"))
  assert exited.value.code == ("error: %s has no '=== start' line of "
                               "logged_run.sh" % (tmp_path / "run.log"))


@pytest.mark.parametrize("unbuffered", ["1", ""])
@pytest.mark.parametrize("script, logs", [("run_time.py", 1),
                                          ("compare_logs.py", 2)])
def test_a_table_into_a_closed_pipe_ends_quietly(tmp_path, script, logs,
                                                 unbuffered):
  (tmp_path / "run.log").write_text(LOG)
  command = [sys.executable, os.path.join(ROOT, "scripts", script),
             *[str(tmp_path / "run.log")] * logs]
  assert run_into_a_closed_pipe(command, unbuffered) == (
      128 + signal.SIGPIPE, "")


def test_run_time_without_a_log_says_how_to_call_it():
  script = os.path.join(ROOT, "scripts", "run_time.py")
  ended = subprocess.run([sys.executable, script], capture_output=True,
                         text=True, timeout=60, check=False)
  assert (ended.returncode, ended.stdout, ended.stderr) == (
      1, "", "usage: %s LOG\n" % script)


def test_plot_of_a_log_without_epochs_is_one_line(tmp_path):
  pytest.importorskip("matplotlib")
  (tmp_path / "run.log").write_text(LOG.split("Epoch: 1 Train")[0])
  with pytest.raises(SystemExit) as exited:
    plot_runs.main([str(tmp_path / "run.log"),
                    "--output", str(tmp_path / "plot.png")])
  assert exited.value.code == ("error: %s has no 'Epoch: N Train "
                               "Perplexity' line" % (tmp_path / "run.log"))
  assert os.listdir(tmp_path) == ["run.log"]


@pytest.mark.parametrize("output, reason", [
    ("none/plot.png", "No such file or directory"),
    ("plot.txt", "Format 'txt' is not supported"),
    ("", "Is a directory"),  # the folder itself
])
def test_a_plot_that_cannot_be_written_is_one_line(tmp_path, output, reason):
  pytest.importorskip("matplotlib")
  (tmp_path / "run.log").write_text(LOG)
  output = str(tmp_path / output)
  with pytest.raises(SystemExit) as exited:
    plot_runs.main([str(tmp_path / "run.log"), "--output", output])
  assert exited.value.code.startswith("error: cannot write %s: %s"
                                      % (output, reason))
  assert os.listdir(tmp_path) == ["run.log"]


def test_a_plot_named_without_an_extension_is_a_png_of_that_name(tmp_path,
                                                                 capsys):
  pytest.importorskip("matplotlib")
  (tmp_path / "run.log").write_text(LOG)
  plot_runs.main([str(tmp_path / "run.log"), "--output",
                  str(tmp_path / "plot")])
  assert capsys.readouterr().out == "wrote %s\n" % (tmp_path / "plot")
  assert sorted(os.listdir(tmp_path)) == ["plot", "run.log"]
  assert (tmp_path / "plot").read_bytes().startswith(b"\x89PNG")


def test_a_plot_interrupted_while_written_leaves_the_last_one(tmp_path,
                                                              monkeypatch):
  pytest.importorskip("matplotlib")
  from matplotlib import figure  # pylint: disable=g-import-not-at-top
  (tmp_path / "run.log").write_text(LOG)
  (tmp_path / "plot.png").write_bytes(b"last plot")

  def interrupted(self, f, **_):
    del self
    f.write(b"\x89PNG half")
    raise KeyboardInterrupt
  monkeypatch.setattr(figure.Figure, "savefig", interrupted)
  with pytest.raises(KeyboardInterrupt):
    plot_runs.main([str(tmp_path / "run.log"),
                    "--output", str(tmp_path / "plot.png")])
  assert sorted(os.listdir(tmp_path)) == ["plot.png", "run.log"]
  assert (tmp_path / "plot.png").read_bytes() == b"last plot"


def test_ctrl_c_while_plotting_is_one_line_and_status_130(tmp_path):
  pytest.importorskip("matplotlib")
  # A log that is a pipe holds the script inside its reading, past its
  # imports, until the test has sent Ctrl-C (SIGINT) there.
  os.mkfifo(tmp_path / "run.log")
  # Python leaves Ctrl-C ignored in a program started with it ignored, as
  # everything a shell script starts with `&` is (a CI run, say): give the
  # script the terminal's default.
  plotting = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, "scripts", "plot_runs.py"),
       str(tmp_path / "run.log"), "--output", str(tmp_path / "plot.png")],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  with open(tmp_path / "run.log", "w"):  # opens once the script reads
    plotting.send_signal(signal.SIGINT)
    out, err = plotting.communicate(timeout=60)
  assert (plotting.returncode, out, err) == (130, "", "interrupted\n")
  assert os.listdir(tmp_path) == ["run.log"]


# LOG's run as it would print without stopping: no stretches, the same
# numbers at other speeds, and epoch 2's first progress line.
UNSTOPPED = """Epoch: 1 Learning rate: 1.000
0.008 perplexity: 5136.494 speed: 987 wps
Epoch: 1 Train Perplexity: 357.102
Epoch: 1 Valid Perplexity: 206.250
Epoch: 2 Learning rate: 1.000
0.008 perplexity: 210.123 speed: 990 wps
Epoch: 2 Train Perplexity: 180.000
Epoch: 2 Valid Perplexity: 150.000
Test Perplexity: 140.500
"""


def compare(tmp_path, capsys, text_a, text_b):
  (tmp_path / "a.log").write_text(text_a)
  (tmp_path / "b.log").write_text(text_b)
  status = compare_logs.main(str(tmp_path / "a.log"), str(tmp_path / "b.log"))
  return status, capsys.readouterr().out.splitlines()


def test_compare_a_resumed_run_with_an_unstopped_one(tmp_path, capsys):
  status, out = compare(tmp_path, capsys, LOG, UNSTOPPED)
  assert status == 0
  assert out[2:] == [
      "epoch     train A    train B     valid A    valid B",
      "    1     357.102    357.102     206.250    206.250",
      "    2     180.000    180.000     150.000    150.000",
      "same: 6 of the 6 lines both logs printed, from epoch 1 0.008 to test"]


def test_compare_a_finished_run_with_one_still_going(tmp_path, capsys):
  # The table keeps to the epochs both printed; the summary says how far.
  going = UNSTOPPED.split("Epoch: 2 Train")[0]
  status, out = compare(tmp_path, capsys, UNSTOPPED, going)
  assert status == 0
  assert out[2:] == [
      "epoch     train A    train B     valid A    valid B",
      "    1     357.102    357.102     206.250    206.250",
      "same: 4 of the 4 lines both logs printed, from epoch 1 0.008 to "
      "epoch 2 0.008"]


def test_compare_without_two_logs_says_how_to_call_it(tmp_path):
  script = os.path.join(ROOT, "scripts", "compare_logs.py")
  ended = subprocess.run([sys.executable, script, str(tmp_path)],
                         capture_output=True, text=True, timeout=60,
                         check=False)
  assert (ended.returncode, ended.stdout, ended.stderr) == (
      1, "", "usage: %s LOG_A LOG_B\n" % script)


def test_compare_names_each_line_that_differs_and_by_how_much(tmp_path,
                                                               capsys):
  # Epoch 2's progress line differs where epoch 1's, at the same fraction,
  # does not: lines are told apart by their epoch.
  other = (UNSTOPPED.replace("210.123", "210.124")
           .replace("Valid Perplexity: 150.000", "Valid Perplexity: 150.500"))
  status, out = compare(tmp_path, capsys, UNSTOPPED, other)
  assert status == 1
  assert out[-3:] == [
      "differs: epoch 2 0.008: 210.123 in A, 210.124 in B "
      "(A / B - 1 = -4.8e-06)",
      "differs: epoch 2 valid: 150.000 in A, 150.500 in B "
      "(A / B - 1 = -3.3e-03)",
      "differ: 2 of the 7 lines both logs printed, from epoch 1 0.008 to test"]


@pytest.mark.parametrize("a, b, said", [
    ("100.000", "99.000", "A / B - 1 = +1.0e-02"),
    ("nan", "99.000", "A / B - 1 = +nan"),
    ("1.000", "0.000", "B is 0"),  # only in a log made by hand
])
def test_compare_says_how_far_apart_two_perplexities_are(a, b, said):
  assert compare_logs.relative(a, b) == said


def test_compare_lists_the_first_ten_differences(tmp_path, capsys):
  progress = "".join("0.%03d perplexity: %d.000 speed: 9 wps\n" % (i, 900 - i)
                     for i in range(1, 13))
  status, out = compare(tmp_path, capsys,
                        "Epoch: 1 Learning rate: 1.000\n" + progress,
                        "Epoch: 1 Learning rate: 1.000\n" +
                        progress.replace(".000 speed", ".001 speed"))
  assert status == 1
  assert out[2] == ("differs: epoch 1 0.001: 899.000 in A, 899.001 in B "
                    "(A / B - 1 = -1.1e-06)")
  assert out[11].startswith("differs: epoch 1 0.010: 890.000 in A")
  assert out[12:] == [
      "differs: ... and 2 lines more",
      "differ: 12 of the 12 lines both logs printed, from epoch 1 0.001 to "
      "epoch 1 0.012"]


def test_compare_committed_large_runs_on_two_avx512_processors(capsys):
  status = compare_logs.main(
      os.path.join(ROOT, "results", "large-seed1-amd25-avx512.log"),
      os.path.join(ROOT, "results", "large-seed1-intel.log"))
  assert status == 0
  assert capsys.readouterr().out.splitlines()[-1] == (
      "same: 88 of the 88 lines both logs printed, from epoch 1 0.008 to "
      "epoch 8 0.306")


def test_compare_committed_large_runs_on_avx2_and_avx512(capsys):
  status = compare_logs.main(
      os.path.join(ROOT, "results", "large-seed1-amd25.log"),
      os.path.join(ROOT, "results", "large-seed1-intel.log"))
  assert status == 1
  out = capsys.readouterr().out.splitlines()
  assert out[22] == ("differs: epoch 1 0.008: 2325490.780 in A, 2325523.776 "
                     "in B (A / B - 1 = -1.4e-05)")
  assert out[-1] == ("differ: 235 of the 235 lines both logs printed, from "
                     "epoch 1 0.008 to epoch 20 0.604")


@pytest.mark.parametrize("text_b, error", [
    ("", "{b} has no perplexity lines of ptb_word_lm.py"),
    ("Epoch: 3 Learning rate: 0.5\nEpoch: 3 Train Perplexity: 99.000\n",
     "{a} and {b} share no perplexity line (the same epoch and line)"),
])
def test_compare_logs_that_cannot_be_compared_is_one_line(tmp_path, text_b,
                                                          error):
  (tmp_path / "a.log").write_text(LOG)
  (tmp_path / "b.log").write_text(text_b)
  with pytest.raises(SystemExit) as exited:
    compare_logs.main(str(tmp_path / "a.log"), str(tmp_path / "b.log"))
  assert exited.value.code == "error: " + error.format(
      a=tmp_path / "a.log", b=tmp_path / "b.log")


def test_compare_with_a_missing_log_is_one_line(tmp_path):
  with pytest.raises(SystemExit) as exited:
    compare_logs.main(str(tmp_path / "none.log"), str(tmp_path / "none.log"))
  assert exited.value.code == ("error: cannot read %s: No such file or "
                               "directory" % (tmp_path / "none.log"))
