"""Getting the graph: download from a local HTTP server, checks, the cache."""

import functools
import hashlib
import http.server
import os
import threading

import pytest

from fid import download
from fid import graph
from fid import testing

PB_BYTES = b"not really a graph, but bytes with a known hash" * 100


@pytest.fixture
def archive(tmp_path):
  pb = tmp_path / "src" / download.PB_NAME
  pb.parent.mkdir()
  pb.write_bytes(PB_BYTES)
  served = tmp_path / "served"
  served.mkdir()
  return testing.write_archive(str(served / download.ARCHIVE_NAME), str(pb))


@pytest.fixture
def server(archive):
  class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
      del args

  handler = functools.partial(Quiet, directory=os.path.dirname(archive))
  httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  yield f"http://127.0.0.1:{httpd.server_address[1]}/{download.ARCHIVE_NAME}"
  httpd.shutdown()


def _get(url, cache, archive, md5=None, **kwargs):
  return download.get_inception_graph(
    cache_dir=str(cache),
    url=url,
    md5=md5 or hashlib.md5(PB_BYTES).hexdigest(),
    pb_size=len(PB_BYTES),
    archive_size=os.path.getsize(archive),
    **kwargs,
  )


def test_download_extracts_only_the_pb_and_reuses_it(server, archive, tmp_path):
  cache = tmp_path / "cache"
  path = _get(server, cache, archive)
  assert path == str(cache / download.PB_NAME)
  assert open(path, "rb").read() == PB_BYTES
  # Only the .pb: no .tgz, no LICENSE, nothing in keras' /tmp fallback.
  assert sorted(os.listdir(cache)) == [download.PB_NAME]
  # A second call never touches the network: the URL is now unreachable.
  again = _get("http://127.0.0.1:9/nothing.tgz", cache, archive)
  assert again == path


def test_wrong_hash_is_rejected_and_nothing_kept(server, archive, tmp_path):
  cache = tmp_path / "cache"
  with pytest.raises(download.InceptionError, match="MD5"):
    _get(server, cache, archive, md5="0" * 32)
  assert not os.path.exists(cache / download.PB_NAME)
  assert not [p for p in os.listdir(cache) if p.startswith(".pb-")]


def test_wrong_archive_size_is_rejected(server, archive, tmp_path):
  cache = tmp_path / "cache"
  with pytest.raises(download.InceptionError, match="bytes, expected"):
    download.get_inception_graph(
      cache_dir=str(cache), url=server, md5=None, pb_size=None, archive_size=123
    )
  assert os.listdir(cache) == []


def test_unreachable_url_names_url_and_cache(tmp_path):
  cache = tmp_path / "cache"
  with pytest.raises(download.InceptionError) as error:
    download.get_inception_graph(
      cache_dir=str(cache), url="http://127.0.0.1:9/x.tgz"
    )
  assert "http://127.0.0.1:9/x.tgz" in str(error.value)
  assert str(cache) in str(error.value)


def test_local_tgz_and_pb(archive, tmp_path, monkeypatch):
  monkeypatch.setenv(download.CACHE_ENV, str(tmp_path / "env_cache"))
  md5 = hashlib.md5(PB_BYTES).hexdigest()
  path = download.get_inception_graph(archive, md5=md5, pb_size=len(PB_BYTES))
  assert path == str(tmp_path / "env_cache" / download.PB_NAME)
  assert download.get_inception_graph(path) == path
  with pytest.raises(download.InceptionError, match="no such file"):
    download.get_inception_graph(str(tmp_path / "missing.pb"))
  with pytest.raises(download.InceptionError, match="not a GraphDef"):
    graph.load_graph_def(path)
