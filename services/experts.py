"""Expert profiles: create, edit, publish, suspend, view, search."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from domain.blobs import DOWNLOAD_EXPIRY_SECONDS
from domain.errors import NotFound, PermissionDenied
from domain.events import ExpertProfileChanged
from domain.experts import ExpertProfile, ExpertStatus
from domain.ids import ExpertId, UserId, new_id
from domain.money import Money
from domain.ports import (
    BlobStore,
    Clock,
    EventPublisher,
    ExpertRepository,
    Progress,
    RebuildableIndex,
    ReconcilableIndex,
    ResponseCache,
    SearchIndex,
    UnitOfWork,
    UserRepository,
)
from domain.search import ExpertDocument, SearchQuery, SkillFacet
from domain.users import Role, User

# The response-cache namespaces of the public expert pages (services/pages.py reads them).
SEARCH_PAGES = "search"


def expert_pages(expert_id: ExpertId) -> str:
    """The namespace of one expert's public profile page."""
    return f"expert:{expert_id}"


def expert_pages_invalidate(*, uow: UnitOfWork, response_cache: ResponseCache, expert_id: ExpertId) -> None:
    """Once the write commits, drop the expert's cached profile and every cached search page.

    Search pages are dropped whole: any of them may list the expert, and
    which ones is exactly what the cache does not know.
    """

    def invalidate() -> None:
        response_cache.invalidate(expert_pages(expert_id))
        response_cache.invalidate(SEARCH_PAGES)

    uow.on_commit(invalidate)


@dataclass(frozen=True, slots=True)
class ExpertSearchPage:
    profiles: list[ExpertProfile]
    total: int
    facets: tuple[SkillFacet, ...]
    query: SearchQuery


def expert_document(profile: ExpertProfile) -> ExpertDocument:
    """The search projection of a profile."""
    return ExpertDocument(
        expert_id=profile.id,
        headline=profile.headline,
        bio=profile.bio,
        skills=profile.skills,
        languages=profile.languages,
        rate_amount=profile.hourly_rate.amount,
        currency=profile.hourly_rate.currency,
        rating_average=profile.rating_average,
        rating_count=profile.rating_count,
        published_at=profile.published_at,
    )


def expert_sync_index(*, search: SearchIndex, profile: ExpertProfile) -> None:
    """Only published profiles are searchable."""
    if profile.status is ExpertStatus.PUBLISHED:
        search.upsert(expert_document(profile))
    else:
        search.remove(profile.id)


def expert_reindex_all(
    *, experts: ExpertRepository, search: SearchIndex, uow: UnitOfWork, response_cache: ResponseCache
) -> int:
    """Rebuild the search index from the repository; returns the number indexed.

    One transaction: on the database-backed indexes searches never see the
    index empty half-way through the rebuild.
    """
    with uow.atomic():
        search.clear()
        indexed = search.upsert_many(expert_document(p) for p in experts.iter_published())
        uow.on_commit(lambda: response_cache.invalidate(SEARCH_PAGES))  # pages from the old index may differ
    return indexed


def expert_create(
    *,
    experts: ExpertRepository,
    users: UserRepository,
    uow: UnitOfWork,
    clock: Clock,
    events: EventPublisher,
    response_cache: ResponseCache,
    actor: UserId,
    headline: str,
    hourly_rate: Money,
    display_name: str | None = None,
    bio: str = "",
    skills: Sequence[str] = (),
    languages: Sequence[str] = (),
    timezone: str = "UTC",
) -> ExpertProfile:
    """An expert account's one profile, as a draft."""
    owner = users.get(actor)
    if owner.role is not Role.EXPERT:
        raise PermissionDenied("Only expert accounts have an expert profile.")
    profile = ExpertProfile.create(
        id=ExpertId(new_id()),
        owner_id=owner.id,
        now=clock.now(),
        display_name=display_name or owner.name,
        headline=headline,
        bio=bio,
        skills=tuple(skills),
        hourly_rate=hourly_rate,
        languages=tuple(languages),
        timezone=timezone,
    )
    with uow.atomic():
        experts.add(profile)
        _after_change(uow=uow, events=events, response_cache=response_cache, profile=profile)
    return profile


def expert_update(
    *,
    experts: ExpertRepository,
    search: SearchIndex,
    uow: UnitOfWork,
    clock: Clock,
    events: EventPublisher,
    response_cache: ResponseCache,
    actor: UserId,
    expert_id: ExpertId,
    display_name: str | None = None,
    headline: str | None = None,
    bio: str | None = None,
    skills: Sequence[str] | None = None,
    hourly_rate: Money | None = None,
    languages: Sequence[str] | None = None,
    timezone: str | None = None,
) -> ExpertProfile:
    """The owner edits their profile; None leaves a field unchanged."""
    with uow.atomic():
        profile = owned_profile(experts=experts, actor=actor, expert_id=expert_id)
        profile.update(
            now=clock.now(),
            display_name=display_name,
            headline=headline,
            bio=bio,
            skills=tuple(skills) if skills is not None else None,
            hourly_rate=hourly_rate,
            languages=tuple(languages) if languages is not None else None,
            timezone=timezone,
        )
        _save(experts=experts, search=search, uow=uow, events=events, response_cache=response_cache, profile=profile)
    return profile


