"""The daily report rendered as text, email HTML, archive HTML and CSV, on the in-memory chart;
and the committed sample (docs/samples/) drawn with the real matplotlib chart."""

from __future__ import annotations

import base64
import csv
import io
import os
import re
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from adapters.memory.charts import InMemoryTrendChart
from domain.bookings import BookingStatus
from domain.errors import PortError
from domain.mail import Attachment, EmailMessage, InlineImage
from domain.reports import TREND_DAYS, DailyReport, TrendPoint
from domain.users import Role
from services.report_rendering import CHART_CONTENT_ID, CSV_COLUMNS, RenderedReport, format_amount, report_render
from tests.unit.conftest import MEMORY_CONFIG

DAY = date(2026, 11, 21)
PARIS = "Europe/Paris"
SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"


def sample_report(day: date = DAY, **values: object) -> DailyReport:
    first = day - timedelta(days=TREND_DAYS - 1)
    bookings = [62, 71, 58, 80, 77, 45, 39, 66, 83, 79, 88, 52, 47, 90]
    signups = [28, 35, 31, 44, 40, 22, 19, 33, 41, 38, 46, 27, 25, 50]
    figures: dict[str, object] = {
        "day": day,
        "tz": PARIS,
        "signups_by_role": {Role.CLIENT: 31, Role.EXPERT: 17, Role.STAFF: 2},
        "experts_created": 13,
        "experts_published": 11,
        "bookings_by_status": {
            BookingStatus.REQUESTED: 41,
            BookingStatus.ACCEPTED: 23,
            BookingStatus.DECLINED: 7,
            BookingStatus.COMPLETED: 19,
        },
        "gross_booking_value": {"EUR": 1234567, "JPY": 150000},
        "trend": tuple(
            TrendPoint(first + timedelta(days=i), b, s) for i, (b, s) in enumerate(zip(bookings, signups, strict=True))
        ),
        "top_searched_skills": {"python": 9, "django": 12, "kubernetes": 4},
    }
    return DailyReport(**{**figures, **values})  # type: ignore[arg-type]


# Every figure of sample_report(), as the rows of the tables that show it (label first).
FIGURE_ROWS = [
    ("client", "31"),
    ("expert", "17"),
    ("staff", "2"),
    ("Total", "50"),
    ("created", "13"),
    ("published", "11"),
    ("requested", "41"),
    ("accepted", "23"),
    ("declined", "7"),
    ("cancelled", "0"),
    ("completed", "19"),
    ("Total", "90"),
    ("EUR", "EUR 12,345.67"),
    ("JPY", "JPY 150,000"),
    ("1", "django", "12"),
    ("2", "python", "9"),
    ("3", "kubernetes", "4"),
    ("Sun 2026-11-08", "62", "28"),
    ("Tue 2026-11-10", "58", "31"),
    ("Sat 2026-11-21", "90", "50"),
]
FIGURE_CSV_ROWS = [
    ["2026-11-21", "report", "time_zone", PARIS, ""],
    ["2026-11-21", "report", "hours", "24", "hours"],
    ["2026-11-21", "signups", "client", "31", "accounts"],
    ["2026-11-21", "signups", "expert", "17", "accounts"],
    ["2026-11-21", "signups", "staff", "2", "accounts"],
    ["2026-11-21", "signups", "total", "50", "accounts"],
    ["2026-11-21", "experts", "created", "13", "profiles"],
    ["2026-11-21", "experts", "published", "11", "profiles"],
    ["2026-11-21", "bookings", "requested", "41", "bookings"],
    ["2026-11-21", "bookings", "accepted", "23", "bookings"],
    ["2026-11-21", "bookings", "declined", "7", "bookings"],
    ["2026-11-21", "bookings", "cancelled", "0", "bookings"],
    ["2026-11-21", "bookings", "completed", "19", "bookings"],
    ["2026-11-21", "bookings", "total", "90", "bookings"],
    ["2026-11-21", "gross_booking_value", "EUR", "1234567", "minor units (1/100 EUR)"],
    ["2026-11-21", "gross_booking_value", "JPY", "150000", "minor units (1 JPY)"],
    ["2026-11-21", "top_searched_skills", "django", "12", "searches"],
    ["2026-11-21", "top_searched_skills", "python", "9", "searches"],
    ["2026-11-21", "top_searched_skills", "kubernetes", "4", "searches"],
    ["2026-11-08", "trend", "bookings", "62", "bookings"],
    ["2026-11-08", "trend", "signups", "28", "accounts"],
    ["2026-11-21", "trend", "bookings", "90", "bookings"],
    ["2026-11-21", "trend", "signups", "50", "accounts"],
]


