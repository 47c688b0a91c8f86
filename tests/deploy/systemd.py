"""systemd-analyze on the shipped units, offline: a throwaway root with the host's own units
(sysinit.target, ...), the tools the units call, and the ExpertHub units in /etc/systemd/system."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.harness.servers import ServerUnavailable

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
SERVICES = ("experthub-web.service", "experthub-worker.service", "experthub-beat.service")
UNIT_FILES = (*SERVICES, "experthub.target")


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None or not Path("/usr/lib/systemd/system").is_dir():
        raise ServerUnavailable("systemd-analyze is not installed (apt-get install systemd)")
    return found


def prepare_root(root: Path) -> Path:
    """Make ``root`` a file system systemd-analyze --root can verify the units in."""
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True, exist_ok=True)
    for name in UNIT_FILES:
        shutil.copy(UNITS / name, units / name)
    if not (root / "usr" / "lib" / "systemd" / "system").exists():
        shutil.copytree("/usr/lib/systemd/system", root / "usr" / "lib" / "systemd" / "system", symlinks=True)
    (root / "usr" / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy("/usr/bin/kill", root / "usr" / "bin" / "kill")  # ExecReload
    for link in ("bin", "lib"):
        if not (root / link).is_symlink():
            (root / link).symlink_to(Path("usr") / link)
    return root


def analyze(root: Path, *args: str, units: tuple[str, ...] = UNIT_FILES) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [systemd_analyze(), *args, f"--root={root}", *units],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