def expert_publish(
    *,
    experts: ExpertRepository,
    users: UserRepository,
    search: SearchIndex,
    uow: UnitOfWork,
    clock: Clock,
    events: EventPublisher,
    response_cache: ResponseCache,
    actor: UserId,
    expert_id: ExpertId,
) -> ExpertProfile:
    """The owner, and only the owner, publishes a complete draft.

    Publishing lists the expert and makes them bookable at their rate, and the owner
    cannot take it back (nothing returns a profile to draft): it is the owner's
    consent. Staff moderate what is public (suspend, reinstate); they see drafts, so
    they get 403 where another stranger gets 404.
    """
    with uow.atomic():
        profile = owned_profile(
            experts=experts, actor=actor, expert_id=expert_id, sees_drafts=users.get(actor).is_staff
        )
        profile.publish(now=clock.now())
        _save(experts=experts, search=search, uow=uow, events=events, response_cache=response_cache, profile=profile)
    return profile


def expert_suspend(
    *,
    experts: ExpertRepository,
    users: UserRepository,
    search: SearchIndex,
    uow: UnitOfWork,
    clock: Clock,
    events: EventPublisher,
    response_cache: ResponseCache,
    actor: UserId,
    expert_id: ExpertId,
) -> ExpertProfile:
    """Staff take a published profile out of the marketplace."""
    _require_staff(users.get(actor))
    with uow.atomic():
        profile = experts.get(expert_id, for_update=True)
        profile.suspend(now=clock.now())
        _save(experts=experts, search=search, uow=uow, events=events, response_cache=response_cache, profile=profile)
    return profile


def expert_reinstate(
    *,
    experts: ExpertRepository,
    users: UserRepository,
    search: SearchIndex,
    uow: UnitOfWork,
    clock: Clock,
    events: EventPublisher,
    response_cache: ResponseCache,
    actor: UserId,
    expert_id: ExpertId,
) -> ExpertProfile:
    """Staff put a suspended profile back on the marketplace."""
    _require_staff(users.get(actor))
    with uow.atomic():
        profile = experts.get(expert_id, for_update=True)
        profile.reinstate(now=clock.now())
        _save(experts=experts, search=search, uow=uow, events=events, response_cache=response_cache, profile=profile)
    return profile


def expert_get(
    *, experts: ExpertRepository, users: UserRepository, actor: UserId | None, expert_id: ExpertId
) -> ExpertProfile:
    """A published profile for anyone; a draft or suspended one only for its owner and staff."""
    profile = experts.get(expert_id)
    if profile.status is ExpertStatus.PUBLISHED or actor == profile.owner_id:
        return profile
    if actor is not None and users.get(actor).is_staff:
        return profile
    raise NotFound("Expert not found.")


def expert_get_mine(*, experts: ExpertRepository, actor: UserId) -> ExpertProfile:
    return experts.get_by_owner(actor)


def expert_search(*, experts: ExpertRepository, search: SearchIndex, query: SearchQuery) -> ExpertSearchPage:
    """One page of published experts matching the query, with skill facets."""
    result = search.search(query)
    profiles = [p for p in experts.get_many(result.expert_ids) if p.status is ExpertStatus.PUBLISHED]
    return ExpertSearchPage(profiles=profiles, total=result.total, facets=result.facets, query=query)


def expert_avatar_urls(*, blobs: BlobStore, profiles: Sequence[ExpertProfile]) -> dict[ExpertId, str]:
    """Presigned download URLs for the profiles that have an avatar."""
    return {
        p.id: blobs.download_url(p.avatar_key, expires_in=DOWNLOAD_EXPIRY_SECONDS) for p in profiles if p.avatar_key
    }


def owned_profile(
    *, experts: ExpertRepository, actor: UserId, expert_id: ExpertId, sees_drafts: bool = False
) -> ExpertProfile:
    """The actor's own profile, locked; a stranger gets 403 for a profile they can see
    (a public one, or any when ``sees_drafts``: staff) and 404 otherwise."""
    profile = experts.get(expert_id, for_update=True)
    if profile.owner_id != actor:
        if profile.status is not ExpertStatus.PUBLISHED and not sees_drafts:
            raise NotFound("Expert not found.")
        raise PermissionDenied("Only the owner changes a profile.")
    return profile


def _require_staff(user: User) -> None:
    if not user.is_staff:
        raise PermissionDenied("Only staff do this.")


def _save(
    *,
    experts: ExpertRepository,
    search: SearchIndex,
    uow: UnitOfWork,
    events: EventPublisher,
    response_cache: ResponseCache,
    profile: ExpertProfile,
) -> None:
    experts.save(profile)
    # The index is written inside the transaction: the database-backed indexes
    # share it, so the profile and its search row commit or roll back together.
    # An external index is handed over wrapped (SEARCH_SYNC=task, adapters/celery/search.py):
    # there this write becomes an "index this expert" task enqueued after the commit.
    expert_sync_index(search=search, profile=profile)
    _after_change(uow=uow, events=events, response_cache=response_cache, profile=profile)


