from __future__ import annotations

import pytest

from domain.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied, ProfileExists
from domain.events import ExpertProfileChanged
from domain.experts import ExpertStatus
from domain.money import Money
from domain.search import SearchQuery
from domain.users import Role
from tests.unit.conftest import World

RATE = Money(10000, "EUR")


def test_only_expert_accounts_create_a_profile_and_only_one(world: World) -> None:
    client = world.register(Role.CLIENT)
    with pytest.raises(PermissionDenied):
        world.expert_create(actor=client.id, headline="x", hourly_rate=RATE)
    owner = world.register(Role.EXPERT, name="Grace")
    profile = world.expert_create(actor=owner.id, headline="Compilers", hourly_rate=RATE)
    assert (profile.status, profile.display_name) == (ExpertStatus.DRAFT, "Grace")
    with pytest.raises(ProfileExists):
        world.expert_create(actor=owner.id, headline="Again", hourly_rate=RATE)


def test_drafts_are_not_searchable_until_published(world: World) -> None:
    owner = world.register(Role.EXPERT)
    profile = world.expert_create(actor=owner.id, headline="Kubernetes", skills=["k8s"], hourly_rate=RATE)
    assert world.expert_search(query=SearchQuery(text="kubernetes")).total == 0
    world.expert_publish(actor=owner.id, expert_id=profile.id)
    page = world.expert_search(query=SearchQuery(text="kubernetes"))
    assert [p.id for p in page.profiles] == [profile.id]
    assert ExpertProfileChanged(expert_id=profile.id) in world.events.published


def test_update_reaches_the_index(world: World) -> None:
    profile = world.published_expert()
    world.expert_update(actor=profile.owner_id, expert_id=profile.id, headline="Rust mentor", skills=["rust"])
    assert world.expert_search(query=SearchQuery(text="rust")).total == 1
    assert world.expert_search(query=SearchQuery(text="django")).total == 0


def test_strangers_cannot_edit_and_cannot_see_drafts(world: World) -> None:
    published = world.published_expert()
    stranger = world.register(Role.EXPERT)
    with pytest.raises(PermissionDenied):
        world.expert_update(actor=stranger.id, expert_id=published.id, headline="Mine now")
    owner = world.register(Role.EXPERT)
    draft = world.expert_create(actor=owner.id, headline="Secret", hourly_rate=RATE)
    with pytest.raises(NotFound):
        world.expert_update(actor=stranger.id, expert_id=draft.id, headline="Mine now")
    with pytest.raises(NotFound):
        world.expert_get(actor=stranger.id, expert_id=draft.id)
    with pytest.raises(NotFound):
        world.expert_get(actor=None, expert_id=draft.id)
    assert world.expert_get(actor=owner.id, expert_id=draft.id).id == draft.id
    assert world.expert_get(actor=None, expert_id=published.id).id == published.id
    assert world.experts.get(published.id).headline == "Django consultant"


def test_only_staff_suspend_and_suspended_experts_leave_search(world: World) -> None:
    profile = world.published_expert()
    with pytest.raises(PermissionDenied):
        world.expert_suspend(actor=profile.owner_id, expert_id=profile.id)
    staff = world.staff()
    world.expert_suspend(actor=staff.id, expert_id=profile.id)
    assert world.expert_search(query=SearchQuery()).total == 0
    with pytest.raises(NotFound):
        world.expert_get(actor=None, expert_id=profile.id)
    assert world.expert_get(actor=staff.id, expert_id=profile.id).status is ExpertStatus.SUSPENDED
    with pytest.raises(InvalidTransition):
        world.expert_publish(actor=profile.owner_id, expert_id=profile.id)
    world.expert_reinstate(actor=staff.id, expert_id=profile.id)
    assert world.expert_search(query=SearchQuery()).total == 1


def test_a_failed_update_writes_nothing(world: World) -> None:
    profile = world.published_expert()
    before = len(world.events.published)
    with pytest.raises(InvalidInput):
        world.expert_update(actor=profile.owner_id, expert_id=profile.id, headline="New", languages=["xyz"])
    assert world.experts.get(profile.id).headline == "Django consultant"
    assert len(world.events.published) == before


def test_reindex_all_rebuilds_from_the_repository(world: World) -> None:
    for _ in range(3):
        world.published_expert()
    world.search.clear()
    assert world.expert_reindex_all() == 3
    assert world.expert_search(query=SearchQuery(text="django")).total == 3


def test_only_the_owner_publishes_a_draft_staff_neither(world: World) -> None:
    owner = world.register(Role.EXPERT)
    draft = world.expert_create(actor=owner.id, headline="Go", skills=["go"], hourly_rate=RATE)
    with pytest.raises(NotFound):
        world.expert_publish(actor=world.register(Role.EXPERT).id, expert_id=draft.id)
    with pytest.raises(PermissionDenied):  # staff see the draft: refused, not hidden
        world.expert_publish(actor=world.staff().id, expert_id=draft.id)
    assert world.experts.get(draft.id).status is ExpertStatus.DRAFT
    assert world.expert_publish(actor=owner.id, expert_id=draft.id).status is ExpertStatus.PUBLISHED
