"""The daily ops report: compute the figures of a local date, say which date is due,
deliver it (archive + email) once per date, and list past deliveries."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.errors import PermissionDenied
from domain.ids import UserId
from domain.mail import Attachment, EmailMessage, InlineImage
from domain.pagination import Page, PageRequest
from domain.ports import (
    BlobStore,
    Clock,
    Mailer,
    ReportRunRepository,
    ReportSource,
    SearchLog,
    TrendChart,
    UserRepository,
)
from domain.reports import (
    TREND_DAYS,
    DailyReport,
    ReportRun,
    TrendPoint,
    day_boundaries,
    day_range,
    due_date,
    report_zone,
)
from services.report_rendering import CHART_CONTENT_ID, RenderedReport, report_render


def report_compute(
    *, source: ReportSource, day: date, tz: str, top_searched_skills: Mapping[str, int] | None = None
) -> DailyReport:
    """The figures of the LOCAL calendar date ``day`` in the zone ``tz`` (23 h or 25 h on DST days)."""
    zone = report_zone(tz)
    span = day_range(day, zone)
    return DailyReport(
        day=day,
        tz=tz,
        signups_by_role=source.signups_by_role(span.start, span.end),
        experts_created=source.experts_created(span.start, span.end),
        experts_published=source.experts_published(span.start, span.end),
        bookings_by_status=source.bookings_by_status(span.start, span.end),
        gross_booking_value=source.gross_booking_value(span.start, span.end),
        trend=_trend(source, day, zone),
        top_searched_skills=dict(top_searched_skills or {}),
    )


def _trend(source: ReportSource, day: date, zone: ZoneInfo) -> tuple[TrendPoint, ...]:
    boundaries = day_boundaries(day, zone, days=TREND_DAYS)
    counts = source.daily_counts(boundaries)
    first = day.toordinal() - TREND_DAYS + 1
    return tuple(
        TrendPoint(date.fromordinal(first + i), bookings, signups) for i, (bookings, signups) in enumerate(counts)
    )


def report_due_date(*, now: datetime, tz: str, send_at: time) -> date | None:
    """The local date whose report is due at ``now`` (the previous local date once today's
    ``send_at`` instant has passed), or None; DST rules in domain.reports.due_date. Callers
    still record each sent date: this returns the same date for the rest of that local day."""
    return due_date(now=now, zone=report_zone(tz), send_at=send_at)


# --- delivery --------------------------------------------------------------------------

TOP_SEARCHED_SKILLS = 10
# How long an attempt holds a run. Longer than the report task's hard time limit
# (api.tasks.REPORT_TIME_LIMIT; a test checks it): an attempt still holding the run
# after that is dead (its worker was killed), and the next beat check takes over.
REPORT_LEASE = timedelta(minutes=10)
# S3's longest presigned URL (SigV4): the email's links to the archived copies.
ARCHIVE_LINK_SECONDS = 7 * 24 * 3600
CSV_TYPE = "text/csv; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class ReportSchedule:
    """Where and when the report goes (settings OPS_REPORT_*).

    ``report_url``: a link to the report for staff, with ``{day}`` for the ISO date
    (the staff API, which hands out fresh download links), or "" for none.
    """

    tz: str
    send_at: time
    recipients: tuple[str, ...]
    report_url: str = ""


def report_yesterday(*, clock: Clock, schedule: ReportSchedule) -> date:
    """The local date before today in the report's time zone: what "the last report" means
    to an operator sending one by hand."""
    return clock.now().astimezone(report_zone(schedule.tz)).date() - timedelta(days=1)


def report_send_due(
    *, clock: Clock, schedule: ReportSchedule, send: Callable[..., ReportRun | None]
) -> ReportRun | None:
    """What beat runs every few minutes: deliver the due date's report once, with ``send``
    (report_send with its ports bound).

    None before today's send time, or when the due date's report was already sent
    (by this beat, another beat, or a retried task: the run is unique per date).
    """
    day = report_due_date(now=clock.now(), tz=schedule.tz, send_at=schedule.send_at)
    return None if day is None else send(day=day)


def report_send(
    *,
    day: date,
    resend: bool = False,
    runs: ReportRunRepository,
    source: ReportSource,
    search_log: SearchLog,
    chart: TrendChart,
    blobs: BlobStore,
    mailer: Mailer,
    clock: Clock,
    schedule: ReportSchedule,
) -> ReportRun | None:
    """Deliver the report of the local date ``day``: archive its HTML and CSV in the blob
    store, email it to every recipient, record the run. Returns the run, or None when
    the date's report was already sent and ``resend`` is False.

    One attempt at a time: an attempt holds the run (a lease of REPORT_LEASE), and a
    concurrent one (a second beat's, a duplicate task) gets None. Every step is safe to
    repeat, so a delivery that failed half-way (SMTP down: PortError; it gives the run
    up at once) or died half-way (a killed worker: the lease runs out) is finished by
    the next attempt: the archive keys are fixed per send, and each email's idempotency
    key names the date, the send and the recipient. ``resend`` sends an already-sent
    date again, as a new send.
    """
    run = _claim(runs=runs, day=day, tz=schedule.tz, now=clock.now(), resend=resend)
    if run is None:
        return None
    try:
        links = _links(run=run, blobs=blobs, schedule=schedule)
        rendered = _render(run=run, source=source, search_log=search_log, chart=chart, links=links)
        html_key, csv_key = _archive(blobs=blobs, run=run, rendered=rendered)
        for recipient in schedule.recipients:
            mailer.send(_email(run=run, rendered=rendered, to=recipient))
    except Exception:
        runs.release(run)  # the retry may go ahead at once; what was sent stays sent (idempotency keys)
        raise
    run.mark_sent(at=clock.now(), recipients=schedule.recipients, html_key=html_key, csv_key=csv_key)
    runs.save(run)
    return run


def _claim(*, runs: ReportRunRepository, day: date, tz: str, now: datetime, resend: bool) -> ReportRun | None:
    report_zone(tz)  # an unknown zone is InvalidInput before anything is stored
    run, claimed = runs.claim(ReportRun(day=day, tz=tz, created_at=now, attempt_at=now))
    if claimed:
        return run
    return runs.take_over(day, at=now, stale_before=now - REPORT_LEASE, resend=resend)


def _links(*, run: ReportRun, blobs: BlobStore, schedule: ReportSchedule) -> dict[str, str]:
    """The email's links: the archived copies (presigned, valid ARCHIVE_LINK_SECONDS; the staff
    API hands out fresh ones later) and the report's page in ExpertHub."""
    html_key, csv_key = report_archive_keys(run)
    links = {
        "This report, archived (link valid 7 days)": blobs.download_url(html_key, expires_in=ARCHIVE_LINK_SECONDS),
        "The CSV, archived (link valid 7 days)": blobs.download_url(csv_key, expires_in=ARCHIVE_LINK_SECONDS),
    }
    if schedule.report_url:
        links["All reports in ExpertHub (staff)"] = schedule.report_url.format(day=run.day.isoformat())
    return links


