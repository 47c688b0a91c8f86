"""The TrendChart contract, run against every adapter: a valid PNG of the expected size for any
trend (fourteen days, all zeros, none), and the same bytes for the same input. Then what each
adapter adds: errors as PortError, and matplotlib drawn without pyplot."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest

from adapters.charts.matplotlib import MatplotlibTrendChart
from adapters.memory.charts import InMemoryTrendChart
from domain.errors import PortError
from domain.ports import TrendChart
from domain.reports import TREND_DAYS, TrendPoint

LAST_DAY = date(2026, 11, 21)
TITLE = "Bookings and signups per day (Europe/Paris)"
SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel


def trend(bookings: list[int], signups: list[int]) -> list[TrendPoint]:
    first = LAST_DAY - timedelta(days=len(bookings) - 1)
    return [TrendPoint(first + timedelta(days=i), b, s) for i, (b, s) in enumerate(zip(bookings, signups, strict=True))]


BUSY = trend([3, 0, 7, 12, 5, 1, 0, 9, 4, 4, 8, 2, 6, 11], [1, 2, 0, 5, 3, 3, 1, 0, 2, 7, 1, 4, 2, 3])
QUIET = trend([0] * TREND_DAYS, [0] * TREND_DAYS)


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) of a PNG after checking what a decoder would: the signature, every chunk's
    CRC, IHDR first and IEND last, and image data that decompresses to exactly height scanlines."""
    assert png[:8] == SIGNATURE
    chunks, offset = [], 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind, data = png[offset + 4 : offset + 8], png[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + data) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, data))
        offset += 12 + length
    assert chunks[0][0] == b"IHDR"
    assert chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert interlace == 0
    pixels = zlib.decompress(b"".join(data for kind, data in chunks if kind == b"IDAT"))
    row_bytes = (width * CHANNELS[colour] * depth + 7) // 8
    assert len(pixels) == height * (1 + row_bytes)
    return width, height


class TrendChartContract:
    """Subclasses provide ``chart`` and ``size(points)``, the (width, height) they promise."""

    def size(self, points: int) -> tuple[int, int]:
        raise NotImplementedError

    @pytest.mark.parametrize("points", [BUSY, QUIET, []], ids=["fourteen-days", "all-zeros", "empty"])
    def test_draws_a_valid_png_of_the_promised_size(self, chart: TrendChart, points: list[TrendPoint]) -> None:
        assert png_size(chart.render_png(points, title=TITLE)) == self.size(len(points))

    def test_equal_input_gives_identical_bytes(self, chart: TrendChart) -> None:
        first = chart.render_png(BUSY, title=TITLE)

        assert chart.render_png(list(BUSY), title=TITLE) == first

    def test_a_different_trend_gives_a_different_image(self, chart: TrendChart) -> None:
        assert chart.render_png(BUSY, title=TITLE) != chart.render_png(QUIET, title=TITLE)

    def test_threads_drawing_at_once_get_the_serial_result(self, chart: TrendChart) -> None:
        expected = {chart.render_png(BUSY, title=TITLE), chart.render_png(QUIET, title=TITLE)}
        with ThreadPoolExecutor(max_workers=4) as pool:
            drawn = set(pool.map(lambda p: chart.render_png(p, title=TITLE), [BUSY, QUIET] * 4))

        assert drawn == expected

    def test_markup_in_the_title_is_drawn_as_text(self, chart: TrendChart) -> None:
        # Matplotlib reads "$...$" as maths; a title must never fail on the characters it holds.
        png_size(chart.render_png(BUSY, title=r"$\undefined{x}$ <b>&"))


class TestInMemoryTrendChart(TrendChartContract):
    @pytest.fixture
    def chart(self) -> InMemoryTrendChart:
        return InMemoryTrendChart()

    def size(self, points: int) -> tuple[int, int]:
        return max(points, 1), 2

    def test_records_each_call(self, chart: InMemoryTrendChart) -> None:
        chart.render_png(BUSY, title=TITLE)

        assert chart.calls == [(tuple(BUSY), TITLE)]

    def test_a_broken_chart_raises_port_error(self, chart: InMemoryTrendChart) -> None:
        chart.broken = True

        with pytest.raises(PortError):
            chart.render_png(BUSY, title=TITLE)


class TestMatplotlibTrendChart(TrendChartContract):
    @pytest.fixture
    def chart(self) -> MatplotlibTrendChart:
        return MatplotlibTrendChart()

    def size(self, points: int) -> tuple[int, int]:
        return 700, 300

    def test_a_drawing_failure_is_a_port_error(self, chart: MatplotlibTrendChart) -> None:
        broken = TrendPoint(None, 1, 1)  # type: ignore[arg-type]  # no date to label the axis with

        with pytest.raises(PortError):
            chart.render_png([broken], title=TITLE)

    def test_draws_without_pyplot_or_a_gui_backend(self) -> None:
        # A fresh interpreter: pyplot picks a backend and keeps global figures, a server needs neither.
        script = (
            "import sys\n"
            "from datetime import date\n"
            "from adapters.charts.matplotlib import MatplotlibTrendChart\n"
            "from domain.reports import TrendPoint\n"
            "MatplotlibTrendChart().render_png([TrendPoint(date(2026, 1, 1), 1, 2)], title='t')\n"
            "print(sorted(m for m in sys.modules if m.startswith(('matplotlib.pyplot', 'tkinter', 'PyQt', 'gi'))))\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

        assert done.stdout.strip() == "[]"