def _after_change(
    *, uow: UnitOfWork, events: EventPublisher, response_cache: ResponseCache, profile: ExpertProfile
) -> None:
    events.publish(ExpertProfileChanged(expert_id=profile.id))
    expert_pages_invalidate(uow=uow, response_cache=response_cache, expert_id=profile.id)


def search_rebuild(
    *,
    experts: ExpertRepository,
    search: SearchIndex,
    uow: UnitOfWork,
    response_cache: ResponseCache,
    progress: Progress | None = None,
) -> int:
    """Rebuild the search index from the published profiles, with no downtime where the index allows it.

    A RebuildableIndex (Elasticsearch) loads a new index out of sight and switches
    to it at once; any other index is reindexed in place in one transaction
    (expert_reindex_all). Either way cached search pages are dropped. Returns how
    many profiles were indexed.
    """
    if not isinstance(search, RebuildableIndex):
        indexed = expert_reindex_all(experts=experts, search=search, uow=uow, response_cache=response_cache)
        if progress is not None:
            progress(indexed)
        return indexed
    indexed = search.rebuild((expert_document(p) for p in experts.iter_published()), progress=progress)
    response_cache.invalidate(SEARCH_PAGES)  # pages cached from the old index may differ
    return indexed


# --- keeping an external index in sync (docs/elasticsearch.md, "Keeping the index in sync") ---

# Profiles read per round trip when syncing many experts at once.
SYNC_BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class IndexSyncResult:
    upserted: int = 0
    removed: int = 0

    def __add__(self, other: IndexSyncResult) -> IndexSyncResult:
        return IndexSyncResult(upserted=self.upserted + other.upserted, removed=self.removed + other.removed)


def expert_index_sync(
    *, experts: ExpertRepository, search: SearchIndex, response_cache: ResponseCache, expert_ids: Sequence[ExpertId]
) -> IndexSyncResult:
    """Make the index agree with the profiles as they are NOW: published ones indexed, others (or gone) removed.

    Reads the current state instead of trusting the message that asked, so it is
    idempotent, safe to re-run and order-independent: an older request running
    late still writes the newest profile. Drops the cached search pages once the
    index changed (a page cached between the commit and this write would be stale).
    Raises PortError (the task retries).
    """
    result = IndexSyncResult()
    for batch in _batches(list(dict.fromkeys(expert_ids)), SYNC_BATCH_SIZE):
        result += _sync_batch(experts=experts, search=search, expert_ids=batch)
    if result.upserted or result.removed:
        response_cache.invalidate(SEARCH_PAGES)
    return result


def _sync_batch(*, experts: ExpertRepository, search: SearchIndex, expert_ids: list[ExpertId]) -> IndexSyncResult:
    published = [p for p in experts.get_many(expert_ids) if p.status is ExpertStatus.PUBLISHED]
    upserted = search.upsert_many(expert_document(p) for p in published) if published else 0
    unlisted = set(expert_ids) - {p.id for p in published}
    for expert_id in sorted(unlisted, key=str):
        search.remove(expert_id)
    return IndexSyncResult(upserted=upserted, removed=len(unlisted))


def _batches(items: list[ExpertId], size: int) -> Iterator[list[ExpertId]]:
    # search.batching.batched sits above this layer; itertools.batched needs Python 3.12.
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What a reconcile found and repaired; ``skipped`` says why nothing was compared."""

    published: int = 0
    indexed: int = 0
    missing: int = 0  # published, not in the index
    stale: int = 0  # in the index with another version
    orphaned: int = 0  # in the index, not published (draft, suspended, deleted)
    repaired: IndexSyncResult = IndexSyncResult()
    skipped: str = ""

    @property
    def drift(self) -> int:
        return self.missing + self.stale + self.orphaned


def search_reconcile(
    *, experts: ExpertRepository, search: SearchIndex, response_cache: ResponseCache
) -> ReconcileReport:
    """Compare what an external index holds with the published profiles and repair both directions.

    Missing and stale documents are upserted, orphaned ones removed, all through
    expert_index_sync, which rereads each drifted profile: a profile changed while
    this runs is written as it is by then, never as this read it. A database-backed
    index shares the profiles' transactions and cannot drift: it is left alone.
    Raises PortError.
    """
    if not isinstance(search, ReconcilableIndex):
        return ReconcileReport(
            skipped=f"{type(search).__name__} commits and rolls back with the profiles: it cannot drift."
        )
    indexed = search.document_versions()
    expected = {p.id: expert_document(p).version for p in experts.iter_published()}
    missing = expected.keys() - indexed.keys()
    stale = {i for i in expected.keys() & indexed.keys() if indexed[i] != expected[i]}
    orphaned = indexed.keys() - expected.keys()
    drifted = sorted(missing | stale | orphaned, key=str)
    repaired = expert_index_sync(experts=experts, search=search, response_cache=response_cache, expert_ids=drifted)
    return ReconcileReport(
        published=len(expected),
        indexed=len(indexed),
        missing=len(missing),
        stale=len(stale),
        orphaned=len(orphaned),
        repaired=repaired,
    )
