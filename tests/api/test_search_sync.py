"""SEARCH_SYNC=task through the API and the ORM's transactions, the in-memory index standing in for Elasticsearch.

Profile writes commit in the database; the search_sync task (run eagerly by the
project's Celery app, after the commit) writes the index; searches read it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from adapters.celery.search import CelerySearchSync
from adapters.memory.search import InMemorySearchIndex
from domain.errors import PortError
from domain.experts import ExpertProfile
from domain.ids import ExpertId
from project.celery import app
from project.container import container
from tests.api.conftest import API, Account


class DownIndex(InMemorySearchIndex):
    """An index whose cluster is unreachable for writes."""

    def upsert_many(self, documents: Any) -> int:
        raise PortError("The search index is unavailable.")


@pytest.fixture
def index() -> Iterator[InMemorySearchIndex]:
    """The index the container uses, its writes going through after-commit tasks run eagerly."""
    index = InMemorySearchIndex()
    app.conf.task_always_eager = True
    try:
        with container.search.override(index), container.search_writer.override(sync_of(index)):
            yield index
    finally:
        app.conf.task_always_eager = False


def sync_of(index: InMemorySearchIndex) -> CelerySearchSync:
    return CelerySearchSync(index, container.uow())


def found(anon: APIClient, text: str) -> list[str]:
    response = anon.get(f"{API}/experts/", {"q": text})
    assert response.status_code == 200, response.content
    return [expert["id"] for expert in response.json()["results"]]


def test_a_published_and_edited_profile_is_searchable_after_the_commit(
    index: InMemorySearchIndex, anon: APIClient, expert_account: Account, published: ExpertProfile
) -> None:
    assert found(anon, "django") == [str(published.id)]

    response = expert_account.api.patch(f"{API}/experts/{published.id}/", {"headline": "Rust consultant"})

    assert response.status_code == 200, response.content
    assert found(anon, "rust") == [str(published.id)]
    assert index.document_versions().keys() == {ExpertId(published.id)}


def test_an_index_outage_does_not_fail_the_users_write(
    index: InMemorySearchIndex, expert_account: Account, published: ExpertProfile
) -> None:
    with container.search.override(DownIndex()), container.search_writer.override(sync_of(DownIndex())):
        response = expert_account.api.patch(f"{API}/experts/{published.id}/", {"headline": "Rust consultant"})

    assert response.status_code == 200, response.content
    assert container.expert_get_mine(actor=expert_account.id).headline == "Rust consultant"


def test_the_reconcile_repairs_what_the_outage_left(
    index: InMemorySearchIndex, anon: APIClient, expert_account: Account, published: ExpertProfile
) -> None:
    down = DownIndex()
    with container.search_writer.override(sync_of(down)), container.search.override(down):
        expert_account.api.patch(f"{API}/experts/{published.id}/", {"headline": "Rust consultant"})
    assert found(anon, "rust") == []  # the index still holds the old document

    report = container.search_reconcile()

    assert (report.stale, report.repaired.upserted) == (1, 1)
    assert found(anon, "rust") == [str(published.id)]
