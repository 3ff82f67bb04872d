"""The download path, against archives served from 127.0.0.1."""

import errno
import functools
import hashlib
import http.server
import io
import os
import re
import socket
import tarfile
import threading

import pytest

import download
import reader

CONTENTS = {name: (" %s text \n" % name).encode() * 50
            for name in reader.PTB_FILES}


def serve_folder(root):
  """Serves `root` on 127.0.0.1 in a thread; returns (base URL, request
  paths, a function that stops it)."""
  root.mkdir()
  requests = []

  class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
      requests.append(self.path)
      super().do_GET()

    def log_message(self, *args):
      pass

  httpd = http.server.ThreadingHTTPServer(
      ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()

  def stop():
    httpd.shutdown()
    httpd.server_close()

  return "http://127.0.0.1:%d/" % httpd.server_address[1], requests, stop


@pytest.fixture
def server(tmp_path):
  """Serves tmp_path/www on 127.0.0.1; yields (base URL, folder, request
  paths)."""
  base, requests, stop = serve_folder(tmp_path / "www")
  yield base, tmp_path / "www", requests
  stop()


@pytest.fixture
def mirror(tmp_path, monkeypatch):
  """A second server, tmp_path/mirror, standing in for MIRROR_URL."""
  base, requests, stop = serve_folder(tmp_path / "mirror")
  monkeypatch.setattr(download, "MIRROR_URL", base)
  yield base, tmp_path / "mirror", requests
  stop()


@pytest.fixture
def silent_host():
  """A host that accepts connections and never answers; yields its URL."""
  listener = socket.socket()
  listener.bind(("127.0.0.1", 0))
  listener.listen()
  yield "http://127.0.0.1:%d/simple-examples.tgz" % listener.getsockname()[1]
  listener.close()


@pytest.fixture
def fake_checksums(monkeypatch):
  monkeypatch.setattr(download, "FILE_SHA256", {
      name: hashlib.sha256(data).hexdigest()
      for name, data in CONTENTS.items()})


def make_archive(files, prefix="simple-examples/data/"):
  buffer = io.BytesIO()
  with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
    for name, data in files.items():
      info = tarfile.TarInfo(prefix + name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))
  return buffer.getvalue()


def serve(root, archive_bytes, name="simple-examples.tgz"):
  (root / name).write_bytes(archive_bytes)
  return name


def listing(folder):
  return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


@pytest.mark.parametrize("prefix", ["simple-examples/data/",
                                    "./simple-examples/data/"])
def test_good_archive_is_extracted_once(server, fake_checksums, tmp_path,
                                        prefix):
  base, root, requests = server
  extra = {"../../../escaped.txt": b"x", "README": b"not needed"}
  name = serve(root, make_archive({**CONTENTS, **extra}, prefix))
  data_path = str(tmp_path / "data")
  assert download.ensure_ptb_files(data_path, base + name) == data_path
  assert listing(data_path) == sorted(reader.PTB_FILES)
  for file_name, data in CONTENTS.items():
    with open(os.path.join(data_path, file_name), "rb") as f:
      assert f.read() == data
  assert not (tmp_path / "escaped.txt").exists()
  assert download.ensure_ptb_files(data_path, base + name) == data_path
  assert requests == ["/" + name]  # the second call used the cached files


def test_a_download_stopped_between_files_is_completed(server, fake_checksums,
                                                       tmp_path):
  base, root, requests = server
  name = serve(root, make_archive(CONTENTS))
  data_path = tmp_path / "data"
  data_path.mkdir()
  (data_path / reader.TRAIN_FILE).write_bytes(CONTENTS[reader.TRAIN_FILE])
  assert download.ensure_ptb_files(str(data_path), base + name) == str(
      data_path)
  for file_name, data in CONTENTS.items():
    assert (data_path / file_name).read_bytes() == data
  assert requests == ["/" + name]


def test_a_corpus_of_ones_own_is_never_overwritten(server, fake_checksums,
                                                   tmp_path):
  """A folder with the user's own training file but no valid or test file
  is an error: a download would have replaced it, or mixed PTB into it."""
  base, root, requests = server
  name = serve(root, make_archive(CONTENTS))
  data_path = tmp_path / "mine"
  data_path.mkdir()
  (data_path / reader.TRAIN_FILE).write_text(" my own words \n")
  with pytest.raises(ValueError) as raised:
    download.ensure_ptb_files(str(data_path), base + name)
  assert str(raised.value) == (
      "%s has ptb.train.txt but no ptb.valid.txt, ptb.test.txt: a corpus of "
      "your own needs all three files (a folder with none of them gets PTB "
      "downloaded)" % data_path)
  assert listing(data_path) == [reader.TRAIN_FILE]
  assert (data_path / reader.TRAIN_FILE).read_text() == " my own words \n"
  assert requests == []


