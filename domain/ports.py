"""Ports: the interfaces services depend on. Adapters implement them.

Every adapter of a port passes the same contract suite (tests/contract/).
Errors: adapters raise only domain errors; a failure of the backing service
is translated into PortError (``raise PortError(...) from e``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from domain.blobs import BlobInfo, ImageInfo, Upload, UploadTicket
from domain.bookings import Booking, BookingStatus
from domain.events import DomainEvent
from domain.experts import ExpertProfile
from domain.ids import BookingId, ExpertId, ReviewId, UploadId, UserId
from domain.mail import EmailMessage
from domain.pagination import Page, PageRequest
from domain.reports import ReportRun, TrendPoint
from domain.reviews import Review
from domain.search import ExpertDocument, SearchQuery, SearchResult
from domain.users import Role, User

PartyRole = Literal["client", "expert"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class UnitOfWork(Protocol):
    """The transaction boundary of a use case."""

    def atomic(self) -> AbstractContextManager[None]:
        """Everything written inside the block commits together or not at all.

        A block nested in another joins the outer transaction as a savepoint:
        an exception leaving the inner block undoes that block's writes and
        on_commit callbacks only, and propagates.
        """
        ...

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after the outermost block commits; never if it rolls back.

        Outside any block the callback runs at once. The data is committed by
        then, so an exception from a callback is logged, never raised to the
        caller, and the remaining callbacks still run.
        """
        ...


class UserRepository(Protocol):
    def add(self, user: User, *, password: str) -> None:
        """Store a new account with this password (hashed by the adapter), its email as
        domain.users.email_key gives it.

        Raises EmailTaken if an account with the same email_key exists: one mailbox, one
        account, whatever case or compatibility form either address was written in.
        """
        ...

    def get(self, user_id: UserId) -> User:
        """The account with this id. Raises NotFound."""
        ...

    def get_by_email(self, email: str) -> User:
        """The account whose email has the same email_key as ``email`` (any case or
        compatibility form finds it). Raises NotFound."""
        ...

    def get_many(self, user_ids: Iterable[UserId]) -> dict[UserId, User]:
        """The accounts among ``user_ids`` that exist, by id, in one round trip."""
        ...


class ExpertRepository(Protocol):
    def add(self, profile: ExpertProfile) -> None:
        """Store a new profile. Raises ProfileExists if its owner already has one."""
        ...

    def get(self, expert_id: ExpertId, *, for_update: bool = False) -> ExpertProfile:
        """The profile with this id. Raises NotFound.

        ``for_update`` locks it until the enclosing transaction ends, where the
        store can lock rows; outside a transaction there is nothing to hold it
        and it is ignored.
        """
        ...

    def get_by_owner(self, owner_id: UserId) -> ExpertProfile:
        """The profile owned by this user. Raises NotFound."""
        ...

    def get_many(self, expert_ids: Sequence[ExpertId]) -> list[ExpertProfile]:
        """The existing profiles among ``expert_ids``, in that order, in one round trip."""
        ...

    def save(self, profile: ExpertProfile) -> None:
        """Write back a changed profile. Raises NotFound if it was never added."""
        ...

    def iter_published(self, *, batch_size: int = 500) -> Iterator[ExpertProfile]:
        """Every published profile, streamed in batches (for index rebuilds)."""
        ...


class BookingRepository(Protocol):
    def add(self, booking: Booking) -> None:
        """Store a new booking. Raises BookingOverlap as save() does."""
        ...

    def get(self, booking_id: BookingId, *, for_update: bool = False) -> Booking:
        """The booking with this id. Raises NotFound. ``for_update`` as for experts."""
        ...

    def save(self, booking: Booking) -> None:
        """Write back a changed booking.

        Raises BookingOverlap if the store itself refuses a second accepted
        booking of the same expert at an overlapping time, NotFound if the
        booking was never added.
        """
        ...

    def has_accepted_overlap(self, booking: Booking) -> bool:
        """Whether another accepted booking of the same expert overlaps this one."""
        ...

    def list_for_user(
        self,
        *,
        user_id: UserId,
        as_role: PartyRole,
        status: BookingStatus | None,
        page: PageRequest,
    ) -> Page[Booking]:
        """The user's bookings as client or as expert, soonest start last (newest first).

        Ordered by start time descending, then id. A constant number of round
        trips whatever the page size.
        """
        ...


