"""The daily ops report as an email (text + HTML with an inline chart), a standalone HTML copy
for the archive, and a CSV for spreadsheets. Plain Python, like services/email_templates.py.

Every format is drawn from one list of sections (title, note, header, rows of display strings),
so a figure shown in one is shown in all. The HTML is built for email clients: nested tables,
inline styles, no stylesheet, no script, no remote image (the chart travels inline as
``cid:`` in the email and as a ``data:`` URI in the archive). Every value is escaped.
The CSV columns are documented in docs/daily-report.md.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit

from domain.bookings import BookingStatus
from domain.money import CURRENCY_EXPONENTS
from domain.ports import TrendChart
from domain.reports import DailyReport, DayRange, day_range, report_zone
from domain.users import Role
from services.email_templates import one_line

CHART_CONTENT_ID = "trend-chart"
CSV_COLUMNS = ("date", "section", "key", "value", "unit")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class RenderedReport:
    subject: str
    text: str
    html: str
    archive_html: str
    csv: bytes
    chart_png: bytes


@dataclass(frozen=True, slots=True)
class Section:
    """One block of the report: a titled table with a note. The first ``labels`` columns are
    text (aligned left), the rest numbers (aligned right).
    ``empty`` is shown instead of the table when there are no rows; ``total`` bolds the last row."""

    title: str
    note: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: str = ""
    total: bool = False
    labels: int = 1


def report_render(*, report: DailyReport, chart: TrendChart, links: Mapping[str, str] | None = None) -> RenderedReport:
    """Render ``report`` in every format; ``links``: label -> URL shown as a "Links" list in the
    text and HTML (e.g. the archived copies). Raises PortError if the chart cannot be drawn."""
    png = chart.render_png(report.trend, title=_chart_title(report))
    sections, intro, shown = _sections(report), _intro(report), dict(links or {})
    subject = one_line(f"ExpertHub daily report — {_long_date(report.day)} ({report.tz})")
    data_uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return RenderedReport(
        subject=subject,
        text=_text(subject, intro, sections, shown),
        html=_html(subject, intro, sections, shown, image=f"cid:{CHART_CONTENT_ID}", alt=_chart_alt(report)),
        archive_html=_html(subject, intro, sections, shown, image=data_uri, alt=_chart_alt(report)),
        csv=_csv(report),
        chart_png=png,
    )


# --- what the report says --------------------------------------------------------


def _long_date(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def _short_date(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def _count(n: int) -> str:
    return f"{n:,}"


def format_amount(minor_units: int, currency: str) -> str:
    """EUR 1234567 -> "EUR 12,345.67"; JPY 1500 -> "JPY 1,500"; an unknown currency shows its minor units."""
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None:
        return f"{currency} {minor_units:,} (minor units)"
    sign = "-" if minor_units < 0 else ""
    major, minor = divmod(abs(minor_units), 10**exponent)
    return f"{sign}{currency} {major:,}" + (f".{minor:0{exponent}d}" if exponent else "")


def _day_span(report: DailyReport) -> DayRange:
    return day_range(report.day, report_zone(report.tz))


def _hours(span: DayRange) -> float:
    return (span.end - span.start) / timedelta(hours=1)


def _intro(report: DailyReport) -> tuple[str, ...]:
    span = _day_span(report)
    lines = [
        f"Figures for {_long_date(report.day)}, a local day in {report.tz} "
        f"(from {span.start:%Y-%m-%d %H:%M} to {span.end:%Y-%m-%d %H:%M} UTC)."
    ]
    if (hours := _hours(span)) != 24:
        change = "went forward" if hours < 24 else "went back"
        lines.append(f"This day had {hours:g} hours in {report.tz}: the clocks {change}.")
    return tuple(lines)


def _chart_title(report: DailyReport) -> str:
    if not report.trend:
        return f"Bookings and signups per day ({report.tz})"
    first, last = report.trend[0].day, report.trend[-1].day
    return f"Bookings and signups per day, {_short_date(first)} to {_long_date(last)} ({report.tz})"


def _chart_alt(report: DailyReport) -> str:
    days = f"{len(report.trend)} days ending {_long_date(report.day)}"
    return f"Chart of bookings (bars) and signups (line) per day, {days}; the numbers are in the table below."


def _ranked_skills(searches: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(searches.items(), key=lambda item: (-item[1], item[0]))


def _sections(report: DailyReport) -> tuple[Section, ...]:
    return (_signups(report), _experts(report), _bookings(report), _gross(report), _skills(report), _trend(report))


def _signups(report: DailyReport) -> Section:
    rows = [(role.value, _count(report.signups_by_role.get(role, 0))) for role in Role]
    rows.append(("Total", _count(report.signups)))
    return Section("Signups", "Accounts created on the day, by role.", ("Role", "Accounts"), tuple(rows), total=True)


def _experts(report: DailyReport) -> Section:
    rows = (("created", _count(report.experts_created)), ("published", _count(report.experts_published)))
    note = "Expert profiles created on the day, and profiles first published on the day."
    return Section("Experts", note, ("Profiles", "Count"), rows)


def _bookings(report: DailyReport) -> Section:
    rows = [(status.value, _count(report.bookings_by_status.get(status, 0))) for status in BookingStatus]
    rows.append(("Total", _count(report.bookings)))
    note = "Bookings created on the day, by their status now."
    return Section("Bookings", note, ("Status", "Bookings"), tuple(rows), total=True)


def _gross(report: DailyReport) -> Section:
    rows = tuple((c, format_amount(amount, c)) for c, amount in sorted(report.gross_booking_value.items()))
    note = (
        "Prices of the bookings created on the day, except those now declined or cancelled; "
        "one line per currency, never converted."
    )
    return Section("Gross booking value", note, ("Currency", "Amount"), rows, empty="no bookings with a value")


def _skills(report: DailyReport) -> Section:
    ranked = enumerate(_ranked_skills(report.top_searched_skills), 1)
    rows = tuple((str(rank), skill, _count(n)) for rank, (skill, n) in ranked)
    header = ("Rank", "Skill", "Searches")
    note = "Searches per skill on the day."
    return Section("Top searched skills", note, header, rows, empty="no searches recorded", labels=2)


def _trend(report: DailyReport) -> Section:
    rows = tuple((f"{p.day:%a %Y-%m-%d}", _count(p.bookings), _count(p.signups)) for p in report.trend)
    note = "Bookings created and accounts signed up per local day, oldest first."
    title = f"{len(report.trend)}-day trend"
    return Section(title, note, ("Day", "Bookings", "Signups"), rows, empty="no days")


# --- plain text ------------------------------------------------------------------


def _text_table(section: Section) -> list[str]:
    if not section.rows:
        return [f"  {section.empty}"]
    lines = (section.header, *section.rows)
    widths = [max(len(line[i]) for line in lines) for i in range(len(section.header))]
    return [
        "  " + "  ".join(_text_cell(cell, i < section.labels, widths[i]) for i, cell in enumerate(line)).rstrip()
        for line in lines
    ]


def _text_cell(cell: str, label: bool, width: int) -> str:
    # Labels read left to right; numbers line up on their last digit.
    return cell.ljust(width) if label else cell.rjust(width)


def _wrap(paragraph: str) -> str:
    # Plain-text mail reads best under 78 columns (RFC 5322's advice for lines).
    return textwrap.fill(paragraph, width=78, break_long_words=False, break_on_hyphens=False)


def _text(subject: str, intro: Sequence[str], sections: Sequence[Section], links: Mapping[str, str]) -> str:
    parts = [subject, "", *map(_wrap, intro)]
    for section in sections:
        parts += ["", section.title, "-" * len(section.title), _wrap(section.note), *_text_table(section)]
    if links:
        parts += ["", "Links", "-----", *(f"  {label}: {url}" for label, url in links.items())]
    return "\n".join(parts) + "\n"


# --- HTML (email clients and the archive) -------------------------------------------

FAMILY = "font-family:Arial,Helvetica,sans-serif;"
FONT = f"{FAMILY}color:#333333;"
CELL = "padding:4px 8px;border-bottom:1px solid #e5e5e5;font-size:14px;line-height:20px;"
HEAD = "padding:4px 8px;border-bottom:2px solid #cccccc;font-size:13px;line-height:18px;color:#555555;"
NOTE = "margin:0 0 8px 0;font-size:13px;line-height:18px;color:#666666;"
H1 = f"margin:0 0 12px 0;font-size:20px;line-height:26px;{FAMILY}color:#1f3b57;"
H2 = f"margin:24px 0 4px 0;font-size:17px;line-height:22px;{FAMILY}color:#1f3b57;"
PAGE = "background-color:#f4f5f7;"
LAYOUT = 'role="presentation" cellpadding="0" cellspacing="0" border="0"'


def _cell(tag: str, text: str, *, label: bool, style: str, bold: bool = False) -> str:
    align = "left" if label else "right"
    weight = "font-weight:bold;" if bold else "font-weight:normal;"
    scope = ' scope="col"' if tag == "th" else ""
    return f'<{tag}{scope} align="{align}" style="{style}text-align:{align};{weight}">{html.escape(text)}</{tag}>'


def _html_table(section: Section) -> str:
    if not section.rows:
        return f'<p style="{NOTE}font-style:italic;">{html.escape(section.empty)}</p>'
    head = "".join(
        _cell("th", text, label=i < section.labels, style=HEAD, bold=True) for i, text in enumerate(section.header)
    )
    rows = [
        "".join(
            _cell("td", text, label=i < section.labels, style=CELL, bold=section.total and n == len(section.rows) - 1)
            for i, text in enumerate(row)
        )
        for n, row in enumerate(section.rows)
    ]
    body = "".join(f"<tr>{row}</tr>" for row in rows)
    return (
        '<table cellpadding="0" cellspacing="0" border="0" width="100%" '
        f'style="border-collapse:collapse;width:100%;{FONT}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def _html_section(section: Section) -> str:
    return (
        f'<h2 style="{H2}">{html.escape(section.title)}</h2>'
        f'<p style="{NOTE}">{html.escape(section.note)}</p>{_html_table(section)}'
    )


def _html_chart(image: str, alt: str) -> str:
    return (
        f'<img src="{html.escape(image)}" width="700" height="300" alt="{html.escape(alt)}" '
        'style="display:block;width:100%;max-width:700px;height:auto;border:0;margin:8px 0 12px 0;">'
    )


def _html_links(links: Mapping[str, str]) -> str:
    if not links:
        return ""
    items = "".join(f'<li style="margin:0 0 4px 0;">{_html_link(label, url)}</li>' for label, url in links.items())
    return f'<h2 style="{H2}">Links</h2><ul style="margin:0;padding-left:20px;">{items}</ul>'


def _html_link(label: str, url: str) -> str:
    # Only web URLs become links: a "javascript:" or "data:" href must never reach a reader.
    if urlsplit(url).scheme not in ("http", "https"):
        return f"{html.escape(label)}: {html.escape(url)}"
    return f'<a href="{html.escape(url)}" style="color:#3b6ea5;">{html.escape(label)}</a>'


def _html(
    subject: str, intro: Sequence[str], sections: Sequence[Section], links: Mapping[str, str], *, image: str, alt: str
) -> str:
    parts = [_html_section(s) for s in sections]
    # The chart sits above the trend table that holds its numbers (the last section).
    parts.insert(len(parts) - 1, _html_chart(image, alt))
    intro_html = "".join(
        f'<p style="margin:0 0 8px 0;font-size:14px;line-height:20px;">{html.escape(line)}</p>' for line in intro
    )
    content = f'<h1 style="{H1}">{html.escape(subject)}</h1>' + intro_html + "".join(parts) + _html_links(links)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(subject)}</title></head>"
        f'<body style="margin:0;padding:0;{PAGE}"><table {LAYOUT} width="100%" style="{PAGE}">'
        '<tr><td align="center" style="padding:16px 8px;">'
        f'<table {LAYOUT} width="748" style="width:748px;max-width:100%;background-color:#ffffff;{FONT}">'
        f'<tr><td style="padding:24px;{FONT}font-size:14px;line-height:20px;">{content}</td></tr>'
        "</table></td></tr></table></body></html>\n"
    )


# --- CSV ----------------------------------------------------------------------------


def _csv_text(value: str) -> str:
    """A string a reader typed (a searched skill) cannot become a spreadsheet formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _csv_unit(currency: str) -> str:
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None:
        return f"minor units ({currency}, exponent unknown)"
    return f"minor units (1/{10**exponent} {currency})" if exponent else f"minor units (1 {currency})"