@pytest.mark.parametrize("inner", ["simple-examples/data", "data", "ptb"])
def test_the_data_folder_of_an_unpacked_archive_is_found(server, tmp_path,
                                                         capsys, inner):
  """--data_path at the folder simple-examples.tgz was unpacked into, at
  simple-examples/ itself, or at a folder that keeps them in ptb/, reads the
  files inside: no download."""
  base, _, requests = server
  unpacked = tmp_path / "unpacked"
  (unpacked / inner).mkdir(parents=True)
  for file_name, data in CONTENTS.items():
    (unpacked / inner / file_name).write_bytes(data)
  assert download.ensure_ptb_files(str(unpacked), base + "x.tgz") == str(
      unpacked / inner)
  assert capsys.readouterr().err == "reading the PTB files in %s\n" % (
      unpacked / inner)
  assert requests == []
  assert listing(str(unpacked)) == [inner.split("/")[0]]


def test_tampered_file_fails_its_checksum(server, fake_checksums, tmp_path):
  base, root, _ = server
  tampered = dict(CONTENTS, **{"ptb.valid.txt": b" changed \n"})
  name = serve(root, make_archive(tampered))
  data_path = str(tmp_path / "data")
  with pytest.raises(ValueError, match="checksum mismatch for ptb.valid.txt"):
    download.ensure_ptb_files(data_path, base + name)
  assert listing(data_path) == []


