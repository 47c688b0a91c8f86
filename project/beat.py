"""Beat's scheduler with a Redis broker: RedBeat that rides out a Redis outage of any length.

RedBeat as shipped lets a Redis error out of ``tick()``, and celery beat exits on it:
under honcho that stops every process, and on a PaaS the periodic tasks stop until
someone restarts beat. Here a tick that cannot reach Redis logs, waits
``REDIS_RETRY_SECONDS`` and tries again, for ever. When Redis answers again the
scheduler installs the schedule again (a Redis restarted without persistence has
lost it) and takes the lock back, unless another beat took it meanwhile: then this
one stands by, as a second beat does (docs/celery.md, "Beat").
"""

from __future__ import annotations

import logging
from typing import Any

from redbeat.schedulers import LUA_EXTEND_TO_SCRIPT, RedBeatScheduler, get_redis
from redis.exceptions import LockError, LockNotOwnedError, RedisError

logger = logging.getLogger(__name__)

# Between two attempts while Redis is unreachable: short, so the schedule resumes
# soon after it is back; each attempt is bounded by the client's socket timeouts.
REDIS_RETRY_SECONDS = 5.0


class ResilientRedBeatScheduler(RedBeatScheduler):  # type: ignore[misc]  # redbeat has no type hints
    """RedBeat whose tick survives Redis going away, and whose close never hangs on it."""

    _schedule_installed = False

    def setup_schedule(self) -> None:
        # Called once at start-up, when Redis may be down: then the first tick that reaches it installs it.
        try:
            self._install_schedule()
        except RedisError as error:
            logger.warning("beat: Redis unreachable at start-up (%r); the schedule waits for it", error)

    def tick(self, min: Any = min, **kwargs: Any) -> float:  # celery's signature (shadows min)
        try:
            if not self._schedule_installed:
                self._install_schedule()
            if self.lock_key and not self._hold_lock():
                return float(self.max_interval)  # another beat schedules: stand by
            return float(self._send_due(min))
        except (RedisError, LockError) as error:
            logger.warning("beat: Redis unreachable (%r); retrying in %.0fs", error, REDIS_RETRY_SECONDS)
            self._schedule_installed = False  # a Redis restarted empty has forgotten it
            return REDIS_RETRY_SECONDS

    def close(self) -> None:
        lock, self.lock = self.lock, None
        if lock is not None:
            try:
                if lock.owned():
                    logger.info("beat: Releasing lock")
                    lock.release()
            except (RedisError, LockError) as error:
                # The lock expires by itself (CELERY_BEAT_LOCK_TIMEOUT_SECONDS); a waiting beat takes over then.
                logger.warning("beat: could not release the lock (%r); it expires by itself", error)
        super().close()

    def _install_schedule(self) -> None:
        super().setup_schedule()
        self._schedule_installed = True

    def _hold_lock(self) -> bool:
        """Extend the lock this beat holds, or take it if it is free; False when another beat holds it."""
        if self.lock is not None:
            try:
                self.lock.extend(int(self.lock_timeout))
                return True
            except LockNotOwnedError:
                logger.warning("beat: lost the lock (it expired, or Redis restarted); taking it again")
                self.lock = None
        lock = self._new_lock()
        if not lock.acquire(blocking=False):
            return False
        logger.info("beat: Acquired lock")
        self.lock = lock
        return True

    def _new_lock(self) -> Any:
        # As redbeat's beat_init receiver builds it: extending sets the timeout rather than adding to it.
        client = get_redis(self.app)
        lock = client.lock(self.lock_key, timeout=self.lock_timeout, sleep=self.max_interval)
        lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)
        return lock

    def _send_due(self, min: Any) -> float:
        """RedBeat's tick without its lock handling: send what is due, return how long to sleep."""
        remaining_times = []
        try:
            for entry in self.schedule.values():
                next_time_to_run = self.maybe_due(entry, **self._maybe_due_kwargs)
                if next_time_to_run:
                    remaining_times.append(next_time_to_run)
        except RuntimeError:
            logger.debug("beat: RuntimeError", exc_info=True)
        return float(min([*remaining_times, self.max_interval]))
