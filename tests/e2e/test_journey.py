"""End to end: the whole product on loopback, driven only through nginx over HTTPS.

nginx runs the shipped site (deploy/nginx/experthub.conf, rendered with the test's
own certificate) in front of gunicorn's gevent workers on a unix socket, with
PostgreSQL, Redis (cache and broker), moto's S3, a prefork Celery worker and an
SMTP sink: every server the deployed product talks to (tests/e2e/stack.py).

An expert registers, creates and publishes a profile and uploads an avatar through
the presigned form; a client finds the expert by search and books a session; the
expert gets the email and accepts; the client gets the email; once the session is
over the client completes it and reviews it, and the profile shows the rating.
Then the operations endpoints, a hashed static file and `nginx -t` on the site.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from project.cache import redis_url_with_db
from project.version import __version__
from tests.contract.test_blob_store import http_call, post_form
from tests.e2e.stack import (
    Gunicorn,
    Site,
    logs_on_failure,
    manage,
    production_environment,
    site_options,
    start_nginx,
    web_environment,
    worker_environment,
)
from tests.harness.nginx import SITE_NAME, NginxServer, TlsCertificate
from tests.harness.servers import MotoServer, PostgresServer, RedisServer, wait_until
from tests.harness.smtp import SmtpSink
from tests.harness.worker import CeleryWorker
from tests.images import image_bytes

pytestmark = pytest.mark.integration

API = "/api/v1"
# A database of the session's redis-server no other test uses (tests/harness/fixtures.py
# takes 14 and 15, the Procfile test 13): the app's cache and its Celery broker.
E2E_REDIS_DB = 12
PASSWORD = "Correct-horse-battery-staple-9"
PNG = image_bytes("PNG", size=(16, 16))
REQUEST_ID = "e2e-journey-0001"
YEAR_IMMUTABLE = "public, max-age=31536000, immutable"
BOOT_SECONDS = 90
MAIL_SECONDS = 60


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    role: str


EXPERT = Person("erin.e2e@example.com", "Erin Expert", "expert")
CLIENT = Person("carl.e2e@example.com", "Carl Client", "client")


@dataclass
class Stack:
    site: Site
    environment: dict[str, str]
    logs: Path
    static_root: Path
    nginx: NginxServer
    smtp: SmtpSink
    worker: CeleryWorker

    @property
    def metrics_token(self) -> str:
        return self.environment["METRICS_TOKEN"]


@pytest.fixture
def stack(
    tmp_path: Path,
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    moto_server: MotoServer,
    smtp_sink: SmtpSink,
    tls_certificate: TlsCertificate,
    nginx_server: NginxServer,
) -> Iterator[Stack]:
    logs, var = tmp_path / "logs", tmp_path / "var"
    logs.mkdir()
    redis_url = redis_url_with_db(redis_server.url, E2E_REDIS_DB)
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()  # no message or cache entry of an earlier run
    environment = production_environment(
        postgres=postgres_server, redis_url=redis_url, moto=moto_server, email_url=smtp_sink.url, var=var
    )
    # A short directory: a unix socket path has at most 107 bytes, pytest's tmp_path can be long.
    sockets = Path(tempfile.mkdtemp(prefix="experthub-e2e-"))
    web = Gunicorn(
        web_environment(environment, socket_path=sockets / "web.sock", var=var),
        logs / "gunicorn.log",
        socket_path=sockets / "web.sock",
    )
    worker = CeleryWorker(worker_environment(environment, var=var), logs / "worker.log")
    try:
        with logs_on_failure(logs):
            release(environment, logs)
            web.start()
            worker.start()
            options = site_options(
                nginx_server, tls_certificate, f"unix:{web.socket_path}", static_root=var / "static", logs=logs
            )
            start_nginx(nginx_server, options)
            web.wait_booted(timeout=BOOT_SECONDS)
        site = Site(nginx_server, tls_certificate.client_context())
        yield Stack(site, environment, logs, var / "static", nginx_server, smtp_sink, worker)
    finally:
        worker.stop()
        web.stop()
        shutil.rmtree(sockets, ignore_errors=True)


def release(environment: dict[str, str], logs: Path) -> None:
    """What a release does before the services start: migrate, collect static files, set up the bucket.
    Independent of each other, so at once."""
    steps = [("migrate", "--noinput"), ("collectstatic", "--noinput"), ("blobstore_setup",)]
    with ThreadPoolExecutor(len(steps)) as pool:
        for done in [pool.submit(manage, environment, logs, *step) for step in steps]:
            done.result()


# --- the test ---------------------------------------------------------------------------------


def test_an_expert_is_found_booked_and_reviewed_through_nginx(stack: Stack) -> None:
    with logs_on_failure(stack.logs):
        https_only(stack.site)
        expert_token, expert_id = expert_publishes_with_avatar(stack.site)
        client_token = account(stack.site, CLIENT)
        booking_id = client_finds_and_books(stack.site, client_token, expert_id)
        wait_for_mail(stack, EXPERT, f"New booking request from {CLIENT.name}")
        booking = stack.site.json("POST", f"{API}/bookings/{booking_id}/accept/", 200, token=expert_token)
        assert booking["status"] == "accepted"
        wait_for_mail(stack, CLIENT, f"{EXPERT.name} accepted your booking")
        session_is_over(stack.environment["DATABASE_URL"], booking_id)
        client_completes_and_reviews(stack.site, client_token, booking_id, expert_id)
        wait_for_mail(stack, EXPERT, f"New 5-star review from {CLIENT.name}")

        operations_endpoints_answer(stack)
        hashed_static_file_is_cached_for_a_year(stack)
        checked = stack.nginx.check()
        assert checked.returncode == 0, checked.stderr
        assert "test is successful" in checked.stderr


# --- the journey's steps --------------------------------------------------------------------


def https_only(site: Site) -> None:
    """Plain HTTP is redirected; HTTPS answers with HSTS, the request id and the version."""
    redirected = site.plain(f"{API}/experts/?q=tax")
    assert redirected.status == 301
    assert redirected.headers["Location"] == f"https://{SITE_NAME}:{site.nginx.https_port}{API}/experts/?q=tax"

    reply = site.call("GET", f"{API}/experts/", headers={"X-Request-ID": REQUEST_ID})

    assert reply.status == 200, reply.body
    # One HSTS header, nginx's (the site hides the app's copy): a year at least, subdomains too.
    hsts_headers = reply.headers.get_all("Strict-Transport-Security") or []
    assert len(hsts_headers) == 1, reply.headers.items()
    hsts = hsts_headers[0]
    max_age = re.search(r"max-age=(\d+)", hsts)
    assert max_age is not None, hsts
    assert int(max_age[1]) >= 31536000, hsts
    assert "includeSubDomains" in hsts, hsts
    # The client's id, once: nginx passes it to the app and sends it back.
    assert reply.headers.get_all("X-Request-ID") == [REQUEST_ID], reply.headers.items()
    assert reply.headers["X-App-Version"] == __version__


def account(site: Site, person: Person) -> str:
    """Register, then log in: the access token."""
    body = {"email": person.email, "password": PASSWORD, "name": person.name, "role": person.role}
    site.json("POST", f"{API}/auth/register/", 201, body=body)
    tokens = site.json("POST", f"{API}/auth/token/", 200, body={"email": person.email, "password": PASSWORD})
    return str(tokens["access"])


def expert_publishes_with_avatar(site: Site) -> tuple[str, str]:
    token = account(site, EXPERT)
    profile = {
        "headline": "Kubernetes and cloud cost consultant",
        "bio": "I make clusters cheaper.",
        "skills": ["Kubernetes", "Cloud Cost"],
        "languages": ["en"],
        "timezone": "Europe/Berlin",
        "hourly_rate": {"amount": 15000, "currency": "EUR"},
    }
    created = site.json("POST", f"{API}/experts/", 201, token=token, body=profile)
    expert_id = created["id"]
    assert created["status"] == "draft"
    published = site.json("POST", f"{API}/experts/{expert_id}/publish/", 200, token=token)
    assert published["status"] == "published"
    avatar_uploaded(site, token, expert_id)
    return token, expert_id


def avatar_uploaded(site: Site, token: str, expert_id: str) -> None:
    """The browser's part: POST the presigned form straight to S3 (moto), then confirm through the API."""
    body = {"content_type": "image/png", "size": len(PNG)}
    ticket = site.json("POST", f"{API}/experts/{expert_id}/avatar/upload/", 200, token=token, body=body)
    status, _, answer = post_form(ticket["url"], {**ticket["fields"], "Content-Type": "image/png"}, PNG)
    assert status == 204, answer

    confirmed = site.json(
        "POST", f"{API}/experts/{expert_id}/avatar/confirm/", 200, token=token, body={"upload_id": ticket["upload_id"]}
    )

    status, headers, served = http_call(urllib.request.Request(confirmed["avatar_url"]))
    assert (status, headers["Content-Type"], served) == (200, "image/png", PNG)


