"""Where the capabilities meet: the one place that says who reacts to what.

A lower capability never imports a higher one (docs/architecture.md); it
publishes an event or asks a request on the bus (`domain.core.bus`), and
this module wires the handlers. Reading this file tells every cross-capability
effect of the system:

| message (publisher) | handled by |
|---|---|
| `JudgeRide` (rides, before the ride is written) | anti-cheat verdict and the rider's standing |
| `RewardRide` (rides, after the ride is written) | ride points, streak bonus, badges |
| `RideDeleted` (rides) | the ride's points and explorer areas are taken back |
| `HazardConfirmed` (hazards) | the confirmer's points; the reporters' when "still there" |
| `HazardTakenUp` (hazards, triage) | the reporters' points |
| `HazardsChanged` (hazards) | a push to the city's NGSI-LD broker after the commit, when one is set |

Every handler runs in the publisher's transaction (exactly-once awards),
except the broker push, which waits for the commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.core.bus import Bus, Handler, after_commit
from domain.hazards.events import HazardConfirmed, HazardsChanged, HazardTakenUp
from domain.opendata.broker import BrokerPusher
from domain.rides.events import JudgeRide, RewardRide, RideDeleted
from gamification.anticheat.service import Judgement, judge_ride
from gamification.points import service as points


async def _judge(session: AsyncSession, asked: JudgeRide) -> Judgement:
    return await judge_ride(session, asked.user_id, asked.ride_id, asked.processed, now=asked.now)


async def _reward(session: AsyncSession, asked: RewardRide) -> points.RideAward:
    if not isinstance(asked.judged, Judgement):
        raise TypeError("RewardRide carries the Judgement that JudgeRide answered")
    return await points.award_ride(session, asked.ride, asked.processed, asked.judged, now=asked.now)


async def _take_back(session: AsyncSession, event: RideDeleted) -> None:
    await points.forget_ride(session, event.user_id, event.ride_id)


async def _confirmed(session: AsyncSession, event: HazardConfirmed) -> None:
    await points.award_confirmation(session, event.user_id, event.confirmation_id, now=event.now)
    if event.still_there:
        await points.award_report_confirmed(
            session, event.hazard_id, confirmer_id=event.user_id, now=event.now
        )


async def _taken_up(session: AsyncSession, event: HazardTakenUp) -> None:
    await points.award_report_acknowledged(session, event.hazard_id, now=event.now)


def _push_to(pusher: BrokerPusher) -> Handler:
    async def push(session: AsyncSession, event: HazardsChanged) -> None:
        after_commit(session, lambda: pusher.schedule(event.at))

    return push


def build_bus(*, pusher: BrokerPusher | None = None) -> Bus:
    """The bus every session carries; ``pusher`` when the city runs an NGSI-LD broker."""
    handlers: dict[type, list[Any]] = {
        JudgeRide: [_judge],
        RewardRide: [_reward],
        RideDeleted: [_take_back],
        HazardConfirmed: [_confirmed],
        HazardTakenUp: [_taken_up],
    }
    if pusher is not None:
        handlers[HazardsChanged] = [_push_to(pusher)]
    return Bus(handlers)
