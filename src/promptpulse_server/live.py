"""The live dashboard: an open overview or team page hears, over server-sent events, that
usage it shows has changed, and fetches itself again (``static/live.js``).

How a change travels, from the upload that commits it to the pages that show it:

- The upload leaves a mark in its own transaction (``queries.live.mark_changed``): on
  PostgreSQL a ``NOTIFY promptpulse_usage, '<user id>'``, on SQLite the user's row of
  ``usage_change`` moved past every other.
- In each server process, Litestar's channels plugin fans the user id out to the streams open
  there. On PostgreSQL its psycopg backend LISTENs (one connection per process, opened at
  start), so every process hears every upload at once. On SQLite a ``Watcher`` reads
  the marker rows past the last one it saw, once a second, only while a stream is open in the
  process, and publishes them to the plugin's memory backend.
- A stream (``GET /live/usage``, behind the dashboard's session cookie) follows the people its
  page shows, resolved as the page resolves them (``team``, ``user``), among those the viewer
  may see (``queries.visible_users``). An event names no one and carries no figures: it says
  only "changed", and the page fetches itself through its normal, authorized route. Whom the
  stream follows is worked out again before each event and every ``Settings.live_check_s``
  (``PROMPTPULSE_LIVE_CHECK_S``, 20 s, when a comment line also keeps proxies from closing an
  idle stream): a stream whose session ended (logout, a revoked key, a disabled account)
  closes, and someone who stopped sharing is no longer followed; a team the viewer left ends
  the stream.
- Changes that land together become one event (``COALESCE_S``).

Shutting down: uvicorn waits for open responses before it stops, and a stream never ends on
its own; so the process's SIGINT and SIGTERM handlers (uvicorn's) are wrapped to also tell
the streams to end (``Hub.closing``), and Ctrl-C or SIGTERM stops ``serve`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
from litestar import Request, Router, get
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from promptpulse import shapes
from promptpulse_server import auth, queries, web
from promptpulse_server.models import User
from promptpulse_server.settings import Settings

CHANNEL = queries.live.CHANNEL
WATCH_S = 1.0  # how often a SQLite process with an open stream looks at the marker
COALESCE_S = 0.3  # changes this close together make one event
RETRY_MS = 3000  # how long the browser waits before it reconnects
MAX_STREAMS = 500  # open streams per process; more get 503
log = logging.getLogger(__name__)


def plugin(settings: Settings) -> ChannelsPlugin:
    """The channels plugin: PostgreSQL's LISTEN/NOTIFY crosses processes by itself; on SQLite
    the memory backend, fed by each process's ``Watcher``."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "postgresql":
        from litestar.channels.backends.psycopg import PsycoPgChannelsBackend

        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        backend: Any = PsycoPgChannelsBackend(dsn)
    else:
        backend = MemoryChannelsBackend()
    # a stream that falls behind keeps its newest events: one "changed" is as good as many
    return ChannelsPlugin(
        backend,
        channels=[CHANNEL],
        subscriber_max_backlog=64,
        subscriber_backlog_strategy="dropleft",
    )


class Watcher:
    """SQLite only: while at least one stream is open in this process, read the change marker
    once a second and publish each changed user's id. Nothing runs while nobody watches."""

    def __init__(self, sessions: sessionmaker[Session], channels: ChannelsPlugin) -> None:
        self.sessions = sessions
        self.channels = channels
        self.watching = 0
        self.seen = 0
        self.task: asyncio.Task[None] | None = None

    def _read(self, latest: bool) -> list[tuple[int, int]]:
        with self.sessions() as db:
            if latest:
                return [(0, queries.live.latest(db))]
            return queries.live.changed_since(db, self.seen)

    async def start(self) -> None:
        self.watching += 1
        if self.task is None:
            # from the newest change on: a stream that opens now has fetched its page already
            self.seen = (await anyio.to_thread.run_sync(self._read, True))[0][1]
            self.task = asyncio.create_task(self._run())

    def stop(self) -> None:
        self.watching -= 1
        if self.watching <= 0 and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                found = await anyio.to_thread.run_sync(self._read, False)
            except Exception:  # a busy or vanished database: try again next time
                log.warning("live: reading the change marker failed", exc_info=True)
                continue
            for user_id, seq in found:
                self.seen = max(self.seen, seq)
                self.channels.publish(str(user_id).encode(), CHANNEL)


@dataclass
class Hub:
    """The process's live streams: how many are open, the SQLite watcher, and whether the
    server is closing."""

    channels: ChannelsPlugin
    watcher: Watcher | None
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    streams: int = 0

    def close(self) -> None:
        self.closing.set()


