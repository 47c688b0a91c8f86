"""An in-memory TrendChart for unit tests: a tiny valid PNG that encodes the points, no drawing library."""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Sequence

from domain.errors import PortError
from domain.reports import TrendPoint

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def grey_png(rows: Sequence[Sequence[int]]) -> bytes:
    """An 8-bit greyscale PNG with one pixel per value (clipped to 0..255); rows of equal length."""
    width, height = len(rows[0]), len(rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # depth 8, greyscale, no interlace
    # Each scanline starts with its filter type (0: none).
    raw = b"".join(b"\x00" + bytes(min(max(value, 0), 255) for value in row) for row in rows)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


class InMemoryTrendChart:
    """Implements TrendChart: a ``max(1, len(points))`` x 2 PNG, bookings on the first row and
    signups on the second, so different trends give different bytes. ``calls`` records each
    (points, title); set ``broken`` to make drawing fail with PortError."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[TrendPoint, ...], str]] = []
        self.broken = False
        self._lock = threading.Lock()

    def render_png(self, points: Sequence[TrendPoint], *, title: str) -> bytes:
        with self._lock:
            if self.broken:
                raise PortError("Chart drawing failed.")
            self.calls.append((tuple(points), title))
        if not points:
            return grey_png([[0], [0]])
        return grey_png([[p.bookings for p in points], [p.signups for p in points]])
