"""`manage.py seed_demo`: load a deterministic demo marketplace through the use cases.

Everything is written by the same services the API calls, so the demo data
obeys every business rule (prices frozen at request time, no overlapping
accepted bookings, rating aggregates that match the reviews). History is made
by moving a local clock through the past, since the services refuse past
starts. A second run finds the demo staff account and does nothing.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dependency_injector.wiring import Provide, Provider, inject
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_hasher
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings
from tqdm import tqdm

from api.management import demo_data as data
from domain.bookings import Booking, BookingStatus
from domain.errors import NotFound
from domain.events import DomainEvent
from domain.experts import ExpertProfile, ExpertStatus
from domain.ids import UserId, new_id
from domain.money import CURRENCY_EXPONENTS, Money
from domain.ports import UnitOfWork, UserRepository
from domain.users import Role, User

STAFF_EMAIL = "staff@experthub.local"
CLIENT_EMAIL = "client@experthub.local"
EXPERT_EMAIL = "expert@experthub.local"
DEMO_PASSWORD = "experthub-demo"
SEED = 42

# Shares of expert profiles left as drafts and suspended by staff.
DRAFT_SHARE = 0.08
SUSPENDED_SHARE = 0.03
REVIEWED_SHARE = 0.8


class TravelClock:
    """A Clock the seeder sets to any moment, so the services record a believable past."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


class CountingEventPublisher:
    """Swallows events while seeding: demo data must not notify anyone."""

    def __init__(self) -> None:
        self.count = 0

    def publish(self, event: DomainEvent) -> None:
        self.count += 1


class DemoPasswordHasher(PBKDF2PasswordHasher):
    """PBKDF2 at a low iteration count, for the bulk demo accounts only.

    Hundreds of full-strength hashes would take minutes. The hash keeps the
    standard ``pbkdf2_sha256$<iterations>$...`` format, so the regular hasher
    verifies it and re-hashes it at full strength on the first login.
    """

    iterations = 1_000


@contextmanager
def fast_password_hashing() -> Iterator[None]:
    if get_hasher().algorithm != DemoPasswordHasher.algorithm:
        yield  # The configured hasher is not PBKDF2 (tests use a fast one already).
        return
    hasher = f"{__name__}.{DemoPasswordHasher.__name__}"
    with override_settings(PASSWORD_HASHERS=[hasher, *settings.PASSWORD_HASHERS]):
        yield


@dataclass(frozen=True)
class DemoKit:
    """The use cases and ports the seeder works through, resolved by the container."""

    users: UserRepository
    uow: UnitOfWork
    clock: Any  # the clock provider, overridden while seeding
    events: Any  # the event publisher provider, overridden while seeding
    account_register: Callable[..., User]
    expert_create: Callable[..., ExpertProfile]
    expert_publish: Callable[..., ExpertProfile]
    expert_suspend: Callable[..., ExpertProfile]
    booking_request: Callable[..., Booking]
    booking_accept: Callable[..., Booking]
    booking_decline: Callable[..., Booking]
    booking_cancel: Callable[..., Booking]
    booking_complete: Callable[..., Booking]
    review_create: Callable[..., Any]
    expert_reindex_all: Callable[..., int]

    def staff_exists(self) -> bool:
        try:
            self.users.get_by_email(STAFF_EMAIL)
        except NotFound:
            return False
        return True


@inject
def demo_kit(
    users: UserRepository = Provide["users"],
    uow: UnitOfWork = Provide["uow"],
    clock: Any = Provider["clock"],
    events: Any = Provider["events"],
    account_register: Callable[..., User] = Provider["account_register"],
    expert_create: Callable[..., ExpertProfile] = Provider["expert_create"],
    expert_publish: Callable[..., ExpertProfile] = Provider["expert_publish"],
    expert_suspend: Callable[..., ExpertProfile] = Provider["expert_suspend"],
    booking_request: Callable[..., Booking] = Provider["booking_request"],
    booking_accept: Callable[..., Booking] = Provider["booking_accept"],
    booking_decline: Callable[..., Booking] = Provider["booking_decline"],
    booking_cancel: Callable[..., Booking] = Provider["booking_cancel"],
    booking_complete: Callable[..., Booking] = Provider["booking_complete"],
    review_create: Callable[..., Any] = Provider["review_create"],
    expert_reindex_all: Callable[..., int] = Provider["expert_reindex_all"],
) -> DemoKit:
    return DemoKit(
        users=users,
        uow=uow,
        clock=clock,
        events=events,
        account_register=account_register,
        expert_create=expert_create,
        expert_publish=expert_publish,
        expert_suspend=expert_suspend,
        booking_request=booking_request,
        booking_accept=booking_accept,
        booking_decline=booking_decline,
        booking_cancel=booking_cancel,
        booking_complete=booking_complete,
        review_create=review_create,
        expert_reindex_all=expert_reindex_all,
    )