def on_startup(state: State) -> Callable[[], None]:
    """Make the hub (in the event loop) and wrap the process's SIGINT and SIGTERM handlers so
    that they also end the streams; returns what undoes that."""
    channels: ChannelsPlugin = state.channels
    sqlite = state.engine.dialect.name == "sqlite"
    hub = Hub(channels, Watcher(state.sessions, channels) if sqlite else None)
    state.live = hub
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # a test client's thread: no signals here
    loop = asyncio.get_running_loop()
    kept: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue  # not a server's handler (default or ignored): leave it

        def closing(signum: int, frame: Any, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(hub.close)
            previous(signum, frame)

        kept[sig] = previous
        signal.signal(sig, closing)

    def undo() -> None:
        for sig, previous in kept.items():
            with contextlib.suppress(ValueError):
                signal.signal(sig, previous)

    return undo


# --- the stream ----------------------------------------------------------------------------------


def followed(
    sessions: sessionmaker[Session], token: str, now: dt.datetime, team: str, user: str
) -> frozenset[int] | None:
    """The ids of the people the page shows whose usage the viewer may see, as the page picks
    them (a team's members, one user, or everyone visible); None when the session is over.
    A team or a user the viewer may not see is a ``NotFoundException``, as on the page."""
    with sessions() as db:
        viewer = queries.user_for_web_session(db, auth.key_hash(token), now) if token else None
        if viewer is None:
            return None
        members = None
        if team:
            found = queries.teams.team_by_slug(db, team)
            mine = found is not None and (
                viewer.is_admin or queries.teams.role_of(db, found, viewer) is not None
            )
            if found is None or not mine:
                raise NotFoundException(f"team: no team {team!r} of yours")
            members = queries.teams.member_ids(db, found)
        people: list[User] = queries.visible_users(db, viewer, members)
        if user == "all" or (team and not user):
            return frozenset(u.id for u in people)
        name = (user or viewer.username).lower()
        chosen = [u.id for u in people if u.username.lower() == name]
        if not chosen:
            raise NotFoundException(f"user: no one named {user!r} shares usage with you")
        return frozenset(chosen)


Team = Annotated[str, QueryParameter(max_length=60, pattern=shapes.NO_NUL)]
Person = Annotated[str, QueryParameter(max_length=50, pattern=shapes.NO_NUL)]


@get("/live/usage", include_in_schema=False)
async def live_usage(
    request: Request[Any, Any, Any], state: State, team: Team = "", user: Person = ""
) -> ServerSentEvent:
    """The events of the page that shows ``team`` and ``user`` (its own filters): ``usage``
    when what it shows has changed; comments to keep the line open."""
    hub: Hub = state.live
    token = request.cookies.get(web.COOKIE, "")

    def who() -> frozenset[int] | None:
        return followed(state.sessions, token, state.settings.clock(), team, user)

    people = await anyio.to_thread.run_sync(who)
    if people is None:  # as every page: to the login page (where an EventSource stops)
        query = f"?{request.url.query}" if request.url.query else ""
        raise web.LoginRequired(request.url.path + query)
    if hub.streams >= MAX_STREAMS:
        from litestar.exceptions import ServiceUnavailableException

        raise ServiceUnavailableException("too many live pages open on this server; reload later")

    def still() -> frozenset[int] | None:
        """Whom the open stream follows now; None ends it (the session is over, or the team
        or the person is no longer the viewer's to see)."""
        try:
            return who()
        except NotFoundException:
            return None

    return ServerSentEvent(
        _events(hub, people, still, state.settings.live_check_s),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(
    hub: Hub, people: frozenset[int], who: Callable[[], frozenset[int] | None], check_s: float
) -> AsyncIterator[ServerSentEventMessage]:
    changed: set[int] = set()
    woken = asyncio.Event()

    async def heard(data: bytes) -> None:
        with contextlib.suppress(ValueError):
            changed.add(int(data))
            woken.set()

    hub.streams += 1
    subscriber = await hub.channels.subscribe(CHANNEL)
    try:
        if hub.watcher is not None:
            await hub.watcher.start()
        # from here on nothing is missed: the browser may fetch its page now
        yield ServerSentEventMessage(event="ready", data="ready", retry=RETRY_MS)
        async with subscriber.run_in_background(heard, join=False):
            while not hub.closing.is_set():
                woke = await _first(woken, hub.closing, check_s)
                if hub.closing.is_set():
                    break
                if woke:
                    await asyncio.sleep(COALESCE_S)
                    now_changed = changed & people
                    changed.clear()
                    woken.clear()
                    if not now_changed:
                        continue
                found = await anyio.to_thread.run_sync(who)
                if found is None:
                    break  # reconnecting leads to the login page, or a 404
                people = found
                if woke and now_changed & people:
                    yield ServerSentEventMessage(event="usage", data="changed")
                elif not woke:
                    yield ServerSentEventMessage(data=None, comment="still here")
    finally:
        # the client may be gone and this task cancelled: the clean-up must still run
        with anyio.CancelScope(shield=True):
            hub.streams -= 1
            if hub.watcher is not None:
                hub.watcher.stop()
            await hub.channels.unsubscribe(subscriber)


async def _first(woken: asyncio.Event, closing: asyncio.Event, timeout: float) -> bool:
    """Wait for ``woken`` or ``closing``, at most ``timeout`` seconds: whether ``woken``."""
    waits = [asyncio.ensure_future(woken.wait()), asyncio.ensure_future(closing.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
    return woken.is_set()


router = Router(path="/", route_handlers=[live_usage])