class ReviewRepository(Protocol):
    def add(self, review: Review) -> None:
        """Store a review. Raises DuplicateReview if its booking already has one."""
        ...

    def get(self, review_id: ReviewId) -> Review:
        """The review with this id. Raises NotFound."""
        ...

    def get_for_booking(self, booking_id: BookingId) -> Review | None:
        """The review of this booking, if any."""
        ...

    def list_for_expert(self, expert_id: ExpertId, *, page: PageRequest) -> Page[Review]:
        """The expert's reviews, newest first (then id), in a constant number of round trips."""
        ...


class SearchIndex(Protocol):
    def upsert(self, document: ExpertDocument) -> None:
        """Add the document, or replace the one with the same expert id."""
        ...

    def upsert_many(self, documents: Iterable[ExpertDocument]) -> int:
        """Upsert many documents in bulk; returns how many."""
        ...

    def remove(self, expert_id: ExpertId) -> None:
        """Drop the expert from the index. No error if it is not there."""
        ...

    def clear(self) -> None:
        """Drop every document."""
        ...

    def search(self, query: SearchQuery) -> SearchResult:
        """Match the free text (every word, prefixes of the last one included)
        against headline, skills and bio, apply the filters, sort and page,
        and count skill facets over all matches (see SearchQuery, SearchResult).
        """
        ...

    def ping(self) -> None:
        """Return once the index can answer searches: its store is reachable and its
        tables or indexes exist. For readiness probes (/readyz): cheap, reads no
        documents, writes nothing that a search could see. Raises PortError.
        """
        ...


# Called with how many more documents were indexed (tqdm's ``update`` fits).
Progress = Callable[[int], object]


@runtime_checkable
class RebuildableIndex(Protocol):
    """Optional: a SearchIndex that can replace its whole content in one atomic step
    (Elasticsearch loads a new index and swaps its alias onto it)."""

    def rebuild(self, documents: Iterable[ExpertDocument], *, progress: Progress | None = None) -> int:
        """Index ``documents`` out of sight, then make them the whole index at once; returns how many.

        Searches answer from the previous content until the switch; a failure
        leaves it in place. ``progress`` is told of every document indexed.
        Raises PortError.
        """
        ...


@runtime_checkable
class ReconcilableIndex(Protocol):
    """Optional: a SearchIndex outside the database's transactions (Elasticsearch), which
    can drift from the profiles (a lost task, an outage) and so tells what it holds.

    The database-backed indexes do not implement it: their rows commit or roll back
    with the profiles, so there is nothing to reconcile (services.experts.search_reconcile).
    """

    def document_versions(self) -> dict[ExpertId, str]:
        """Every document the index holds: expert id -> the ``ExpertDocument.version`` it was
        written with ("" for a document written without one). Reads ids and versions only,
        never whole documents. Raises PortError.
        """
        ...


class BlobStore(Protocol):
    """Objects under keys like ``avatars/<expert id>/<hex>.png``.

    Every method raises InvalidInput for an unsafe key (empty, absolute, a
    ``..`` segment, characters outside ``[A-Za-z0-9._/-]``), so no store can be
    walked out of. ``expires_in <= 0`` makes a URL that is already expired.
    """

    def create_upload(self, *, key: str, content_types: Sequence[str], max_bytes: int, expires_in: int) -> UploadTicket:
        """A presigned direct upload for ``key``.

        The store itself refuses an upload after ``expires_in`` seconds or one
        over ``max_bytes``, and, as far as it can, one whose content type is
        not listed (S3 policies can pin one type, or only a common prefix of
        several). Where it can (local, memory), a key takes one upload through a
        form, ever: a second is refused as REFUSED_USED. S3 cannot make a
        presigned POST single-use, so callers give each form a staging key of
        its own and never serve from it: they check the object (head, read) and
        move() it to a key no form can write.
        """
        ...

    def put(self, key: str, content: bytes, *, content_type: str) -> None:
        """Store ``content`` under ``key`` from the server side (reports, exports),
        replacing any object there. Raises PortError if the store is unreachable."""
        ...

    def head(self, key: str) -> BlobInfo | None:
        """Size and content type of the stored object, or None if absent."""
        ...

    def read(self, key: str, *, max_bytes: int) -> bytes | None:
        """The stored bytes, or None if absent; at most ``max_bytes + 1`` of them, so a
        caller learns that an object is larger than it will take without reading it all.
        Raises PortError if the store is unreachable."""
        ...

    def move(self, *, source: str, target: str) -> None:
        """Make the object under ``source`` (bytes and content type) the object under
        ``target``, then remove ``source``. Readers of ``target`` see the whole object or
        nothing. Raises NotFound if ``source`` is absent, PortError if unreachable."""
        ...

    def download_url(self, key: str, *, expires_in: int) -> str:
        """A presigned URL that serves the object until it expires."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object. No error if it is absent."""
        ...

    def ping(self) -> None:
        """Return once the store can take uploads: its storage is reachable and usable
        with these credentials. For readiness probes (/readyz): cheap, creates no
        object a key could name. Raises PortError.
        """
        ...


