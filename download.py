"""Fetches the PTB files from Mikolov's simple-examples.tgz when they are missing.

The archive is downloaded with Keras' get_file (progress bar, md5 check) into
a temporary folder inside the data folder; only the three PTB files are read
out of it, each checked against its sha256 before it is moved into place. The
temporary folder is removed whatever happens, so a failed download leaves
nothing half-written behind.
"""

import hashlib
import os
import tarfile
import tempfile
import zlib

from errors import InputError
import reader

# Where downloads land when no --data_path is given: data/ beside the code.
DEFAULT_DATA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 "data")
DEFAULT_URL = "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz"
ARCHIVE_MD5 = "30177ea32e27c525793142b6bf2c8e2d"
ARCHIVE_DIR = "simple-examples/data/"
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


def ensure_ptb_files(data_path, url=DEFAULT_URL):
  """Makes sure `data_path` holds the three PTB files, downloading if not.

  The archive's md5 is checked only for the default URL (a mirror may pack
  it differently); the three files' sha256 is checked always.
  """
  if os.path.exists(data_path) and not os.path.isdir(data_path):
    raise InputError("data path %s is not a folder" % data_path)
  missing = missing_files(data_path)
  if not missing:
    return
  created = not os.path.exists(data_path)
  os.makedirs(data_path, exist_ok=True)
  print("%s not found in %s; downloading %s" % (", ".join(missing), data_path,
                                              url))
  try:
    with tempfile.TemporaryDirectory(prefix=".download-",
                                     dir=data_path) as tmp:
      archive = _download(url, tmp,
                          ARCHIVE_MD5 if url == DEFAULT_URL else None)
      extracted = _extract_ptb_files(archive, tmp)
      for name, path in extracted.items():
        os.replace(path, os.path.join(data_path, name))
  except BaseException:
    if created:  # leave no trace of a download that did not happen
      os.rmdir(data_path)
    raise


def _download(url, folder, md5):
  # Imported here: Keras is only needed when something must be downloaded.
  import keras  # pylint: disable=g-import-not-at-top
  try:
    return keras.utils.get_file(
        "simple-examples.tgz", origin=url, file_hash=md5,
        hash_algorithm="md5", cache_dir=folder, cache_subdir="")
  except ValueError as e:  # get_file's hash mismatch
    raise InputError("downloaded archive from %s is corrupt: %s" % (url, e))
  except Exception as e:  # pylint: disable=broad-except
    # get_file wraps network errors in a bare Exception.
    raise InputError("could not download %s: %s" % (url, e)) from None


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
        if digest.hexdigest() != FILE_SHA256[name]:
          raise InputError(
              "checksum mismatch for %s in the downloaded archive: sha256 "
              "%s, expected %s" % (name, digest.hexdigest(), FILE_SHA256[name]))
        extracted[name] = path
  except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
    raise InputError(
        "the downloaded archive is corrupt or truncated: %s" % e) from None
  absent = sorted(set(reader.PTB_FILES) - set(extracted))
  if absent:
    raise InputError("the downloaded archive lacks %s"
                     % ", ".join(ARCHIVE_DIR + name for name in absent))
  return extracted

