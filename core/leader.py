"""One active worker per stage: a MySQL named lock, held for the life of the active instance.

Why one: a stage applies whole source transactions in commit order
(core.transactions), and a transaction's changes spread over every partition
of the source topics, so the worker that applies it must read all of them. Two
workers in one consumer group would split the partitions and each would wait
forever for the transactions it never sees whole. A second instance is
therefore a hot standby: it waits for the lock BEFORE it subscribes to Kafka
(it never joins the group) and takes over when the active one is gone.

How: `GET_LOCK('cdc:<stage>:<database>', …)` on a connection of its own. MySQL
frees a named lock the moment the session holding it ends (the worker exits,
is SIGKILLed, its host dies and the connection drops), and a standby blocked
in GET_LOCK gets it at once; it then starts like a restarted worker, from the
stage's positions in Kafka or MySQL.

The active instance's lock connection may break (MySQL restarted, the
connection killed). A watchdog thread checks it every second; on a broken
connection it reconnects and takes the lock again under the same name. If
another session holds it by then, a standby has taken over: `lost` is set and
the worker stops with LeadershipLost (exit 1), so that its supervisor restarts
it, as a standby. Stopping is simpler than turning back into a standby inside
the process, and as correct: everything an active worker holds (its consumer
group membership, its transaction assembly, its positions) is rebuilt at start
from what is committed, exactly as after a crash. While MySQL cannot be
reached the worker cannot commit anything either; the watchdog keeps trying.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pymysql

from core.errors import LeadershipLost, MySqlUnavailable
from core.mysql import Backoff, close_quietly, connect
from core.settings import MySqlSettings

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # one GET_LOCK wait of a standby: how soon it notices a stop
CHECK_SECONDS = 1.0  # the active instance's watchdog: how soon it notices a lost lock connection
STANDBY_NOTICE_SECONDS = 60.0  # a standby says it waits once, then this often
LOCK_IO_TIMEOUT = 10.0  # seconds; longer than a GET_LOCK poll
MAX_LOCK_NAME = 64  # characters MySQL accepts in a lock name

Clock = Callable[[], float]


def lock_name(stage: str, database: str) -> str:
    """`cdc:<stage>:<database>`; a name MySQL would refuse as too long ends in a digest of the database instead."""
    name = f"cdc:{stage}:{database}"
    if len(name) <= MAX_LOCK_NAME:
        return name
    digest = hashlib.sha1(database.encode()).hexdigest()[:16]
    return f"{name[:MAX_LOCK_NAME - len(digest) - 1]}~{digest}"


class Notice:
    """Whether a repeated message is due: the first time, then every `every` seconds."""

    def __init__(self, every: float = STANDBY_NOTICE_SECONDS, clock: Clock = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self.last: float | None = None

    def due(self) -> bool:
        now = self.clock()
        if self.last is not None and now - self.last < self.every:
            return False
        self.last = now
        return True


class Leadership:
    """The stage's lock for one worker: acquire() (blocks as a standby), check() in the worker's loop, release()."""

    def __init__(self, mysql: MySqlSettings, stage: str, worker: str, *, poll: float = POLL_SECONDS,
                 check_every: float = CHECK_SECONDS) -> None:
        """`stage`: the lock's stage (core.watermark's REPLICA_STAGE, MARTS_STAGE); `worker`: its name in messages."""
        self.mysql = mysql
        self.name = lock_name(stage, mysql.url.database)
        self.worker = worker
        self.poll = poll
        self.check_every = check_every
        self.lost = threading.Event()
        self._conn: Any = None
        self._closing = threading.Event()
        self._watchdog: threading.Thread | None = None

    # --- taking the lock -------------------------------------------------------------

    def acquire(self, stop: threading.Event, waiting: Callable[[], None] = lambda: None) -> bool:
        """Until this instance holds the lock (True) or `stop` is set (False); `waiting()` runs after each poll
        that found the lock held by another instance (for the standby's heartbeat)."""
        notice, backoff = Notice(), Backoff(first=1.0)
        while not stop.is_set():
            try:
                if self._take(self.poll):
                    log.info("active: took the lock %s; this %s worker runs", self.name, self.worker)
                    self._start_watchdog()
                    return True
                backoff.reset()
                if notice.due():
                    log.info("standby: another %s worker is active (it holds the lock %s); waiting",
                             self.worker, self.name)
            except MySqlUnavailable as exc:
                delay = backoff.failed()
                # No standby beat: whether another worker is active is unknown (`cdc health` sees no new beat).
                log.warning("cannot ask MySQL for the lock %s (%s); retrying in %.0f s", self.name, exc, delay)
                stop.wait(delay)
                continue
            waiting()
        return False

    def _take(self, timeout: float) -> bool:
        """GET_LOCK on the lock connection (opened if needed); MySqlUnavailable when MySQL fails."""
        try:
            if self._conn is None:
                self._conn = connect(self.mysql, database=False, io_timeout=LOCK_IO_TIMEOUT + timeout)
            with self._conn.cursor() as cur:
                cur.execute("SELECT GET_LOCK(%s, %s)", (self.name, timeout))
                (got,) = cur.fetchone()
            return bool(got == 1)
        except (pymysql.MySQLError, OSError) as exc:
            self._drop()
            raise MySqlUnavailable(f"the lock {self.name}: {exc}") from exc

    # --- holding it --------------------------------------------------------------------

    def check(self) -> None:
        """In the worker's loop: LeadershipLost when another instance has taken over."""
        if self.lost.is_set():
            raise LeadershipLost(
                f"another {self.worker} worker holds the lock {self.name} since this one's lock connection broke "
                f"(or the server still keeps this one's old session): stopping so that it restarts as a standby")

    def _start_watchdog(self) -> None:
        self._closing.clear()
        self._watchdog = threading.Thread(target=self._watch, name=f"{self.worker}-lock", daemon=True)
        self._watchdog.start()

    def _watch(self) -> None:
        while not self._closing.wait(self.check_every):
            if not self._still_held():
                return

    def _still_held(self) -> bool:
        """False (and `lost` set) once another session holds the lock; True while this one does or cannot tell."""
        try:
            with self._conn.cursor() as cur:
                cur.execute("SELECT IS_USED_LOCK(%s) = CONNECTION_ID()", (self.name,))
                (held,) = cur.fetchone()
            if held == 1:
                return True
        except (pymysql.MySQLError, OSError, AttributeError) as exc:  # AttributeError: no connection left
            log.warning("the lock %s: its MySQL connection broke (%s); taking the lock again", self.name, exc)
            self._drop()
        return self._retake()

    def _retake(self) -> bool:
        try:
            if self._take(0):
                log.warning("active: took the lock %s again on a new connection", self.name)
                return True
        except MySqlUnavailable as exc:
            log.warning("cannot take the lock %s again yet (%s); retrying", self.name, exc)
            return True  # nothing commits while MySQL is unreachable; the next check tries again
        log.error("another %s worker took the lock %s while this one's lock connection was broken; stopping",
                  self.worker, self.name)
        self.lost.set()
        return False

    # --- letting go -----------------------------------------------------------------

    def release(self) -> None:
        """Stop watching and close the lock connection (which frees the lock)."""
        self._closing.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=LOCK_IO_TIMEOUT + self.check_every)
            self._watchdog = None
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            close_quietly(self._conn)
            self._conn = None
