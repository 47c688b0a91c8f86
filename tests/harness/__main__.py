"""Run a command on the production stack: `python -m tests.harness -- <command...>`.

Starts a throwaway PostgreSQL, redis-server and moto's S3 server on loopback
ports (tests/harness/servers.py), creates the database and the bucket, points
the command at them through the environment (DATABASE_URL, REDIS_URL, S3_*,
the production adapters), runs it, and always removes the servers: after
success, failure, Ctrl-C or SIGTERM. Exits with the command's exit code.

A server that cannot start fails the run with CI=true; elsewhere the run is
skipped with a message (exit 0), like the pytest fixtures do. Ctrl-C, SIGTERM
or SIGHUP stop the command, then the servers (exit 128 + the signal).

DATABASE_POOL is `none` unless exported (pytest runs threads, not greenlets);
export DATABASE_POOL=gevent to serve with gunicorn as in production.

Examples:
    python -m tests.harness -- pytest -n 2 tests/api tests/contract tests/integration
    DATABASE_POOL=gevent python -m tests.harness -- \
        sh -c 'python manage.py migrate && python manage.py seed_demo && make serve'
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from types import FrameType

from tests.harness.servers import MotoServer, PostgresServer, RedisServer, ServerUnavailable, servers_required

DATABASE = "experthub"
BUCKET = "experthub"
REGION = "us-east-1"
# The production adapters. An adapter can be swapped for one run by exporting
# its variable first (e.g. SEARCH_BACKEND=memory), but the stack run proves these.
PRODUCTION_ADAPTERS = {
    "SEARCH_BACKEND": "postgres",
    "BLOB_BACKEND": "s3",
    "VIEW_COUNTER_BACKEND": "redis",
}
EXIT_SKIPPED = 0
EXIT_SERVER_FAILED = 3


HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(Exception):
    """Ctrl-C, SIGTERM or SIGHUP reached the harness: stop the command, then the servers."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Signals:
    """Noted while servers or the command start or stop, raised only while the command runs.

    An exception in the middle of starting a process would leave it running
    with nobody to stop it; so a signal that arrives then is acted on as soon
    as that step is over.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self.armed = False

    def install(self) -> None:
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.received = self.received or signum
        if self.armed:
            raise Stopped(signum)

    @contextmanager
    def raised(self) -> Iterator[None]:
        if self.received:
            raise Stopped(self.received)
        self.armed = True
        try:
            yield
        finally:
            self.armed = False


def main(argv: list[str]) -> int:
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    signals = Signals()
    signals.install()
    try:
        with ExitStack() as stack:
            environment = _start_stack(stack)
            if signals.received:
                return 128 + signals.received
            return _run(command, {**os.environ, **environment}, signals)
    except ServerUnavailable as error:
        if signals.received:  # a terminal's Ctrl-C reaches the servers too
            return 128 + signals.received
        return _unavailable(error)


def _start_stack(stack: ExitStack) -> dict[str, str]:
    """Start every server, each removed on exit even if it only half started; the command's environment."""
    postgres, redis, moto = PostgresServer(), RedisServer(), MotoServer()
    _start(stack, "PostgreSQL", postgres.start, postgres.destroy)
    postgres.psql(f"CREATE DATABASE {DATABASE}")
    _start(stack, "redis-server", redis.start, redis.stop)
    _start(stack, "moto_server", moto.start, moto.stop)
    environment = stack_environment(postgres=postgres, redis=redis, moto=moto)
    _create_bucket(environment)
    _announce(environment)
    return environment


def _start(stack: ExitStack, name: str, start: Callable[[], object], stop: Callable[[], None]) -> None:
    stack.callback(_stop_server, name, stop)
    start()


def _stop_server(name: str, stop: Callable[[], None]) -> None:
    try:
        stop()
    except Exception as error:  # one server failing to stop must not leave the others running
        print(f"harness: stopping {name} failed: {error}", file=sys.stderr)


def stack_environment(*, postgres: PostgresServer, redis: RedisServer, moto: MotoServer) -> dict[str, str]:
    return {
        **{name: os.environ.get(name, default) for name, default in PRODUCTION_ADAPTERS.items()},
        "DATABASE_URL": postgres.url(DATABASE),
        "REDIS_URL": redis.url,
        "S3_ENDPOINT_URL": moto.endpoint_url,
        "S3_BUCKET": BUCKET,
        "S3_REGION": REGION,
        # moto accepts any credentials.
        "S3_ACCESS_KEY_ID": "testing",
        "S3_SECRET_ACCESS_KEY": "testing",
        "S3_ADDRESSING_STYLE": "path",
        # pytest runs OS threads, not greenlets: Django's own connections there. The
        # pool is proven where it runs, in gunicorn's gevent workers
        # (tests/integration/test_postgres_gunicorn.py). docs/postgresql.md.
        "DATABASE_POOL": os.environ.get("DATABASE_POOL", "none"),
        "TEST_STACK": "production",
    }


def _create_bucket(environment: Mapping[str, str]) -> None:
    import boto3

    boto3.client(
        "s3",
        endpoint_url=environment["S3_ENDPOINT_URL"],
        region_name=environment["S3_REGION"],
        aws_access_key_id=environment["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["S3_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=environment["S3_BUCKET"])


def _announce(environment: Mapping[str, str]) -> None:
    shown = ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL", *PRODUCTION_ADAPTERS)
    print("harness: " + " ".join(f"{name}={environment[name]}" for name in shown), file=sys.stderr, flush=True)


def _unavailable(error: ServerUnavailable) -> int:
    if servers_required():
        print(f"harness: CI needs this server: {error}", file=sys.stderr)
        return EXIT_SERVER_FAILED
    print(f"harness: SKIPPED the stack run, a server is unavailable here: {error}", file=sys.stderr)
    return EXIT_SKIPPED


def _run(command: list[str], environment: dict[str, str], signals: Signals) -> int:
    """The command's exit code (128 + the signal's number if a signal ended it)."""
    try:
        process = subprocess.Popen(command, env=environment)
    except OSError as error:
        print(f"harness: cannot run {command[0]}: {error}", file=sys.stderr)
        return 127
    try:
        with signals.raised():
            return _exit_code(process.wait())
    except Stopped as stopped:
        _stop_command(process, stopped.signum)
        return 128 + stopped.signum


def _stop_command(process: subprocess.Popen[bytes], signum: int) -> None:
    """Pass the signal on (a terminal's Ctrl-C has reached it already: harmless), then insist."""
    if process.poll() is None:
        process.send_signal(signum)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
