"""Issue 15, smaller items: a private egg folder, scrapyd credentials kept off the
command line, http(s)-only URLs in configs (synthetic inputs only)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from faultserver import json_feed_config

from cfs_spiders.config.loader import ConfigError, load_config
from cfs_spiders.ingest.settings import private_egg_dir
from cfs_spiders.schedule.scrapyd import ScrapydError, _auth

BASE = json_feed_config("zz_synthetic_urls", "http://127.0.0.1:9/calls")


# ------------------------------------------------------------ the egg folder
def test_egg_folder_is_created_owner_only(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CFS_EGG_DIR", str(tmp_path / "eggs"))
    folder = private_egg_dir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert folder.stat().st_uid == os.getuid()


def test_egg_folder_others_can_reach_is_refused(tmp_path: Path, monkeypatch) -> None:
    shared = tmp_path / "eggs"
    shared.mkdir()
    shared.chmod(0o777)  # as another user could have made it first in /tmp
    monkeypatch.setenv("CFS_EGG_DIR", str(shared))
    with pytest.raises(RuntimeError, match="others may reach it"):
        private_egg_dir()


def test_egg_folder_symlink_is_refused(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / "eggs").symlink_to(target)
    monkeypatch.setenv("CFS_EGG_DIR", str(tmp_path / "eggs"))
    with pytest.raises(RuntimeError, match="not a folder"):
        private_egg_dir()


def test_default_egg_folder_is_per_user(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CFS_EGG_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    folder = private_egg_dir()
    assert folder == tmp_path / f"cfs-eggs-{os.getuid()}"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


# --------------------------------------------------------- scrapyd credentials
def test_credentials_in_a_url_are_refused(monkeypatch) -> None:
    monkeypatch.delenv("CFS_SCRAPYD_CREDENTIALS", raising=False)
    with pytest.raises(ScrapydError) as err:
        _auth("http://cfs:a-long-secret@node1:6800")
    assert "a-long-secret" not in str(err.value)
    assert "CFS_SCRAPYD_CREDENTIALS" in str(err.value)


def test_credentials_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("CFS_SCRAPYD_CREDENTIALS", "cfs:secret")
    assert _auth("http://node1:6800") == ("http://node1:6800", "cfs:secret")


def test_credentials_from_a_netrc_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CFS_SCRAPYD_CREDENTIALS", raising=False)
    rc = tmp_path / "scrapyd.netrc"
    rc.write_text("machine node1 login cfs password s3cret\n")
    rc.chmod(0o600)
    monkeypatch.setenv("CFS_SCRAPYD_NETRC", str(rc))
    assert _auth("http://node1:6800") == ("http://node1:6800", "cfs:s3cret")
    assert _auth("http://node2:6800") == ("http://node2:6800", None)


# ------------------------------------------------------------- URLs in HTML
@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "JAVASCRIPT://%0aalert(1)",
        'https://example.org/" onmouseover="alert(1)',
        "//example.org/no-scheme",
    ],
)
def test_documentation_url_must_be_http(tmp_path: Path, url: str) -> None:
    path = tmp_path / "zz_synthetic_urls.yaml"
    path.write_text(BASE + f"documentation_url: '{url}'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="documentation_url"):
        load_config(path)


def test_http_documentation_url_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "zz_synthetic_urls.yaml"
    path.write_text(
        BASE + "documentation_url: https://data.example.org/d/abcd-1234\n",
        encoding="utf-8",
    )
    assert load_config(path)["documentation_url"].startswith("https://")