def _csv_rows(report: DailyReport) -> list[tuple[str, str, str, object, str]]:
    day, span = report.day.isoformat(), _day_span(report)
    rows: list[tuple[str, str, str, object, str]] = [
        (day, "report", "time_zone", report.tz, ""),
        (day, "report", "utc_start", span.start.isoformat(), ""),
        (day, "report", "utc_end", span.end.isoformat(), ""),
        (day, "report", "hours", f"{_hours(span):g}", "hours"),
    ]
    rows += [(day, "signups", role.value, report.signups_by_role.get(role, 0), "accounts") for role in Role]
    rows += [(day, "signups", "total", report.signups, "accounts")]
    rows += [(day, "experts", "created", report.experts_created, "profiles")]
    rows += [(day, "experts", "published", report.experts_published, "profiles")]
    rows += [(day, "bookings", s.value, report.bookings_by_status.get(s, 0), "bookings") for s in BookingStatus]
    rows += [(day, "bookings", "total", report.bookings, "bookings")]
    rows += [(day, "gross_booking_value", c, v, _csv_unit(c)) for c, v in sorted(report.gross_booking_value.items())]
    rows += [
        (day, "top_searched_skills", _csv_text(s), n, "searches") for s, n in _ranked_skills(report.top_searched_skills)
    ]
    for point in report.trend:
        rows += [(point.day.isoformat(), "trend", "bookings", point.bookings, "bookings")]
        rows += [(point.day.isoformat(), "trend", "signups", point.signups, "accounts")]
    return rows


def _csv(report: DailyReport) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # RFC 4180: comma, double quotes, CRLF
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_rows(report))
    return buffer.getvalue().encode("utf-8")