def _render(
    *, run: ReportRun, source: ReportSource, search_log: SearchLog, chart: TrendChart, links: dict[str, str]
) -> RenderedReport:
    span = day_range(run.day, report_zone(run.tz))
    top = search_log.top_skills(span.start, span.end, limit=TOP_SEARCHED_SKILLS)
    report = report_compute(source=source, day=run.day, tz=run.tz, top_searched_skills=dict(top))
    return report_render(report=report, chart=chart, links=links)


def report_archive_keys(run: ReportRun) -> tuple[str, str]:
    """Where a send's HTML and CSV live in the blob store (one folder per date and send)."""
    folder = f"reports/{run.day.isoformat()}/{run.sends}"
    return (
        f"{folder}/experthub-report-{run.day.isoformat()}.html",
        f"{folder}/experthub-report-{run.day.isoformat()}.csv",
    )


def _archive(*, blobs: BlobStore, run: ReportRun, rendered: RenderedReport) -> tuple[str, str]:
    html_key, csv_key = report_archive_keys(run)
    blobs.put(html_key, rendered.archive_html.encode(), content_type=HTML_TYPE)
    blobs.put(csv_key, rendered.csv, content_type=CSV_TYPE)
    return html_key, csv_key


def _email(*, run: ReportRun, rendered: RenderedReport, to: str) -> EmailMessage:
    return EmailMessage(
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        idempotency_key=f"daily-report:{run.day.isoformat()}:{run.sends}:{to}",
        attachments=(Attachment(f"experthub-report-{run.day.isoformat()}.csv", "text/csv", rendered.csv),),
        inline_images=(InlineImage(CHART_CONTENT_ID, "image/png", rendered.chart_png),),
    )


def _require_staff(users: UserRepository, actor: UserId) -> None:
    if not users.get(actor).is_staff:
        raise PermissionDenied("Only staff read the ops reports.")


def report_list(
    *, runs: ReportRunRepository, users: UserRepository, actor: UserId, page: PageRequest
) -> Page[ReportRun]:
    """Past deliveries, newest date first. Staff only (PermissionDenied)."""
    _require_staff(users, actor)
    return runs.list(page=page)


@dataclass(frozen=True, slots=True)
class ReportDownloads:
    run: ReportRun
    html_url: str | None
    csv_url: str | None


REPORT_LINK_SECONDS = 15 * 60


def report_get(
    *, runs: ReportRunRepository, blobs: BlobStore, users: UserRepository, actor: UserId, day: date
) -> ReportDownloads:
    """One delivery with short-lived download links to its archived HTML and CSV.
    Staff only (PermissionDenied); NotFound if the date has none."""
    _require_staff(users, actor)
    run = runs.get(day)

    def link(key: str | None) -> str | None:
        return blobs.download_url(key, expires_in=REPORT_LINK_SECONDS) if key else None

    return ReportDownloads(run=run, html_url=link(run.html_key), csv_url=link(run.csv_key))
