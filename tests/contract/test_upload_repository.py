"""The UploadRepository contract, run against every adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.memory.repositories import InMemoryUploadRepository
from adapters.memory.store import MemoryDatabase
from adapters.orm.uploads import DjangoUploadRepository
from domain.blobs import Upload
from domain.errors import NotFound
from domain.ids import UploadId, UserId, new_id
from domain.ports import UploadRepository
from tests.contract.test_report_runs import _race

NOW = datetime(2030, 1, 1, 9, 0, 0, 123456, tzinfo=UTC)


def make_upload(**overrides: Any) -> Upload:
    upload_id = UploadId(new_id())
    values: dict[str, Any] = {
        "id": upload_id,
        "owner_id": UserId(new_id()),
        "staging_key": f"staging/avatars/e1/{upload_id.hex}.png",
        "final_key": f"avatars/e1/{upload_id.hex}.png",
        "content_type": "image/png",
        "size": 5 * 1024 * 1024,
        "created_at": NOW,
        "expires_at": NOW + timedelta(minutes=15),
    }
    return Upload(**{**values, **overrides})


class UploadRepositoryContract:
    """Subclasses provide the ``uploads`` fixture."""

    def test_add_then_get_round_trips_every_field(self, uploads: UploadRepository) -> None:
        upload = make_upload()
        uploads.add(upload)

        assert uploads.get(upload.id) == upload

    def test_get_unknown_raises_not_found(self, uploads: UploadRepository) -> None:
        with pytest.raises(NotFound):
            uploads.get(UploadId(new_id()))

    def test_mark_used_succeeds_once(self, uploads: UploadRepository) -> None:
        upload = make_upload()
        uploads.add(upload)

        assert uploads.mark_used(upload.id, at=NOW + timedelta(minutes=1)) is True
        assert uploads.mark_used(upload.id, at=NOW + timedelta(minutes=2)) is False

        assert uploads.get(upload.id).used_at == NOW + timedelta(minutes=1)

    def test_mark_used_touches_only_its_upload(self, uploads: UploadRepository) -> None:
        first, second = make_upload(), make_upload()
        uploads.add(first)
        uploads.add(second)

        uploads.mark_used(first.id, at=NOW)

        assert uploads.get(second.id).used_at is None
        assert uploads.mark_used(second.id, at=NOW) is True

    def test_mark_used_of_an_unknown_upload_raises_not_found(self, uploads: UploadRepository) -> None:
        with pytest.raises(NotFound):
            uploads.mark_used(UploadId(new_id()), at=NOW)

    def test_prune_forgets_uploads_whose_form_expired_before_the_cutoff(self, uploads: UploadRepository) -> None:
        old, recent = make_upload(expires_at=NOW - timedelta(days=2)), make_upload(expires_at=NOW)
        uploads.add(old)
        uploads.add(recent)

        assert uploads.prune(before=NOW - timedelta(days=1)) == 1

        with pytest.raises(NotFound):
            uploads.get(old.id)
        assert uploads.get(recent.id) == recent
        assert uploads.prune(before=NOW - timedelta(days=1)) == 0


class TestInMemoryUploadRepository(UploadRepositoryContract):
    @pytest.fixture
    def uploads(self) -> UploadRepository:
        return InMemoryUploadRepository(MemoryDatabase())


@pytest.mark.django_db
class TestDjangoUploadRepository(UploadRepositoryContract):
    @pytest.fixture
    def uploads(self) -> UploadRepository:
        return DjangoUploadRepository()


@pytest.mark.django_db(transaction=True)
def test_racing_confirmations_of_one_upload_let_exactly_one_through() -> None:
    """Two confirm requests at once (a double click, a replayed request): the conditional UPDATE picks one."""
    uploads = DjangoUploadRepository()
    upload = make_upload()
    uploads.add(upload)

    assert _race(lambda: uploads.mark_used(upload.id, at=NOW)) == [False, False, False, True]


def test_racing_confirmations_in_memory_let_exactly_one_through() -> None:
    uploads = InMemoryUploadRepository(MemoryDatabase())
    upload = make_upload()
    uploads.add(upload)

    assert _race(lambda: uploads.mark_used(upload.id, at=NOW)) == [False, False, False, True]
