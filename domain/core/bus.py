"""The one seam between capabilities: a capability says what happened, the others react, in its transaction.

Capabilities are layered (docs/architecture.md): a lower one never imports a
higher one. When a use case's effect reaches up (a ride earns points, a
confirmed hazard pays its reporters, a changed hazard goes to the city's
broker), the lower capability hands a message to the bus, and the handlers
that react are wired in one place, :mod:`domain.bootstrap`.

Two kinds of message, as in Cosmic Python's message bus:

- an **event** (:meth:`Bus.publish`): something that happened; every handler
  subscribed to its type runs, in subscription order, none may answer;
- a **request** (:meth:`Bus.ask`): a question with exactly one handler, whose
  answer the use case needs (what a ride earned, to put it in the upload's
  answer).

Handlers run awaited, inside the publisher's session and transaction, so
their writes commit or roll back with their cause (an award exists exactly
when its ride does). Work that must wait for the commit, such as a push to
an external system, is registered with :func:`after_commit` and runs only if
the transaction commits.

The bus travels with the session (``session.info``): sessions are made by
one factory (``api.database.make_sessionmaker``), which puts the bus that
:mod:`domain.bootstrap` built there, so use cases keep their signatures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, Generic, TypeVar, cast

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

BUS_KEY: Final = "saferoutes.bus"
_AFTER_COMMIT: Final = "saferoutes.after_commit"

Answer = TypeVar("Answer")
Handler = Callable[[AsyncSession, Any], Awaitable[Any]]


class Request(Generic[Answer]):
    """Base of a message with exactly one handler, answering ``Answer``."""


class NoHandler(LookupError):
    """A request without its one handler: the bootstrap forgot to wire a capability."""


class Bus:
    """Which handlers react to which message types; immutable once built."""

    def __init__(self, handlers: Mapping[type, Sequence[Handler]] | None = None) -> None:
        self._handlers: dict[type, tuple[Handler, ...]] = {k: tuple(v) for k, v in (handlers or {}).items()}
        for kind, wired in self._handlers.items():
            if issubclass(kind, Request) and len(wired) != 1:
                raise ValueError(f"{kind.__name__} is a request: it takes one handler, not {len(wired)}")

    def handlers(self, kind: type) -> tuple[Handler, ...]:
        return self._handlers.get(kind, ())

    async def publish(self, session: AsyncSession, event: object) -> None:
        """Run every handler of ``event``'s type, in order, in ``session``'s transaction."""
        if isinstance(event, Request):
            raise TypeError(f"{type(event).__name__} is a request: ask it")
        for handler in self.handlers(type(event)):
            await handler(session, event)

    async def ask(self, session: AsyncSession, request: Request[Answer]) -> Answer:
        """Run the one handler of ``request``'s type in ``session``'s transaction; its answer."""
        wired = self.handlers(type(request))
        if not wired:
            raise NoHandler(f"no handler for {type(request).__name__}: see domain.bootstrap")
        return cast(Answer, await wired[0](session, request))


def bus_of(session: AsyncSession) -> Bus:
    """The bus the session was made with."""
    bus = session.info.get(BUS_KEY)
    if not isinstance(bus, Bus):
        raise NoHandler("this session was made without a bus: use api.database.make_sessionmaker")
    return bus


async def publish(session: AsyncSession, event: object) -> None:
    await bus_of(session).publish(session, event)


async def ask(session: AsyncSession, request: Request[Answer]) -> Answer:
    return await bus_of(session).ask(session, request)


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's current transaction commits; drop it on a rollback.

    The callback runs synchronously on the event loop's thread, right after the
    commit: it should only schedule work (e.g. ``loop.create_task``).
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


@sa_event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, ()):
        callback()


@sa_event.listens_for(Session, "after_rollback")
def _forget_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)
