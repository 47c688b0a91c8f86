"""The ExpertRepository contract, run against every adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory.repositories import InMemoryExpertRepository, InMemoryUserRepository
from adapters.memory.store import MemoryDatabase, MemoryUnitOfWork
from adapters.orm.repositories import DjangoExpertRepository, DjangoUnitOfWork, DjangoUserRepository
from domain.errors import NotFound, ProfileExists
from domain.experts import ExpertStatus
from domain.ids import ExpertId, UserId, new_id
from domain.money import Money
from domain.ports import ExpertRepository, UnitOfWork, UserRepository
from tests.factories import make_expert, store_expert


class ExpertRepositoryContract:
    """Subclasses provide ``users``, ``experts`` and ``uow`` over one store."""

    def test_add_then_get_round_trips_every_field(self, users: UserRepository, experts: ExpertRepository) -> None:
        profile = store_expert(
            users,
            experts,
            display_name="Zoë Ünicode",
            skills=("rust", "c++", "machine-learning"),
            languages=("pt", "en"),
            hourly_rate=Money(9_500, "JPY"),
            timezone="Asia/Kolkata",
            status=ExpertStatus.SUSPENDED,
            avatar_key="avatars/zoe.webp",
            rating_count=3,
            rating_total=13,
            created_at=datetime(2029, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
            updated_at=datetime(2029, 2, 3, 4, 5, 6, 7, tzinfo=UTC),
            published_at=datetime(2029, 1, 9, tzinfo=UTC),
        )

        stored = experts.get(profile.id)

        assert stored == profile
        assert stored.status is ExpertStatus.SUSPENDED
        assert type(stored.skills) is tuple
        assert type(stored.languages) is tuple
        assert stored.rating_average == 4.33
        assert stored.updated_at.utcoffset() == timedelta(0)

    def test_a_draft_without_avatar_or_publication_round_trips(
        self, users: UserRepository, experts: ExpertRepository
    ) -> None:
        profile = store_expert(
            users, experts, status=ExpertStatus.DRAFT, avatar_key=None, published_at=None, skills=(), languages=()
        )

        stored = experts.get(profile.id)

        assert stored == profile
        assert stored.avatar_key is None
        assert stored.published_at is None

    def test_get_unknown_raises_not_found(self, experts: ExpertRepository) -> None:
        with pytest.raises(NotFound):
            experts.get(ExpertId(new_id()))

    def test_get_for_update_inside_a_transaction(
        self, users: UserRepository, experts: ExpertRepository, uow: UnitOfWork
    ) -> None:
        profile = store_expert(users, experts)

        with uow.atomic():
            assert experts.get(profile.id, for_update=True) == profile

    def test_get_by_owner(self, users: UserRepository, experts: ExpertRepository) -> None:
        store_expert(users, experts)
        profile = store_expert(users, experts)

        assert experts.get_by_owner(profile.owner_id) == profile

    def test_get_by_owner_without_a_profile_raises_not_found(self, experts: ExpertRepository) -> None:
        with pytest.raises(NotFound):
            experts.get_by_owner(UserId(new_id()))

    def test_a_second_profile_for_one_owner_raises_profile_exists(
        self, users: UserRepository, experts: ExpertRepository
    ) -> None:
        first = store_expert(users, experts)
        second = make_expert(owner_id=first.owner_id)

        with pytest.raises(ProfileExists):
            experts.add(second)

        assert experts.get_by_owner(first.owner_id) == first
        with pytest.raises(NotFound):
            experts.get(second.id)

    def test_get_many_keeps_the_requested_order_and_skips_missing(
        self, users: UserRepository, experts: ExpertRepository
    ) -> None:
        a, b, c = (store_expert(users, experts) for _ in range(3))

        found = experts.get_many([c.id, ExpertId(new_id()), a.id, b.id])

        assert found == [c, a, b]

    def test_get_many_of_nothing_is_empty(self, users: UserRepository, experts: ExpertRepository) -> None:
        store_expert(users, experts)

        assert experts.get_many([]) == []

    def test_save_writes_back_the_changes(self, users: UserRepository, experts: ExpertRepository) -> None:
        profile = store_expert(users, experts, status=ExpertStatus.DRAFT, published_at=None)
        later = profile.updated_at + timedelta(hours=1)
        profile.update(now=later, headline="Now with Go", skills=["go"], hourly_rate=Money(15_000, "EUR"))
        profile.publish(now=later)
        profile.record_rating(4)
        profile.avatar_key = "avatars/new.png"

        experts.save(profile)

        assert experts.get(profile.id) == profile

    def test_save_can_clear_the_avatar(self, users: UserRepository, experts: ExpertRepository) -> None:
        profile = store_expert(users, experts, avatar_key="avatars/old.png")
        profile.avatar_key = None

        experts.save(profile)

        assert experts.get(profile.id).avatar_key is None

    def test_save_of_a_profile_never_added_raises_not_found(self, experts: ExpertRepository) -> None:
        profile = make_expert()

        with pytest.raises(NotFound):
            experts.save(profile)
        with pytest.raises(NotFound):
            experts.get(profile.id)

    @pytest.mark.parametrize("batch_size", [1, 2, 3, 500])
    def test_iter_published_streams_every_published_profile_and_nothing_else(
        self, users: UserRepository, experts: ExpertRepository, batch_size: int
    ) -> None:
        published = [store_expert(users, experts) for _ in range(5)]
        store_expert(users, experts, status=ExpertStatus.DRAFT, published_at=None)
        store_expert(users, experts, status=ExpertStatus.SUSPENDED)

        streamed = list(experts.iter_published(batch_size=batch_size))

        assert sorted(streamed, key=lambda p: p.id) == sorted(published, key=lambda p: p.id)

    def test_iter_published_of_an_empty_store_yields_nothing(self, experts: ExpertRepository) -> None:
        assert list(experts.iter_published()) == []


class TestInMemoryExpertRepository(ExpertRepositoryContract):
    @pytest.fixture
    def database(self) -> MemoryDatabase:
        return MemoryDatabase()

    @pytest.fixture
    def users(self, database: MemoryDatabase) -> UserRepository:
        return InMemoryUserRepository(database)

    @pytest.fixture
    def experts(self, database: MemoryDatabase) -> ExpertRepository:
        return InMemoryExpertRepository(database)

    @pytest.fixture
    def uow(self, database: MemoryDatabase) -> UnitOfWork:
        return MemoryUnitOfWork(database)


@pytest.mark.django_db
class TestDjangoExpertRepository(ExpertRepositoryContract):
    @pytest.fixture
    def users(self) -> UserRepository:
        return DjangoUserRepository()

    @pytest.fixture
    def experts(self) -> ExpertRepository:
        return DjangoExpertRepository()

    @pytest.fixture
    def uow(self) -> UnitOfWork:
        return DjangoUnitOfWork()


@pytest.mark.django_db
class TestDjangoExpertQueries:
    """Round trips the ORM adapter promises, counted."""

    @pytest.mark.parametrize("size", [1, 50])
    def test_get_many_is_one_query_whatever_the_size(self, size: int, django_assert_num_queries) -> None:
        users, experts = DjangoUserRepository(), DjangoExpertRepository()
        ids = [store_expert(users, experts).id for _ in range(size)]

        with django_assert_num_queries(1):
            assert len(experts.get_many(ids)) == size

    def test_iter_published_is_one_query_per_batch(self, django_assert_num_queries) -> None:
        users, experts = DjangoUserRepository(), DjangoExpertRepository()
        for _ in range(5):
            store_expert(users, experts)

        with django_assert_num_queries(3):  # 2 + 2 + 1: the short batch ends the stream
            assert len(list(experts.iter_published(batch_size=2))) == 5
