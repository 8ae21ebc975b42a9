"""`make bi-serve`'s server: the built files on loopback, no folder listings."""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from meterledger.bi import BiError, build_site, start_server


def test_serves_the_built_pages_on_loopback_and_lists_no_folder(tmp_path):
    (tmp_path / "index.html").write_text("<h1>finance</h1>")
    (tmp_path / "revenue").mkdir()
    (tmp_path / "revenue" / "index.html").write_text("<h1>revenue</h1>")
    (tmp_path / "_app").mkdir()
    server = start_server(tmp_path)
    try:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert urllib.request.urlopen(f"{server.base_url}/revenue/").read() == b"<h1>revenue</h1>"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.base_url}/_app/")
        assert refused.value.code == 404
    finally:
        server.stop()


def test_serving_or_building_before_anything_exists_says_what_to_run(tmp_path):
    with pytest.raises(BiError, match="make bi"):
        start_server(tmp_path)
    with pytest.raises(BiError, match="make demo"):
        build_site(tmp_path / "published")