class UploadRepository(Protocol):
    """The uploads clients were given forms for: what each may become, and whether it was confirmed."""

    def add(self, upload: Upload) -> None:
        """Store a new upload."""
        ...

    def get(self, upload_id: UploadId) -> Upload:
        """The upload with this id. Raises NotFound."""
        ...

    def mark_used(self, upload_id: UploadId, *, at: datetime) -> bool:
        """Set ``used_at`` if it is still unset and say whether this call set it: of two
        concurrent calls, exactly one gets True. Raises NotFound."""
        ...

    def prune(self, *, before: datetime) -> int:
        """Forget uploads whose form expired before ``before``; returns how many."""
        ...


class ImageProbe(Protocol):
    """Decodes uploaded images to learn what they really are."""

    def identify(self, data: bytes) -> ImageInfo:
        """The type and pixel size of ``data`` after decoding every pixel of it.

        Raises UploadRejected for anything that is not one whole image of a type
        the probe knows (HTML, SVG, text, a truncated or corrupt file) and for an
        image over the probe's pixel limit (a decompression bomb), which is
        refused from its header, before it is decoded.
        """
        ...


@runtime_checkable
class BlobStoreSetup(Protocol):
    """A blob store whose storage an operator provisions once (an S3 bucket and its CORS rules).

    Optional: `manage.py blobstore_setup` runs it on a store that has it and
    says there is nothing to do otherwise (the local and in-memory stores).
    """

    def setup(self, *, cors_origins: Sequence[str]) -> list[str]:
        """Create the storage if it is missing and let browsers on these origins
        upload and download. Idempotent; returns one line per step, for the
        operator. Raises PortError.
        """
        ...


class EventPublisher(Protocol):
    """Domain events as part of the unit of work that caused them (a transactional outbox)."""

    def publish(self, event: DomainEvent) -> None:
        """Record the event inside the caller's ``uow.atomic()`` block: it is handed to whatever
        performs its side effects (log, queue, ...) after that block commits, and never if it
        rolls back. Outside any block it is handed over at once.

        Delivery is at least once: the handlers are idempotent. PortError if the event
        cannot be recorded; inside a block that rolls the change back with it.
        """
        ...


class ResponseCache(Protocol):
    """Cache-aside for rendered API responses: what is served, never entities.

    Entries live in namespaces ("search", "expert:<id>"); invalidating a
    namespace makes every entry in it unreachable at once. A cache outage is
    never an error: ``get`` misses and ``set``/``invalidate`` do nothing, so
    every request is still answered from the database.
    """

    def get(self, namespace: str, key: str) -> Any | None:
        """The cached value, or None on a miss (or when the cache is unreachable)."""
        ...

    def set(self, namespace: str, key: str, value: Any) -> None:
        """Store a JSON-serialisable value until it expires or its namespace is invalidated."""
        ...

    def invalidate(self, namespace: str) -> None:
        """Make every entry of the namespace unreachable."""
        ...


class ExpertViewCounter(Protocol):
    """How often each expert profile is viewed: totals and a trending list.

    The worked example of an entity that can live in a NoSQL store: the ORM
    and Redis adapters are swapped by the one setting VIEW_COUNTER_BACKEND.
    """

    def record_view(self, expert_id: ExpertId, *, at: datetime) -> None:
        """Count one view of the profile at this (aware) time."""
        ...

    def count(self, expert_id: ExpertId) -> int:
        """All views of the profile ever recorded (0 if none)."""
        ...

    def trending(self, *, now: datetime, days: int, limit: int) -> list[tuple[ExpertId, int]]:
        """The most viewed experts over the last ``days`` UTC calendar days up to
        and including ``now``'s day, as (expert id, views), most views first,
        ties by expert id; at most ``limit``.
        """
        ...