@dataclass
class SeededExpert:
    profile: ExpertProfile
    area: str  # one of demo_data.SKILLS_BY_FIELD
    values: dict[str, object]
    quality: float  # -1 (poor) .. +1 (excellent): skews the ratings clients give
    # Day offsets from today that already hold one of the expert's bookings. One
    # booking a day, inside working hours, so accepted bookings never overlap.
    busy_days: set[int] = field(default_factory=set)


@dataclass
class SeedStats:
    experts: Counter[str] = field(default_factory=Counter)
    bookings: Counter[str] = field(default_factory=Counter)
    clients: int = 0
    reviews: int = 0
    events: int = 0


class DemoSeeder:
    """Writes the demo marketplace through the use cases, in one transaction."""

    def __init__(self, kit: DemoKit, *, now: datetime, password: str, progress: bool) -> None:
        self.kit = kit
        self.rng = random.Random(SEED)
        self.now = now.replace(minute=0, second=0, microsecond=0)
        self.today = self.now.replace(hour=0)
        self.clock = TravelClock(self.now)
        self.events = CountingEventPublisher()
        self.password = password
        self.progress = progress
        self.stats = SeedStats()
        self.clients: list[User] = []
        self.client_weights: list[float] = []

    def run(self, *, experts: int, clients: int) -> SeedStats:
        with self.kit.clock.override(self.clock), self.kit.events.override(self.events), self.kit.uow.atomic():
            staff = self._staff()
            demo_client = self._register(CLIENT_EMAIL, "Casey Client", Role.CLIENT, self._days_ago(395))
            demo_expert = self._demo_expert()
            with fast_password_hashing():
                self.clients = [demo_client, *self._bulk_clients(clients - 1)]
                seeded = [demo_expert, *self._bulk_experts(experts - 1)]
            self.client_weights = [self.rng.paretovariate(2.0) for _ in self.clients]
            self._showcase(demo_client.id, demo_expert)
            self._bookings([e for e in seeded if e.profile.published_at is not None])
            self._suspend_some(staff.id, seeded[1:])
        self.stats.clients = len(self.clients)
        self.stats.events = self.events.count
        return self.stats

    # --- accounts and profiles -------------------------------------------------

    def _staff(self) -> User:
        """Staff accounts are made by operators, not by self-service registration: straight through the port."""
        staff = User(
            id=UserId(new_id()), email=STAFF_EMAIL, role=Role.STAFF, name="Sam Staff", signed_up_at=self._days_ago(400)
        )
        self.kit.users.add(staff, password=self.password)
        return staff

    def _register(self, email: str, name: str, role: Role, at: datetime) -> User:
        self.clock.set(at)
        return self.kit.account_register(email=email, password=self.password, name=name, role=role)

    def _bulk_clients(self, count: int) -> Iterator[User]:
        for number in self._bar(range(1, count + 1), "clients", "client"):
            locale = data.pick_locale(self.rng)
            name = data.person_name(self.rng, locale)
            signup = self._days_ago(self.rng.uniform(20, 390))
            yield self._register(data.demo_email(name, number, "client"), name, Role.CLIENT, signup)

    def _demo_expert(self) -> SeededExpert:
        user = self._register(EXPERT_EMAIL, "Erin Expert", Role.EXPERT, self._days_ago(380))
        skills = ["django", "python", "postgresql", "system-design", "aws"]
        values = data.text_values(self.rng, skills, data.LOCALES[2])
        profile = self._profile(
            user.id,
            headline="Senior Django engineer: APIs, PostgreSQL and pragmatic architecture",
            bio=data.bio(self.rng, values),
            skills=skills,
            hourly_rate=Money(12_000, "EUR"),
            languages=["en", "de"],
            timezone="Europe/Berlin",
        )
        return SeededExpert(self._publish(profile, after_days=1), "tech", values, quality=0.7)

    def _bulk_experts(self, count: int) -> Iterator[SeededExpert]:
        drafts = set(self.rng.sample(range(count), round(count * DRAFT_SHARE) if count >= 3 else 0))
        for index in self._bar(range(count), "experts", "expert"):
            expert = self._bulk_expert(index + 1)
            if index in drafts:
                self.stats.experts[ExpertStatus.DRAFT] += 1
            else:
                expert.profile = self._publish(expert.profile, after_days=self.rng.uniform(0.5, 10))
            yield expert

    def _bulk_expert(self, number: int) -> SeededExpert:
        rng = self.rng
        field_name = data.weighted(rng, data.FIELD_WEIGHTS)
        locale = data.pick_locale(rng)
        name = data.person_name(rng, locale)
        skills = data.pick_skills(rng, field_name)
        values = data.text_values(rng, skills, locale)
        signup = self._days_ago(rng.uniform(45, 380))
        user = self._register(data.demo_email(name, number, "expert"), name, Role.EXPERT, signup)
        rate = data.hourly_rate_minor(rng, field_name, locale, exponent=CURRENCY_EXPONENTS[locale.currency])
        profile = self._profile(
            user.id,
            headline=data.headline(rng, field_name, values),
            bio=data.bio(rng, values),
            skills=skills,
            hourly_rate=Money(rate, locale.currency),
            languages=data.pick_languages(rng, locale, skills),
            timezone=rng.choice(locale.timezones),
        )
        return SeededExpert(profile, field_name, values, quality=rng.triangular(-1, 1, 0.6))

    def _profile(self, owner: UserId, **values: Any) -> ExpertProfile:
        self.clock.set(self.clock.now() + timedelta(hours=self.rng.uniform(0.1, 6)))
        return self.kit.expert_create(actor=owner, **values)

    def _publish(self, profile: ExpertProfile, *, after_days: float) -> ExpertProfile:
        self.clock.set(profile.created_at + timedelta(days=after_days))
        self.stats.experts[ExpertStatus.PUBLISHED] += 1
        return self.kit.expert_publish(actor=profile.owner_id, expert_id=profile.id)

    def _suspend_some(self, staff: UserId, experts: list[SeededExpert]) -> None:
        published = [e for e in experts if e.profile.published_at is not None]
        count = max(1, round(len(experts) * SUSPENDED_SHARE)) if len(published) >= 2 else 0
        for expert in self.rng.sample(published, min(count, len(published))):
            self.clock.set(self.now - timedelta(hours=self.rng.uniform(1, 240)))
            self.kit.expert_suspend(actor=staff, expert_id=expert.profile.id)
            self.stats.experts[ExpertStatus.PUBLISHED] -= 1
            self.stats.experts[ExpertStatus.SUSPENDED] += 1

    # --- bookings and reviews -----------------------------------------------------

    def _showcase(self, client: UserId, expert: SeededExpert) -> None:
        """The demo client's bookings with the demo expert: one in every status, one left to review."""
        expert.busy_days.update({-20, -10, 2, 3, 4, 5})
        self._past_booking(expert, client, day=-20, outcome=BookingStatus.COMPLETED, review=True)
        self._past_booking(expert, client, day=-10, outcome=BookingStatus.COMPLETED, review=False)
        for day, outcome in enumerate(
            (BookingStatus.REQUESTED, BookingStatus.ACCEPTED, BookingStatus.DECLINED, BookingStatus.CANCELLED), start=2
        ):
            self._future_booking(expert, client, day=day, outcome=outcome)

    def _bookings(self, experts: list[SeededExpert]) -> None:
        past_outcomes = {BookingStatus.COMPLETED: 80, BookingStatus.CANCELLED: 12, BookingStatus.DECLINED: 8}
        future_outcomes = {
            BookingStatus.REQUESTED: 40,
            BookingStatus.ACCEPTED: 35,
            BookingStatus.CANCELLED: 15,
            BookingStatus.DECLINED: 10,
        }
        for expert in self._bar(experts, "bookings", "expert"):
            history = (self.today.date() - expert.profile.published_at.date()).days  # type: ignore[union-attr]
            past = self.rng.choices((0, 1, 2, 3, 4, 5, 6, 8), weights=(10, 14, 18, 18, 14, 10, 8, 8))[0]
            for day in self._free_days(expert, -history + 2, -3, past):
                outcome = BookingStatus(data.weighted(self.rng, past_outcomes))
                review = self.rng.random() < REVIEWED_SHARE
                self._past_booking(expert, None, day=day, outcome=outcome, review=review)
            upcoming = self.rng.choices((0, 1, 2, 3, 4), weights=(25, 30, 25, 12, 8))[0]
            for day in self._free_days(expert, 1, 30, upcoming):
                outcome = BookingStatus(data.weighted(self.rng, future_outcomes))
                self._future_booking(expert, None, day=day, outcome=outcome)

    def _past_booking(
        self, expert: SeededExpert, client: UserId | None, *, day: int, outcome: BookingStatus, review: bool
    ) -> None:
        """Requested days before its start, then declined, cancelled before it, or held and completed after."""
        start = self._slot(day)
        earliest = expert.profile.published_at + timedelta(hours=1)  # type: ignore[operator]
        requested = max(start - timedelta(hours=self.rng.uniform(24, 240)), earliest)
        client = client or self._client(signed_up_before=requested)
        booking = self._request(expert, client, start=start, at=requested)
        if outcome is BookingStatus.DECLINED:
            self._move(self.kit.booking_decline, booking, booking.expert_user_id, self._between(requested, start))
        elif outcome is BookingStatus.CANCELLED:
            self._move(self.kit.booking_cancel, booking, client, self._between(requested, start))
        else:
            self._complete(expert, booking, accepted_at=self._between(requested, start), review=review)
        self.stats.bookings[outcome] += 1

    def _complete(self, expert: SeededExpert, booking: Booking, *, accepted_at: datetime, review: bool) -> None:
        self._move(self.kit.booking_accept, booking, booking.expert_user_id, accepted_at)
        completed_at = min(booking.ends_at + timedelta(hours=self.rng.uniform(0.2, 30)), self.now)
        party = self.rng.choice((booking.expert_user_id, booking.client_id))
        self._move(self.kit.booking_complete, booking, party, completed_at)
        if review:
            rating, comment = data.review(self.rng, expert.quality)
            self.clock.set(min(completed_at + timedelta(hours=self.rng.uniform(1, 72)), self.now))
            self.kit.review_create(actor=booking.client_id, booking_id=booking.id, rating=rating, comment=comment)
            self.stats.reviews += 1

    def _future_booking(self, expert: SeededExpert, client: UserId | None, *, day: int, outcome: BookingStatus) -> None:
        """Requested in the last few days; some answered since, some cancelled by their client."""
        requested = self.now - timedelta(hours=self.rng.uniform(2, 120))
        client = client or self._client(signed_up_before=requested)
        booking = self._request(expert, client, start=self._slot(day), at=requested)
        answered = self._between(requested, self.now)
        if outcome is BookingStatus.ACCEPTED or (outcome is BookingStatus.CANCELLED and self.rng.random() < 0.5):
            self._move(self.kit.booking_accept, booking, booking.expert_user_id, answered)
        if outcome is BookingStatus.DECLINED:
            self._move(self.kit.booking_decline, booking, booking.expert_user_id, answered)
        if outcome is BookingStatus.CANCELLED:
            self._move(self.kit.booking_cancel, booking, client, self._between(answered, self.now))
        self.stats.bookings[outcome] += 1

    def _request(self, expert: SeededExpert, client: UserId, *, start: datetime, at: datetime) -> Booking:
        self.clock.set(at)
        return self.kit.booking_request(
            actor=client,
            expert_id=expert.profile.id,
            starts_at=start,
            duration_minutes=self.rng.choice(data.DURATIONS),
            topic=data.topic(self.rng, expert.area, expert.values),
        )

    def _move(self, use_case: Callable[..., Booking], booking: Booking, actor: UserId, at: datetime) -> None:
        self.clock.set(at)
        use_case(actor=actor, booking_id=booking.id)

    # --- time and choice helpers -------------------------------------------------------

    def _client(self, *, signed_up_before: datetime) -> UserId:
        """A client who had an account by then; a few clients book far more than most."""
        eligible = [
            (c.id, w)
            for c, w in zip(self.clients, self.client_weights, strict=True)
            if c.signed_up_at < signed_up_before
        ]
        ids, weights = zip(*eligible, strict=True)
        return self.rng.choices(ids, weights=weights)[0]

    def _free_days(self, expert: SeededExpert, first: int, last: int, count: int) -> list[int]:
        free = [day for day in range(first, last + 1) if day not in expert.busy_days]
        days = self.rng.sample(free, min(count, len(free)))
        expert.busy_days.update(days)
        return sorted(days)

    def _slot(self, day: int) -> datetime:
        """A start inside (UTC) working hours; with at most 3 hours it ends the same day."""
        return self.today + timedelta(days=day, hours=self.rng.randint(7, 17), minutes=self.rng.choice((0, 30)))

    def _between(self, start: datetime, end: datetime) -> datetime:
        return start + (end - start) * self.rng.uniform(0.1, 0.9)

    def _days_ago(self, days: float) -> datetime:
        # From midnight, not from now: the draws, and so the data, do not depend on the time of day.
        return self.today - timedelta(days=days)

    def _bar(self, items: Any, what: str, unit: str) -> Any:
        return tqdm(items, desc=f"Seeding {what}", unit=unit, disable=not self.progress)