def client_finds_and_books(site: Site, token: str, expert_id: str) -> str:
    found = site.json("GET", f"{API}/experts/?q=kubernetes", 200, token=token)
    assert [result["id"] for result in found["results"]] == [expert_id], found
    assert found["results"][0]["avatar_url"] is not None
    by_skill = site.json("GET", f"{API}/experts/?skills=cloud-cost", 200)
    assert [result["id"] for result in by_skill["results"]] == [expert_id], by_skill

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    body = {"expert_id": expert_id, "starts_at": tomorrow.isoformat(), "duration_minutes": 60, "topic": "Cut our bill"}
    booking = site.json("POST", f"{API}/bookings/", 201, token=token, body=body)
    assert (booking["status"], booking["price"]["amount"], booking["price"]["currency"]) == ("requested", 15000, "EUR")
    return str(booking["id"])


def wait_for_mail(stack: Stack, person: Person, subject: str) -> None:
    """Until the Celery worker has delivered this mail to the SMTP sink."""

    def delivered() -> bool:
        return any(message.subject == subject for message in stack.smtp.to(person.email))

    wait_until(lambda: delivered() or not stack.worker.running(), timeout=MAIL_SECONDS, what=f"the mail {subject!r}")
    assert stack.worker.running(), "the Celery worker exited"