class Page(HTMLParser):
    """What a reader of the HTML sees: table rows as cell texts, images, links, other text."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[str, ...]] = []
        self.images: list[dict[str, str | None]] = []
        self.links: list[tuple[str | None, str]] = []
        self.tags: set[str] = set()
        self.text: list[str] = []
        self._row: list[str] | None = None
        self._href: str | None = None
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._row.append("")
        elif tag == "img":
            self.images.append(dict(attrs))
        elif tag == "a":
            self._href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row:
            self.rows.append(tuple(self._row))
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._row:
            self._row[-1] += data
        if self._href is not None:
            self.links.append((self._href, data))
            self._href = None


def text_rows(text: str) -> list[tuple[str, ...]]:
    return [tuple(line.split()) for line in text.splitlines()]


def csv_rows(rendered: RenderedReport) -> list[list[str]]:
    return list(csv.reader(io.StringIO(rendered.csv.decode("utf-8"), newline="")))


def render(report: DailyReport | None = None, **values: object) -> RenderedReport:
    return report_render(report=report or sample_report(), chart=InMemoryTrendChart(), **values)  # type: ignore[arg-type]


# --- every figure, in every format ------------------------------------------------------


@pytest.mark.parametrize("row", FIGURE_ROWS, ids=lambda row: "-".join(row))
def test_every_figure_is_a_row_of_the_text(row: tuple[str, ...]) -> None:
    assert tuple(" ".join(row).split()) in text_rows(render().text)


@pytest.mark.parametrize("field", ["html", "archive_html"])
def test_every_figure_is_a_row_of_the_html(field: str) -> None:
    rows = Page(getattr(render(), field)).rows

    assert [row for row in FIGURE_ROWS if row not in rows] == []


def test_every_figure_is_a_row_of_the_csv() -> None:
    rows = csv_rows(render())

    assert rows[0] == list(CSV_COLUMNS)
    assert [row for row in FIGURE_CSV_ROWS if row not in rows] == []
    assert {len(row) for row in rows} == {len(CSV_COLUMNS)}


def test_the_csv_holds_the_whole_trend_and_nothing_twice() -> None:
    rows = csv_rows(render())[1:]
    trend = [(day, key) for day, section, key, _, _ in rows if section == "trend"]

    assert len(trend) == 2 * TREND_DAYS
    assert len({tuple(row[:3]) for row in rows}) == len(rows)


def test_the_trend_table_has_one_row_per_day_oldest_first() -> None:
    days = [row[0] for row in Page(render().html).rows if re.fullmatch(r"\w{3} \d{4}-\d\d-\d\d", row[0])]

    assert days == [f"{p.day:%a %Y-%m-%d}" for p in sample_report().trend]


def test_empty_figures_are_said_not_hidden() -> None:
    quiet = sample_report(
        signups_by_role={}, bookings_by_status={}, gross_booking_value={}, top_searched_skills={}, experts_created=0
    )
    rendered = render(quiet)

    for body in (rendered.text, rendered.html, rendered.archive_html):
        assert "no searches recorded" in body
        assert "no bookings with a value" in body
    assert ("staff", "0") in Page(rendered.html).rows
    assert ("completed", "0") in text_rows(rendered.text)
    assert ["2026-11-21", "bookings", "total", "0", "bookings"] in csv_rows(rendered)


def test_the_subject_names_the_day_and_the_zone() -> None:
    assert render().subject == "ExpertHub daily report — Sat 21 Nov 2026 (Europe/Paris)"


@pytest.mark.parametrize(
    ("minor_units", "currency", "shown"),
    [
        (1234567, "EUR", "EUR 12,345.67"),
        (5, "EUR", "EUR 0.05"),
        (0, "USD", "USD 0.00"),
        (150000, "JPY", "JPY 150,000"),
        (123, "XTS", "XTS 123 (minor units)"),  # a currency domain.money does not know: no guessed exponent
    ],
)
def test_amounts_are_formatted_from_minor_units(minor_units: int, currency: str, shown: str) -> None:
    assert format_amount(minor_units, currency) == shown


# --- escaping and links -----------------------------------------------------------------

NASTY = '<script>alert("x")</script>'


def test_user_strings_are_escaped_in_the_html() -> None:
    rendered = render(
        sample_report(top_searched_skills={NASTY: 5, "r&d": 3}), links={"<b>Archive</b>": "https://x/?a=1&b=2"}
    )

    for markup in (rendered.html, rendered.archive_html):
        page = Page(markup)
        assert "script" not in page.tags
        assert "b" not in page.tags
        assert ("1", NASTY, "5") in page.rows
        assert ("2", "r&d", "3") in page.rows
        assert ("https://x/?a=1&b=2", "<b>Archive</b>") in page.links
        assert "&amp;b=2" in markup


def test_only_web_urls_become_links() -> None:
    rendered = render(links={"Archive": "https://blobs.example.com/r.html", "Trap": "javascript:alert(1)"})

    page = Page(rendered.html)
    assert page.links == [("https://blobs.example.com/r.html", "Archive")]
    assert "Trap: javascript:alert(1)" in "".join(page.text)
    assert "  Trap: javascript:alert(1)" in rendered.text.splitlines()


def test_links_are_listed_in_text_and_html() -> None:
    rendered = render(links={"Archived HTML": "https://b.example/a.html", "CSV": "https://b.example/a.csv"})

    assert rendered.text.splitlines()[-3:] == [
        "-----",
        "  Archived HTML: https://b.example/a.html",
        "  CSV: https://b.example/a.csv",
    ]
    assert Page(rendered.archive_html).links == [
        ("https://b.example/a.html", "Archived HTML"),
        ("https://b.example/a.csv", "CSV"),
    ]
    assert "Links" not in render().text


def test_a_skill_cannot_become_a_spreadsheet_formula() -> None:
    rows = csv_rows(render(sample_report(top_searched_skills={"=HYPERLINK(1)": 2, "développement, web": 1})))

    assert ["2026-11-21", "top_searched_skills", "'=HYPERLINK(1)", "2", "searches"] in rows
    assert ["2026-11-21", "top_searched_skills", "développement, web", "1", "searches"] in rows


# --- the chart ----------------------------------------------------------------------------


def test_the_email_shows_the_chart_by_content_id_with_alt_text() -> None:
    rendered = render()

    [image] = Page(rendered.html).images
    assert image["src"] == f"cid:{CHART_CONTENT_ID}"
    assert "table below" in (image["alt"] or "")


def test_the_archive_embeds_the_chart_and_needs_nothing_else() -> None:
    rendered = render()

    [image] = Page(rendered.archive_html).images
    assert "cid:" not in rendered.archive_html
    assert image["src"] == "data:image/png;base64," + base64.b64encode(rendered.chart_png).decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", rendered.archive_html)  # nothing fetched
    assert not {"script", "link", "style"} & Page(rendered.archive_html).tags


def test_the_chart_is_drawn_from_the_trend() -> None:
    chart = InMemoryTrendChart()
    rendered = report_render(report=sample_report(), chart=chart)

    [(points, title)] = chart.calls
    assert points == sample_report().trend
    assert title == "Bookings and signups per day, Sun 8 Nov to Sat 21 Nov 2026 (Europe/Paris)"
    assert rendered.chart_png == chart.render_png(points, title=title)


def test_a_chart_that_cannot_be_drawn_fails_the_rendering() -> None:
    chart = InMemoryTrendChart()
    chart.broken = True

    with pytest.raises(PortError):
        report_render(report=sample_report(), chart=chart)


# --- daylight saving ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "hours", "change"), [(date(2026, 3, 29), "23", "went forward"), (date(2026, 10, 25), "25", "went back")]
)
def test_a_day_with_a_clock_change_says_how_long_it_was(day: date, hours: str, change: str) -> None:
    rendered = render(sample_report(day))

    note = f"This day had {hours} hours in Europe/Paris: the clocks {change}."
    assert note in " ".join(rendered.text.split())
    assert note in "".join(Page(rendered.html).text)
    assert [day.isoformat(), "report", "hours", hours, "hours"] in csv_rows(rendered)
    assert "hours" not in rendered.subject


def test_an_ordinary_day_has_no_clock_note() -> None:
    rendered = render()

    assert "clocks" not in rendered.text
    assert "clocks" not in rendered.html


def test_the_intro_gives_the_days_utc_range() -> None:
    text = " ".join(render(sample_report(date(2026, 3, 29))).text.split())

    assert "from 2026-03-28 23:00 to 2026-03-29 22:00 UTC" in text


# --- the container --------------------------------------------------------------------------


def test_the_container_binds_the_chart_its_config_selects() -> None:
    from project.container import Container

    container = Container()
    container.config.from_dict({**MEMORY_CONFIG, "chart_backend": "memory"})

    rendered = container.report_render(report=sample_report())

    assert container.trend_chart().calls
    assert rendered.chart_png.startswith(b"\x89PNG")


# --- the committed sample ---------------------------------------------------------------------


def comparable_png(png: bytes) -> tuple[tuple[int, int], bytes]:
    """The PNG's size and pixels: the compressed bytes may differ between zlib builds, the picture may not."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return image.size, image.convert("RGBA").tobytes()