class Command(BaseCommand):
    help = "Load a deterministic demo marketplace through the use cases (skipped when it is already there)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--experts", type=int, default=500, help="Expert accounts to create (default 500).")
        parser.add_argument("--clients", type=int, default=200, help="Client accounts to create (default 200).")
        parser.add_argument("--password", default=DEMO_PASSWORD, help="Password of every demo account.")

    def handle(self, *args: Any, **options: Any) -> None:
        kit = demo_kit()
        if kit.staff_exists():
            self.stdout.write(f"Demo data already loaded ({STAFF_EMAIL} exists): nothing to do.")
        else:
            self._seed(kit, options)
        self._print_credentials(options["password"])

    def _seed(self, kit: DemoKit, options: dict[str, Any]) -> None:
        if options["experts"] < 1 or options["clients"] < 1:
            raise CommandError("--experts and --clients must be at least 1.")
        started = time.monotonic()
        seeder = DemoSeeder(kit, now=datetime.now(UTC), password=options["password"], progress=options["verbosity"] > 0)
        stats = seeder.run(experts=options["experts"], clients=options["clients"])
        indexed = kit.expert_reindex_all()
        self._print_stats(stats, indexed, time.monotonic() - started)

    def _print_stats(self, stats: SeedStats, indexed: int, seconds: float) -> None:
        experts = ", ".join(f"{stats.experts[status]} {status}" for status in ExpertStatus)
        bookings = ", ".join(f"{stats.bookings[status]} {status}" for status in BookingStatus)
        self.stdout.write(
            self.style.SUCCESS(f"Seeded demo data in {seconds:.1f}s (random seed {SEED}):")
            + f"\n  experts:  {sum(stats.experts.values())} ({experts}); {indexed} in the search index"
            + f"\n  clients:  {stats.clients}"
            + f"\n  bookings: {sum(stats.bookings.values())} ({bookings})"
            + f"\n  reviews:  {stats.reviews}"
            + f"\n  ({stats.events} domain events not published: demo data notifies no one)"
        )

    def _print_credentials(self, password: str) -> None:
        base = settings.PUBLIC_BASE_URL.rstrip("/")
        self.stdout.write(
            "\nExpertHub demo"
            + f"\n  API:       {base}/api/v1/   (try {base}/api/v1/experts/?q=django)"
            + f"\n  API docs:  {base}/api/docs/"
            + f"\n  Admin:     {base}/admin/"
            + "\n  Logins (email / password):"
            + f"\n    staff   {STAFF_EMAIL} / {password}   (admin and API)"
            + f"\n    client  {CLIENT_EMAIL} / {password}"
            + f"\n    expert  {EXPERT_EMAIL} / {password}"
            + "\n  Every other demo account (…@example.com) has the same password."
        )