def session_is_over(database_url: str, booking_id: str) -> None:
    """Time passes: a session ends before it can be completed, and the API offers no way to
    book in the past, so the booking's start moves two hours back directly in PostgreSQL
    (ends_at is stored too, for the overlap constraint)."""
    with contextlib.closing(psycopg2.connect(database_url)) as connection, connection, connection.cursor() as cursor:
        cursor.execute(
            "UPDATE experthub_booking SET starts_at = now() - interval '2 hours', "
            "ends_at = now() - interval '2 hours' + make_interval(mins => duration_minutes) WHERE id = %s",
            [booking_id],
        )
        assert cursor.rowcount == 1


def client_completes_and_reviews(site: Site, token: str, booking_id: str, expert_id: str) -> None:
    completed = site.json("POST", f"{API}/bookings/{booking_id}/complete/", 200, token=token)
    assert completed["status"] == "completed"

    review = site.json(
        "POST", f"{API}/bookings/{booking_id}/review/", 201, token=token, body={"rating": 5, "comment": "Great."}
    )

    assert review["rating"] == 5
    profile = site.json("GET", f"{API}/experts/{expert_id}/", 200)
    assert (profile["rating_average"], profile["rating_count"]) == (5.0, 1)


# --- operations ------------------------------------------------------------------------------


def operations_endpoints_answer(stack: Stack) -> None:
    # The checks go to an operator (the /metrics token); anyone else learns the status alone.
    assert stack.site.json("GET", "/readyz", 200) == {"status": "ok"}
    ready = stack.site.json("GET", "/readyz", 200, token=stack.metrics_token)
    assert ready["status"] == "ok", ready
    for check in ("database", "cache", "broker", "search", "blobs"):
        assert ready["checks"][check]["ok"] is True, ready

    version = stack.site.call("GET", f"{API}/version/")
    assert version.status == 200
    assert json.loads(version.body)["version"] == __version__ == version.headers["X-App-Version"]

    # nginx lets loopback through to /metrics, but with METRICS_TOKEN set the app wants the token.
    assert stack.site.call("GET", "/metrics").status == 403
    counts = scrape(stack)
    assert counts.get(("http_requests_total", route(f"{API}/experts/", "POST", "201")), 0) == 1
    assert counts.get(("http_requests_total", route(f"{API}/experts/", "GET", "200")), 0) >= 3
    assert counts.get(("http_requests_total", route(f"{API}/bookings/<uuid:booking_id>/review/", "POST", "201"))) == 1
    # The worker's task outcomes: METRICS_EXTRA_DIRS adds its prometheus files in. A task's
    # mail is out before its success is counted, so the last one may lag the sink a little.
    wait_until(lambda: notify_successes(scrape(stack)) >= 3, timeout=20, what="three notify successes in /metrics")


def route(path: str, method: str, status: str) -> frozenset[tuple[str, str]]:
    return frozenset({"route": path, "method": method, "status": status}.items())


def scrape(stack: Stack) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    reply = stack.site.call("GET", "/metrics", headers={"Authorization": f"Bearer {stack.metrics_token}"})
    assert reply.status == 200, reply.body
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.body.decode())
        for sample in family.samples
    }


def notify_successes(counts: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> float:
    labels = frozenset({"task": "api.tasks.notify", "outcome": "success"}.items())
    return counts.get(("celery_tasks_total", labels), 0)


def hashed_static_file_is_cached_for_a_year(stack: Stack) -> None:
    manifest = json.loads((stack.static_root / "staticfiles.json").read_text())["paths"]
    hashed = manifest["admin/css/base.css"]
    assert re.search(r"\.[0-9a-f]{12}\.css$", hashed), hashed

    reply = stack.site.call("GET", f"/static/{hashed}")

    assert reply.status == 200
    assert reply.headers["Cache-Control"] == YEAR_IMMUTABLE
    assert reply.headers["Content-Type"] == "text/css"
    assert reply.body == (stack.static_root / hashed).read_bytes()
