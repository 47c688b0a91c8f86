"""`manage.py write_build_info`: record the commit and build time in build-info.json, at build time.

Run by the release build (after the code is in place, before it is packaged
or started): the running app then reports them (/api/v1/version/, the
response cache keys) without git or the build's environment. The commit is
GIT_SHA or SOURCE_VERSION (Heroku's build sets it) if given, else
``git rev-parse HEAD`` of this work tree, else "unknown".
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from project.version import UNKNOWN


class Command(BaseCommand):
    help = "Write the commit and the build time to BUILD_INFO_FILE (build-info.json)."

    def handle(self, *args: Any, **options: Any) -> None:
        info = {
            "version": settings.APP_VERSION,
            "git_sha": settings.GIT_SHA if settings.GIT_SHA != UNKNOWN else head_commit(),
            "build_time": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        }
        settings.BUILD_INFO_FILE.write_text(json.dumps(info, indent=2) + "\n")
        self.stdout.write(f"Wrote {settings.BUILD_INFO_FILE}: {info['version']} {info['git_sha']} {info['build_time']}")


def head_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(settings.BASE_DIR), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
        )
    except OSError:  # no git installed
        return UNKNOWN
    return done.stdout.strip() if done.returncode == 0 else UNKNOWN