def without_image(markup: str) -> str:
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:image/png;base64,…", markup)


def test_sample_in_docs_is_current() -> None:
    """docs/samples/ holds a sample report drawn with the real chart; UPDATE_SAMPLES=1 rewrites it."""
    from adapters.charts.matplotlib import MatplotlibTrendChart

    rendered = report_render(
        report=sample_report(),
        chart=MatplotlibTrendChart(),
        links={"Archived copy (HTML)": "https://reports.example.com/daily/2026-11-21.html"},
    )
    files = {
        "daily-report.html": rendered.archive_html.encode(),
        "daily-report.png": rendered.chart_png,
        "daily-report.csv": rendered.csv,
    }
    if os.environ.get("UPDATE_SAMPLES") == "1":
        SAMPLES.mkdir(exist_ok=True)
        for name, content in files.items():
            (SAMPLES / name).write_bytes(content)

    stored = {name: (SAMPLES / name).read_bytes() for name in files}
    assert comparable_png(stored["daily-report.png"]) == comparable_png(rendered.chart_png), "UPDATE_SAMPLES=1 redraws"
    assert without_image(stored["daily-report.html"].decode()) == without_image(rendered.archive_html)
    assert stored["daily-report.csv"] == rendered.csv


def test_the_rendering_fits_an_email_message() -> None:
    rendered = render()

    message = EmailMessage(
        to="ops@example.com",
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        idempotency_key="daily-report:2026-11-21",
        attachments=(Attachment("daily-report-2026-11-21.csv", "text/csv", rendered.csv),),
        inline_images=(InlineImage(CHART_CONTENT_ID, "image/png", rendered.chart_png),),
    )

    assert message.inline_images[0].content_id in message.html
