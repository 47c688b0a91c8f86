"""The release's version: the ONE place it is written.

``manage.py bump_version`` rewrites the assignment below, commits this file and
tags the commit ``v<version>``; settings.APP_VERSION, the /api/v1/version/
endpoint, the X-App-Version header, the OpenAPI document and the response
cache's keys all read it from here.

The git commit and the build time are not known to the code: the release build
writes them to build-info.json (``manage.py write_build_info``) or the
environment gives them (GIT_SHA, BUILD_TIME; see docs/operations.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__version__ = "0.1.0"

# Semantic versions only (MAJOR.MINOR.PATCH): tags, cache keys and headers stay simple.
VERSION_PATTERN = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
UNKNOWN = "unknown"


def read_build_info(path: Path) -> dict[str, str]:
    """``git_sha`` and ``build_time`` from the release build's file; {} when it is absent or unreadable."""
    try:
        document: Any = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict):
        return {}
    return {key: str(document[key]) for key in ("git_sha", "build_time") if document.get(key)}


def cache_key_version(version: str, git_sha: str) -> str:
    """What the response cache keys carry: the version, and the commit when it is known, so even a
    re-deploy of the same version from another commit never serves the previous build's pages."""
    return version if git_sha == UNKNOWN else f"{version}-{git_sha[:12]}"


def bumped(version: str, part: str) -> str:
    """The next version: ``part`` is major, minor or patch, or an explicit X.Y.Z above ``version``."""
    current = _parsed(version)
    if part in ("major", "minor", "patch"):
        major, minor, patch = current
        return {
            "major": f"{major + 1}.0.0",
            "minor": f"{major}.{minor + 1}.0",
            "patch": f"{major}.{minor}.{patch + 1}",
        }[part]
    if _parsed(part) <= current:
        raise ValueError(f"{part} is not above the current version {version}")
    return part


def _parsed(version: str) -> tuple[int, int, int]:
    match = VERSION_PATTERN.fullmatch(version)
    if match is None:
        raise ValueError(f"{version!r} is not major, minor, patch or a version MAJOR.MINOR.PATCH")
    major, minor, patch = (int(group) for group in match.groups())
    return major, minor, patch


_ASSIGNMENT = re.compile(r'^__version__ = "([^"]*)"$', re.MULTILINE)


def version_in(source: str) -> str:
    """The version assigned in the text of this module."""
    match = _ASSIGNMENT.search(source)
    if match is None:
        raise ValueError("no __version__ assignment found")
    return match.group(1)


def with_version(source: str, version: str) -> str:
    """The text of this module with ``version`` assigned instead."""
    return _ASSIGNMENT.sub(f'__version__ = "{version}"', source, count=1)