class ReportSource(Protocol):
    """Read-only aggregates for the daily ops report (services/reports.py).

    Every range is a UTC half-open range [start, end) of aware datetimes; the service
    turns a local calendar date into one, so adapters never see a time zone. Each
    method is one round trip to the store. Raises PortError if the store is down.
    """

    def signups_by_role(self, start: datetime, end: datetime) -> dict[Role, int]:
        """Accounts whose signup time is in the range, by role (roles with none omitted)."""
        ...

    def experts_created(self, start: datetime, end: datetime) -> int:
        """Expert profiles created in the range, whatever their status now."""
        ...

    def experts_published(self, start: datetime, end: datetime) -> int:
        """Expert profiles first published in the range (``published_at``), whatever their status now."""
        ...

    def bookings_by_status(self, start: datetime, end: datetime) -> dict[BookingStatus, int]:
        """Bookings created in the range, by their CURRENT status (statuses with none omitted)."""
        ...

    def gross_booking_value(self, start: datetime, end: datetime) -> dict[str, int]:
        """Currency -> sum of prices in minor units of bookings created in the range,
        except those now declined or cancelled (currencies with none omitted)."""
        ...

    def daily_counts(self, boundaries: Sequence[datetime]) -> list[tuple[int, int]]:
        """(bookings created, accounts signed up) in each range [boundaries[i], boundaries[i+1]).

        Boundaries rather than one range split into UTC days: a local day under
        daylight saving is 23 or 25 hours long, so only the caller knows where its
        days begin. Returns len(boundaries) - 1 pairs in a constant number of round trips.
        """
        ...


class TrendChart(Protocol):
    """Draws the daily report's trend as an image (services/report_rendering.py)."""

    def render_png(self, points: Sequence[TrendPoint], *, title: str) -> bytes:
        """A PNG of bookings and signups per day, ``points`` oldest first (all zeros
        and an empty sequence included). Equal inputs give identical bytes, so a
        re-rendered report is byte-for-byte the same. Raises PortError if drawing fails."""
        ...


class SearchLog(Protocol):
    """What clients search for, counted for the daily report's top searched skills.

    Recording is best effort on the caller's side (a search never fails because it
    could not be counted); adapters raise PortError when the store is down.
    """

    def record(self, skills: Sequence[str], *, at: datetime) -> None:
        """Count one search for each of ``skills`` (normalised skill slugs) at ``at`` (aware)."""
        ...

    def top_skills(self, start: datetime, end: datetime, *, limit: int) -> list[tuple[str, int]]:
        """The most searched skills in [start, end) as (skill, searches), most first, ties by
        skill; at most ``limit``. ``start`` and ``end`` fall on quarter hours (local midnights
        in every time zone do), which is the finest resolution an adapter must keep."""
        ...

    def prune(self, *, before: datetime) -> int:
        """Forget the searches counted before ``before``; returns how many records went."""
        ...


class ReportRunRepository(Protocol):
    """The record of each daily report delivery, unique per report date."""

    def claim(self, run: ReportRun) -> tuple[ReportRun, bool]:
        """Store ``run`` unless its date has one; returns (the stored run, whether this call
        stored it). Atomic: of concurrent claims for one date exactly one stores (the
        uniqueness is the store's own, e.g. a unique key), and every caller gets the run."""
        ...

    def take_over(self, day: date, *, at: datetime, stale_before: datetime, resend: bool) -> ReportRun | None:
        """Take the stored run for a new attempt if ReportRun.can_be_taken says so, applying
        ReportRun.take(at=at); returns it, or None if it may not be taken (or is absent).
        Atomic: of concurrent callers at most one gets the run."""
        ...

    def release(self, run: ReportRun) -> None:
        """Give up ``run``'s attempt (after a failure) so the next attempt need not wait for
        the lease: clears ``attempt_at`` if this attempt still holds it."""
        ...

    def get(self, day: date) -> ReportRun:
        """The run of that date; NotFound if there is none."""
        ...

    def save(self, run: ReportRun) -> None:
        """Write back the progress of a run this attempt holds (status, sent_at, recipients, keys)."""
        ...

    def list(self, *, page: PageRequest) -> Page[ReportRun]:
        """Runs, newest report date first."""
        ...


class Mailer(Protocol):
    """Delivers emails (domain.mail.EmailMessage) through whatever the deployment uses."""

    def send(self, message: EmailMessage) -> None:
        """Deliver the message, its text body with the HTML body as an alternative.

        Idempotent by ``message.idempotency_key``: sending the same key twice
        delivers once (the adapter guarantees it, e.g. with a store of sent
        keys marked after a successful send). Raises PortError on a transient
        failure (server unreachable, timeout, refused) so the caller can retry;
        a failed send is not marked, so the retry delivers.
        """
        ...

    def prune(self, *, before: datetime) -> int:
        """Forget the deliveries recorded before ``before``; returns how many. A key forgotten
        is deliverable again, so ``before`` must lie beyond every retry of a message."""
        ...