def test_truncated_archive_is_reported(server, fake_checksums, tmp_path):
  base, root, _ = server
  whole = make_archive(CONTENTS)
  name = serve(root, whole[:len(whole) // 2])
  data_path = str(tmp_path / "data")
  with pytest.raises(ValueError, match="corrupt or truncated"):
    download.ensure_ptb_files(data_path, base + name)
  assert listing(data_path) == []


def test_garbage_archive_is_reported(server, fake_checksums, tmp_path):
  base, root, _ = server
  name = serve(root, b"this is not a gzip file" * 100)
  with pytest.raises(ValueError, match="corrupt or truncated"):
    download.ensure_ptb_files(str(tmp_path / "data"), base + name)


def test_archive_without_the_files_is_reported(server, fake_checksums,
                                               tmp_path):
  base, root, _ = server
  name = serve(root, make_archive({"ptb.train.txt": CONTENTS["ptb.train.txt"]}))
  with pytest.raises(ValueError, match="lacks simple-examples/data/ptb.test"):
    download.ensure_ptb_files(str(tmp_path / "data"), base + name)


def test_members_that_are_not_files_are_not_the_files(server, fake_checksums,
                                                      tmp_path):
  # A folder and a link by the names of two of the files: neither is read.
  buffer = io.BytesIO()
  with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
    train = tarfile.TarInfo("simple-examples/data/ptb.train.txt")
    train.size = len(CONTENTS["ptb.train.txt"])
    tar.addfile(train, io.BytesIO(CONTENTS["ptb.train.txt"]))
    link = tarfile.TarInfo("simple-examples/data/ptb.valid.txt")
    link.type, link.linkname = tarfile.SYMTYPE, "ptb.train.txt"
    tar.addfile(link)
    folder = tarfile.TarInfo("simple-examples/data/ptb.test.txt")
    folder.type = tarfile.DIRTYPE
    tar.addfile(folder)
  base, root, _ = server
  name = serve(root, buffer.getvalue())
  with pytest.raises(ValueError) as raised:
    download.ensure_ptb_files(str(tmp_path / "data"), base + name)
  assert str(raised.value) == (
      "the downloaded archive lacks simple-examples/data/ptb.test.txt, "
      "simple-examples/data/ptb.valid.txt")
  assert not (tmp_path / "data").exists()


def test_archive_md5_is_checked_at_the_default_url(server, fake_checksums,
                                                   tmp_path, monkeypatch):
  base, root, _ = server
  name = serve(root, make_archive(CONTENTS))
  monkeypatch.setattr(download, "DEFAULT_URL", base + name)
  data_path = str(tmp_path / "data")
  with pytest.raises(ValueError, match="md5"):
    download.ensure_ptb_files(data_path, base + name)
  assert listing(data_path) == []


def test_network_failure_is_reported(server, tmp_path):
  base, _, _ = server
  (tmp_path / "data").mkdir()
  with pytest.raises(ValueError, match="could not download"):
    download.ensure_ptb_files(str(tmp_path / "data"), base + "missing.tgz")
  assert listing(str(tmp_path / "data")) == []  # an existing folder stays


def test_a_failed_download_removes_the_folders_made_for_it(server, tmp_path):
  # A data path mistyped a level too deep: the missing parent goes too.
  base, _, _ = server
  (tmp_path / "there").mkdir()
  data_path = tmp_path / "there" / "typo" / "data"
  with pytest.raises(ValueError, match="could not download"):
    download.ensure_ptb_files(str(data_path), base + "missing.tgz")
  assert os.listdir(tmp_path / "there") == []


def test_data_path_that_is_a_file(tmp_path):
  (tmp_path / "file").write_text("x")
  with pytest.raises(ValueError, match="is not a folder: give the folder "
                                       "that holds"):
    download.ensure_ptb_files(str(tmp_path / "file"), "http://127.0.0.1:9/")


def test_a_data_path_that_cannot_be_made_is_named(tmp_path):
  (tmp_path / "file").write_text("x")
  data_path = str(tmp_path / "file" / "ptb")
  with pytest.raises(ValueError, match="cannot download into %s: Not a "
                                       "directory$" % data_path):
    download.ensure_ptb_files(data_path, "http://127.0.0.1:9/")


def test_real_archive_verifies(server, ptb_path, tmp_path):
  base, root, _ = server
  real = {}
  for name in reader.PTB_FILES:
    with open(os.path.join(ptb_path, name), "rb") as f:
      real[name] = f.read()
  name = serve(root, make_archive(real))
  data_path = str(tmp_path / "data")
  download.ensure_ptb_files(data_path, base + name)
  assert len(reader.load_ptb(data_path).train) == 929589


def serve_files(root, files):
  for name, data in files.items():
    (root / name).write_bytes(data)


def test_mirror_when_the_default_host_fails(server, mirror, fake_checksums,
                                            tmp_path, monkeypatch, capsys):
  base, _, requests = server
  monkeypatch.setattr(download, "DEFAULT_URL", base + "gone.tgz")
  mirror_base, mirror_root, mirror_requests = mirror
  serve_files(mirror_root, CONTENTS)
  data_path = str(tmp_path / "data")
  download.ensure_ptb_files(data_path)
  assert listing(data_path) == sorted(reader.PTB_FILES)
  for name, data in CONTENTS.items():
    with open(os.path.join(data_path, name), "rb") as f:
      assert f.read() == data
  assert requests == ["/gone.tgz"]
  assert sorted(mirror_requests) == sorted("/" + n for n in reader.PTB_FILES)
  said = capsys.readouterr()
  assert said.out == ""  # standard output is the reference's lines only
  assert "could not download %sgone.tgz: HTTP Error 404: File not found; trying %s" % (
      base, mirror_base) in said.err
  assert "PTB files from %s saved in %s" % (mirror_base, data_path) in said.err


def test_a_silent_host_times_out_and_the_mirror_is_used(
    silent_host, mirror, fake_checksums, tmp_path, monkeypatch):
  monkeypatch.setattr(download, "DEFAULT_URL", silent_host)
  monkeypatch.setattr(download, "TIMEOUT_SECS", 1)
  serve_files(mirror[1], CONTENTS)
  # In a thread, so that a download that hangs fails the test, not CI.
  thread = threading.Thread(target=download.ensure_ptb_files,
                            args=(str(tmp_path / "data"),), daemon=True)
  thread.start()
  thread.join(timeout=30)
  assert not thread.is_alive(), "the download hung on the silent host"
  assert listing(str(tmp_path / "data")) == sorted(reader.PTB_FILES)


def test_an_explicit_url_has_no_fallback(server, mirror, fake_checksums,
                                         tmp_path):
  serve_files(mirror[1], CONTENTS)
  with pytest.raises(ValueError, match="could not download .*gone.tgz"):
    download.ensure_ptb_files(str(tmp_path / "data"), server[0] + "gone.tgz")
  assert mirror[2] == []
  assert not (tmp_path / "data").exists()


def test_both_sources_failing_names_both(server, mirror, fake_checksums,
                                        tmp_path, monkeypatch):
  monkeypatch.setattr(download, "DEFAULT_URL", server[0] + "gone.tgz")
  serve_files(mirror[1], dict(CONTENTS, **{"ptb.test.txt": b"changed\n"}))
  with pytest.raises(ValueError) as error:
    download.ensure_ptb_files(str(tmp_path / "data"))
  assert str(error.value).startswith("could not download %sgone.tgz: HTTP "
                                     "Error 404: File not found; checksum mismatch for "
                                     "ptb.test.txt from %s" % (server[0],
                                                               mirror[0]))
  assert str(error.value).endswith(
      ": put simple-examples.tgz, downloaded by hand, in %s to use it "
      "instead" % (tmp_path / "data"))
  assert not (tmp_path / "data").exists()


def test_an_archive_downloaded_by_hand_is_given_by_its_path(
    fake_checksums, tmp_path, monkeypatch, capsys):
  (tmp_path / "downloads").mkdir()
  archive = tmp_path / "downloads" / "simple-examples.tgz"
  archive.write_bytes(make_archive(CONTENTS))
  monkeypatch.chdir(tmp_path / "downloads")  # a relative path, as typed
  data_path = str(tmp_path / "data")
  assert download.ensure_ptb_files(data_path, "simple-examples.tgz") == (
      data_path)
  assert listing(data_path) == sorted(reader.PTB_FILES)
  assert archive.exists()  # the user's archive is read, not moved
  assert capsys.readouterr().err.splitlines()[0] == (
      "ptb.train.txt, ptb.valid.txt, ptb.test.txt not found in %s; taking "
      "them from simple-examples.tgz" % data_path)
  # ~ as the shell leaves it after "=" (--data_url=~/simple-examples.tgz).
  monkeypatch.setenv("HOME", str(tmp_path / "downloads"))
  data_path = str(tmp_path / "data2")
  assert download.ensure_ptb_files(data_path, "~/simple-examples.tgz") == (
      data_path)
  assert listing(data_path) == sorted(reader.PTB_FILES)


def test_an_archive_put_in_the_data_folder_is_used(server, fake_checksums,
                                                   tmp_path, monkeypatch,
                                                   capsys):
  base, root, requests = server
  serve(root, make_archive(CONTENTS))
  monkeypatch.setattr(download, "DEFAULT_URL", base + "simple-examples.tgz")
  (tmp_path / "data").mkdir()
  archive = tmp_path / "data" / "simple-examples.tgz"
  archive.write_bytes(make_archive(CONTENTS))
  data_path = str(tmp_path / "data")
  assert download.ensure_ptb_files(data_path) == data_path
  assert listing(data_path) == sorted(reader.PTB_FILES +
                                      ("simple-examples.tgz",))
  assert requests == []  # nothing downloaded
  assert capsys.readouterr().err.splitlines()[0] == (
      "ptb.train.txt, ptb.valid.txt, ptb.test.txt not found in %s; taking "
      "them from %s" % (data_path, archive))
  # A damaged one is said, not passed over for a download.
  os.remove(os.path.join(data_path, reader.TEST_FILE))
  archive.write_bytes(make_archive(CONTENTS)[:100])
  with pytest.raises(ValueError, match="archive is corrupt or truncated") as (
      error):
    download.ensure_ptb_files(data_path)
  assert "by hand" not in str(error.value)  # it was: no advice to do so
  assert requests == []


def test_an_archive_given_as_the_data_path_points_to_data_url(tmp_path):
  (tmp_path / "simple-examples.tgz").write_bytes(make_archive(CONTENTS))
  with pytest.raises(ValueError, match="is not a folder: .*; an archive like "
                     "simple-examples.tgz is --data_url$"):
    download.ensure_ptb_files(str(tmp_path / "simple-examples.tgz"))


@pytest.mark.parametrize("url, reason", [
    ("simple-examples.tgz", "unknown url type: 'simple-examples.tgz'"),
    ("http://127.0.0.1:notaport/x.tgz", "nonnumeric port: 'notaport'"),
])
def test_what_is_neither_a_file_nor_a_url_is_said(tmp_path, url, reason):
  with pytest.raises(ValueError) as error:
    download.ensure_ptb_files(str(tmp_path / "data"), url)
  assert str(error.value) == "could not download %s: %s" % (url, reason)
  assert not (tmp_path / "data").exists()


def test_a_host_that_refuses_is_said_by_its_reason(tmp_path):
  # urllib wraps the refusal as "<urlopen error [Errno 111] ...>": the
  # line gives only the reason.
  listener = socket.socket()
  listener.bind(("127.0.0.1", 0))
  url = "http://127.0.0.1:%d/simple-examples.tgz" % listener.getsockname()[1]
  try:  # bound, not listening: connections to it are refused
    with pytest.raises(ValueError) as error:
      download.ensure_ptb_files(str(tmp_path / "data"), url)
  finally:
    listener.close()
  assert str(error.value) == ("could not download %s: [Errno %d] Connection "
                              "refused" % (url, errno.ECONNREFUSED))


def test_a_connection_cut_mid_answer_is_said(tmp_path):
  # The host promises 1000 bytes, sends 3 and closes: not "a corrupt
  # archive", which would send the user looking for the wrong fault.
  listener = socket.socket()
  listener.bind(("127.0.0.1", 0))
  listener.listen()

  def answer_short():
    connection, _ = listener.accept()
    connection.recv(65536)
    connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\nabc")
    connection.close()

  threading.Thread(target=answer_short, daemon=True).start()
  url = "http://127.0.0.1:%d/simple-examples.tgz" % listener.getsockname()[1]
  try:
    with pytest.raises(ValueError, match=r"^could not download %s: the "
                       r"connection closed after 3 of 1000 bytes$"
                       % re.escape(url)):
      download.ensure_ptb_files(str(tmp_path / "data"), url)
  finally:
    listener.close()
  assert not (tmp_path / "data").exists()
