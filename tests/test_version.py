"""One version number: the endpoint, the header, the cache keys, the OpenAPI document, bump_version, build info."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.test import Client

from project.container import settings_config
from project.version import __version__, bumped, cache_key_version, read_build_info, version_in, with_version

ROOT = Path(__file__).resolve().parents[1]


# --- the running release ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_version_endpoint_names_the_release(settings: Any) -> None:
    settings.GIT_SHA, settings.BUILD_TIME = "0123456789abcdef", "2030-01-01T09:00:00Z"

    response = Client().get("/api/v1/version/")

    assert response.status_code == 200
    assert response.json() == {
        "version": __version__,
        "git_sha": "0123456789abcdef",
        "build_time": "2030-01-01T09:00:00Z",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/version/", "/api/v1/me/", "/no/such/page", "/healthz", "/readyz"])
def test_every_response_carries_the_version(path: str) -> None:
    assert Client().get(path)["X-App-Version"] == __version__


def test_the_settings_and_the_openapi_document_use_the_one_version() -> None:
    assert __version__ == django_settings.APP_VERSION
    assert __version__ == django_settings.SPECTACULAR_SETTINGS["VERSION"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project
    assert project["dynamic"] == ["version"]


@pytest.mark.django_db
def test_the_openapi_document_lists_the_version_endpoint_not_the_probes() -> None:
    paths = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]

    assert "/api/v1/version/" in paths
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)


def test_response_cache_keys_carry_the_version_and_the_commit(settings: Any) -> None:
    assert cache_key_version("1.4.0", "unknown") == "1.4.0"
    assert cache_key_version("1.4.0", "0123456789abcdef0123") == "1.4.0-0123456789ab"
    assert settings_config()["app_version"] == django_settings.CACHE_KEY_VERSION
    assert django_settings.CACHE_KEY_VERSION.startswith(__version__)


# --- build info -------------------------------------------------------------------------------------


def test_build_info_is_read_when_present_and_ignored_when_not(tmp_path: Path) -> None:
    path = tmp_path / "build-info.json"
    assert read_build_info(path) == {}
    path.write_text("not json")
    assert read_build_info(path) == {}
    path.write_text(json.dumps({"version": "9.9.9", "git_sha": "abc", "build_time": "2030-01-01T00:00:00Z", "x": 1}))
    assert read_build_info(path) == {"git_sha": "abc", "build_time": "2030-01-01T00:00:00Z"}


def test_write_build_info_records_the_commit_and_the_time(settings: Any, tmp_path: Path) -> None:
    settings.BUILD_INFO_FILE = tmp_path / "build-info.json"
    settings.GIT_SHA = "feedface"

    call_command("write_build_info", stdout=StringIO())

    info = read_build_info(settings.BUILD_INFO_FILE)
    assert info["git_sha"] == "feedface"
    assert info["build_time"].endswith("Z")
    assert json.loads(settings.BUILD_INFO_FILE.read_text())["version"] == __version__


def test_write_build_info_asks_git_when_not_told(settings: Any, tmp_path: Path) -> None:
    settings.BUILD_INFO_FILE = tmp_path / "build-info.json"
    settings.GIT_SHA = "unknown"

    call_command("write_build_info", stdout=StringIO())

    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    assert read_build_info(settings.BUILD_INFO_FILE)["git_sha"] == head.stdout.strip()


# --- the next version -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "expected"),
    [("patch", "1.4.3"), ("minor", "1.5.0"), ("major", "2.0.0"), ("1.4.10", "1.4.10"), ("3.0.0", "3.0.0")],
)
def test_bumped(part: str, expected: str) -> None:
    assert bumped("1.4.2", part) == expected


@pytest.mark.parametrize("part", ["1.4.2", "1.3.9", "0.9.0", "1.5", "v1.5.0", "1.5.0-rc1", "01.5.0", "huge"])
def test_bumped_refuses_what_is_not_a_higher_version(part: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  (the messages are the command's; checked there)
        bumped("1.4.2", part)


def test_the_version_is_rewritten_in_place() -> None:
    source = (ROOT / "project" / "version.py").read_text()

    rewritten = with_version(source, "7.8.9")

    assert version_in(source) == __version__
    assert version_in(rewritten) == "7.8.9"
    assert rewritten.replace('"7.8.9"', f'"{__version__}"', 1) == source


# --- bump_version in a repository of its own ---------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding project/version.py at 1.4.2, committed."""
    (tmp_path / "project").mkdir()
    shutil.copy(ROOT / "project" / "version.py", tmp_path / "project" / "version.py")
    version_file = tmp_path / "project" / "version.py"
    version_file.write_text(with_version(version_file.read_text(), "1.4.2"))
    (tmp_path / "README.md").write_text("readme\n")
    git(tmp_path, "init", "--quiet", "--initial-branch=main")
    git(tmp_path, "config", "user.name", "Release Bot")
    git(tmp_path, "config", "user.email", "release@example.com")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "--quiet", "-m", "Initial")
    return tmp_path


def bump(repo: Path, part: str) -> str:
    out = StringIO()
    call_command("bump_version", part, repo=str(repo), stdout=out)
    return out.getvalue()


def test_bump_version_commits_the_file_and_tags_the_commit(repo: Path) -> None:
    output = bump(repo, "minor")

    assert version_in((repo / "project" / "version.py").read_text()) == "1.5.0"
    assert git(repo, "log", "-1", "--format=%s") == "Release 1.5.0"
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == "project/version.py"
    assert git(repo, "cat-file", "-t", "v1.5.0") == "tag"  # annotated
    assert git(repo, "rev-list", "-n", "1", "v1.5.0") == git(repo, "rev-parse", "HEAD")
    assert git(repo, "status", "--porcelain") == ""
    assert "v1.5.0" in output


def test_bump_version_takes_an_explicit_version(repo: Path) -> None:
    bump(repo, "2.0.0")

    assert git(repo, "describe", "--tags") == "v2.0.0"


def test_bump_version_refuses_a_dirty_tree(repo: Path) -> None:
    (repo / "README.md").write_text("changed\n")

    with pytest.raises(CommandError, match="uncommitted changes"):
        bump(repo, "patch")

    assert version_in((repo / "project" / "version.py").read_text()) == "1.4.2"
    assert git(repo, "tag") == ""


def test_bump_version_refuses_an_existing_tag(repo: Path) -> None:
    git(repo, "tag", "v1.4.3")

    with pytest.raises(CommandError, match=r"v1\.4\.3 already exists"):
        bump(repo, "patch")

    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "log", "-1", "--format=%s") == "Initial"


def test_bump_version_refuses_a_lower_version(repo: Path) -> None:
    with pytest.raises(CommandError, match="not above"):
        bump(repo, "1.0.0")
