"""One run per save folder: the lock, who holds it, and a dead run's file."""

import fcntl
import os
import re
import subprocess
import sys

import pytest

from conftest import remount_disk, ROOT
import folder_lock

# Holds the lock of the folder argv[1] until its standard input closes.
HOLDER = """
import sys
sys.path.insert(0, %r)
import folder_lock
with folder_lock.held(sys.argv[1]):
  print("held", flush=True)
  sys.stdin.read()
""" % ROOT


def test_a_held_folder_names_its_holder(tmp_path):
  process = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
  try:
    assert process.stdout.readline() == "held\n"
    who = folder_lock.holder(str(tmp_path))
    assert who.startswith("process %d on " % process.pid)
    with pytest.raises(ValueError, match="^%s is in use by another run "
                       r"\(process %d on " % (tmp_path, process.pid)):
      with folder_lock.held(str(tmp_path)):
        pass
    with pytest.raises(ValueError, match="in use by another run"):
      folder_lock.check_not_in_use(str(tmp_path / "below" / "it"))
  finally:
    process.stdin.close()
    process.wait(timeout=30)
  # Ended: the lock and its file are gone, the folder is free.
  assert not (tmp_path / folder_lock.FILE).exists()
  assert folder_lock.holder(str(tmp_path)) is None
  folder_lock.check_not_in_use(str(tmp_path / "below"))


def test_the_file_of_a_dead_run_blocks_nothing(tmp_path):
  # Longer than the line that replaces it: none of it may be left.
  (tmp_path / folder_lock.FILE).write_text(
      "process 999999 on elsewhere since 2026-01-01 00:00:00 UTC: %s\n"
      % ("x" * 1000))
  assert folder_lock.holder(str(tmp_path)) is None
  with folder_lock.held(str(tmp_path)):
    text = (tmp_path / folder_lock.FILE).read_text()
    assert text.startswith("process %d on " % os.getpid())
    assert text.count("\n") == 1 and "x" * 1000 not in text
  assert not (tmp_path / folder_lock.FILE).exists()


def test_a_holder_that_has_not_yet_written_its_line(tmp_path):
  fd = os.open(tmp_path / folder_lock.FILE, os.O_RDWR | os.O_CREAT)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX)  # locked, and the file still empty
    assert folder_lock.holder(str(tmp_path)) == "a process that is starting"
    with pytest.raises(ValueError, match=r"in use by another run \(a process "
                       r"that is starting\)"):
      with folder_lock.held(str(tmp_path)):
        pass
  finally:
    os.close(fd)


def test_a_folder_made_for_a_run_that_wrote_nothing_is_removed(tmp_path):
  with folder_lock.held(str(tmp_path / "new")):
    assert (tmp_path / "new").is_dir()
  assert not (tmp_path / "new").exists()
  # The parents made for it go too, up to the folder that was there.
  (tmp_path / "there").mkdir()
  with folder_lock.held(str(tmp_path / "there" / "new" / "run")):
    pass
  assert os.listdir(tmp_path / "there") == []
  with folder_lock.held(str(tmp_path / "kept")):
    (tmp_path / "kept" / "config.json").write_text("{}")
  assert os.listdir(tmp_path / "kept") == ["config.json"]


def test_a_folder_on_a_read_only_disk_is_one_line(small_disk):
  folder = small_disk / "run"
  folder.mkdir()
  remount_disk(small_disk, "ro")  # refuses the lock file, even to root
  with pytest.raises(ValueError, match="^cannot save into %s: Read-only file "
                     "system$" % re.escape(str(folder))):
    with folder_lock.held(str(folder)):
      pass
  assert not os.listdir(folder)


def test_a_run_that_ends_between_our_open_and_our_lock(tmp_path, monkeypatch):
  # The ending run removes its file while it still holds the lock; our open
  # may come just before that removal and our lock just after its release.
  # Locking that removed file would let a third run take the folder too.
  (tmp_path / folder_lock.FILE).write_text("process 1 on elsewhere\n")
  real_flock, opened_inodes = fcntl.flock, []

  def ending_run_removes_its_file_first(fd, operation):
    opened_inodes.append(os.fstat(fd).st_ino)
    if len(opened_inodes) == 1:
      os.unlink(tmp_path / folder_lock.FILE)
    real_flock(fd, operation)

  monkeypatch.setattr(folder_lock.fcntl, "flock",
                      ending_run_removes_its_file_first)
  with folder_lock.held(str(tmp_path)):
    monkeypatch.setattr(folder_lock.fcntl, "flock", real_flock)
    assert len(opened_inodes) == 2  # tried again, on a file made anew
    lock_file = tmp_path / folder_lock.FILE
    assert os.stat(lock_file).st_ino == opened_inodes[1]
    assert folder_lock.holder(str(tmp_path)).startswith(
        "process %d on " % os.getpid())


def test_an_export_folder_must_be_new_and_under_a_folder(tmp_path):
  (tmp_path / "taken").mkdir()
  with pytest.raises(ValueError, match="^%s already exists; export into a new "
                     "folder$" % re.escape(str(tmp_path / "taken"))):
    folder_lock.check_export_folder(str(tmp_path / "taken"))
  (tmp_path / "notes.txt").write_text("")
  a_file = str(tmp_path / "notes.txt")
  inside_a_file = os.path.join(a_file, "model")
  with pytest.raises(ValueError, match="^cannot export into %s: %s is a file, "
                     "not a folder$" % (re.escape(inside_a_file),
                                        re.escape(a_file))):
    folder_lock.check_export_folder(inside_a_file)
  folder_lock.check_export_folder(str(tmp_path / "new" / "model"))  # fine
