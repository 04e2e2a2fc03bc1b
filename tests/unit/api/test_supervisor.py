"""The supervisor brings a dead embedded PostgreSQL back, waiting longer after each failed try."""

from __future__ import annotations

import time

from api.embedded import EmbeddedError, Supervisor


class FlakyServer:
    """Down at first; the first `failures` restarts fail."""

    def __init__(self, failures: int) -> None:
        self.up = False
        self.failures = failures
        self.postmaster = None
        self.attempts = 0

    def running(self) -> bool:
        return self.up

    def restart(self) -> None:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise EmbeddedError("the socket is still locked")
        self.up = True


class Script(Supervisor):
    """Records each wait instead of sleeping; a clock that moves only when the test says so."""

    def __init__(self, server: FlakyServer, *, polls: int, **kwargs: float) -> None:
        self.now = 0.0
        super().__init__(server, clock=lambda: self.now, **kwargs)
        self.waits: list[float] = []
        self.polls_left = polls
        self.on_poll: list[object] = []

    def pause(self, seconds: float) -> bool:
        self.waits.append(seconds)
        if seconds == self.poll_s:
            self.polls_left -= 1
            if self.on_poll:
                action = self.on_poll.pop(0)
                if callable(action):
                    action()
        return self.polls_left < 0


def test_restarts_back_off_doubling_up_to_the_cap_and_are_counted() -> None:
    server = FlakyServer(failures=3)
    supervisor = Script(server, polls=1, poll_s=0.5, first_delay_s=1, max_delay_s=4, stable_s=60)
    supervisor.watch()
    assert supervisor.waits == [0.5, 1, 2, 4, 4, 0.5]
    assert server.attempts == 4
    assert supervisor.restarts == 1


def test_the_wait_starts_again_from_the_first_once_it_stayed_up() -> None:
    server = FlakyServer(failures=2)
    supervisor = Script(server, polls=4, poll_s=0.5, first_delay_s=1, max_delay_s=30, stable_s=60)

    def crash_after_a_stable_hour() -> None:
        supervisor.now += 3600
        server.up = False

    def crash_at_once() -> None:
        server.up = False

    supervisor.on_poll = [None, crash_after_a_stable_hour, crash_at_once]
    supervisor.watch()
    # the first outage: 1, 2 (failed), 4 (works); after an hour up: 1 again; at once after: 2
    assert supervisor.waits == [0.5, 1, 2, 4, 0.5, 1, 0.5, 2, 0.5, 0.5]
    assert supervisor.restarts == 3


def test_stopping_ends_a_wait_before_a_restart_at_once() -> None:
    server = FlakyServer(failures=0)
    supervisor = Supervisor(server, poll_s=0.01, first_delay_s=600)
    supervisor.start()
    while not supervisor._thread.is_alive():
        pass
    time.sleep(0.1)  # it has seen the server down and waits 600 s before restarting
    started = time.monotonic()
    supervisor.stop()
    assert time.monotonic() - started < 5
    assert not supervisor._thread.is_alive()
    assert server.attempts == 0
