"""`manage.py bump_version {major|minor|patch|X.Y.Z}`: the next release's version, committed and tagged.

Rewrites ``__version__`` in project/version.py, commits that file alone
("Release X.Y.Z") and makes the annotated tag vX.Y.Z. Refuses when the
working tree has uncommitted changes (the release would not be what was
tested) or the tag already exists. Pushing is left to the operator:
``git push --follow-tags``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from project.version import bumped, version_in, with_version

VERSION_FILE = Path("project") / "version.py"


class Command(BaseCommand):
    help = "Bump the version in project/version.py, commit it and tag the commit vX.Y.Z."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("part", help="major, minor, patch, or an explicit version X.Y.Z above the current one")
        parser.add_argument("--repo", default=str(settings.BASE_DIR), help="the git work tree (default: this one)")

    def handle(self, *args: Any, part: str, repo: str, **options: Any) -> None:
        git = Git(Path(repo))
        if git.run("status", "--porcelain", "--untracked-files=no"):
            raise CommandError("The working tree has uncommitted changes: commit or stash them first.")
        path = Path(repo) / VERSION_FILE
        source = path.read_text()
        try:
            version = bumped(version_in(source), part)
        except ValueError as e:
            raise CommandError(str(e)) from e
        tag = f"v{version}"
        if git.succeeds("rev-parse", "--quiet", "--verify", f"refs/tags/{tag}"):
            raise CommandError(f"The tag {tag} already exists.")
        path.write_text(with_version(source, version))
        try:
            git.run("commit", "--quiet", "-m", f"Release {version}", "--", str(VERSION_FILE))
        except CommandError:
            path.write_text(source)
            raise
        git.run("tag", "--annotate", tag, "-m", f"Release {version}")
        self.stdout.write(f"Version {version} committed and tagged {tag}. Publish with: git push --follow-tags")


class Git:
    def __init__(self, repo: Path) -> None:
        self._base = ["git", "-C", str(repo)]

    def run(self, *args: str) -> str:
        done = subprocess.run([*self._base, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise CommandError(f"git {args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout.strip()

    def succeeds(self, *args: str) -> bool:
        return subprocess.run([*self._base, *args], capture_output=True, check=False).returncode == 0
