"""Viewer activity: playback events and hides, each updating the taste profile online.

Every change is one conditional batch on the viewer's partition (history row + profile
state, `IF taste_version = <read>`): concurrent events for one viewer cannot lose an
update, they retry. The feed's read model (user_preferences) is written after it.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TypeVar

from cachetools import TTLCache

from killrvideo_reco.domain import history as history_rules
from killrvideo_reco.domain.behaviour import video_behaviour
from killrvideo_reco.domain.explanations import recent_videos
from killrvideo_reco.domain.history import ViewTimeRules
from killrvideo_reco.domain.models import BehaviourRun, HistoryRow, TasteChange, TasteRecord, VideoFacts
from killrvideo_reco.domain.taste_profile import (
    Interaction,
    ProfileParams,
    TasteState,
    apply_change,
    build_state,
    empty_state,
)
from killrvideo_reco.retries import call, conditional_write, retry_transient
from killrvideo_reco.service.ports import NO_RUN, ActiveRun, VideoRepository, ViewerRepository

log = logging.getLogger(__name__)
T = TypeVar("T")


class UnknownVideo(LookupError):
    pass


class ContendedProfile(RuntimeError):
    """Too many concurrent writers for one viewer; the client may retry."""


@dataclass(frozen=True)
class ViewOutcome:
    duplicate: bool
    play_count: int
    seconds_watched: float


class ActivityService:
    def __init__(self, videos: VideoRepository, viewers: ViewerRepository,
                 params: ProfileParams, dimension: int, runs: ActiveRun | None = None,
                 facts_cache: TTLCache[uuid.UUID, VideoFacts] | None = None,
                 view_times: ViewTimeRules | None = None):
        self.videos, self.viewers, self.params, self.dimension = videos, viewers, params, dimension
        self.runs = runs or NO_RUN  # the live behaviour run, if any (cached)
        # Popular videos are viewed many times a second: their facts are read once per TTL.
        self.facts_cache = facts_cache
        self.view_times = view_times or ViewTimeRules()
        self._writers = ViewerLocks()

    async def record_view(self, user_id: uuid.UUID, video_id: uuid.UUID, event_id: str,
                          seconds: float, duration_s: float | None,
                          at: datetime | None = None) -> ViewOutcome:
        """InvalidViewTime for a time no real view can have; UnknownVideo; nothing is
        written in either case."""
        now = datetime.now(timezone.utc)
        at = at or now
        self.view_times.check(at, now)
        facts = await self._facts(video_id)
        run = await self.runs.get()
        args = _interaction_args(facts, run, self.view_times.not_after(now))
        async with self._writers.hold(user_id):
            return await self._record_view(user_id, video_id, event_id, seconds, duration_s,
                                           at, facts, run, args)

    async def _record_view(self, user_id, video_id, event_id, seconds, duration_s, at,
                           facts, run, args) -> ViewOutcome:
        async def attempt() -> ViewOutcome | None:
            taste, row = await self._read_for_update(user_id, video_id)
            if row is not None and event_id in row.event_ids:
                return ViewOutcome(True, row.play_count, row.seconds_watched)
            new_row = history_rules.after_view(row, video_id, at, seconds, duration_s,
                                               facts.duration_s)
            old = history_rules.watch_interaction(row, *args)
            new = history_rules.watch_interaction(new_row, *args)
            state = await self._current_state(user_id, taste, facts.embedding_model, run)
            if await self._commit(user_id, taste, state, old, new, facts, new_row, event_id,
                                  run, lambda: self.viewers.count_view(
                                      video_id, at.date(),
                                      history_rules.first_view_on_its_day(row, at))):
                return ViewOutcome(False, new_row.play_count, new_row.seconds_watched)
            return None
        return await _until_applied(user_id, attempt)

    async def set_hidden(self, user_id: uuid.UUID, video_id: uuid.UUID, hidden: bool) -> bool:
        """Hide or un-hide; returns False when it was already in that state."""
        facts = await self._facts(video_id)
        run = await self.runs.get()
        args = _interaction_args(facts, run, self.view_times.not_after(datetime.now(timezone.utc)))
        async with self._writers.hold(user_id):
            return await self._set_hidden(user_id, video_id, hidden, facts, run, args)

    async def _set_hidden(self, user_id, video_id, hidden, facts, run, args) -> bool:
        async def attempt() -> bool | None:
            taste, row = await self._read_for_update(user_id, video_id)
            if (row is not None and row.hidden_at is not None) == hidden:
                return False
            base = row or HistoryRow(video_id=video_id)
            new_row = replace(base, hidden_at=datetime.now(timezone.utc) if hidden else None)
            old = history_rules.hide_interaction(row, *args)
            new = history_rules.hide_interaction(new_row, *args)
            state = await self._current_state(user_id, taste, facts.embedding_model, run)
            if await self._commit(user_id, taste, state, old, new, facts, new_row, None, run):
                return True
            return None
        return await _until_applied(user_id, attempt)

    async def rebuild(self, user_id: uuid.UUID, model_id: str | None,
                      facts_cache: dict | None = None) -> bool:
        """Recompute one viewer's profile from full history (batch jobs, model changes).
        A busy node times out now and then: a batch job retries, not aborts."""
        async def attempt() -> bool | None:
            run = await self.runs.get()
            taste = await self.viewers.taste_state(user_id, for_update=True)
            state = await self._state_from_history(user_id, model_id, facts_cache, run)
            version = history_rules.next_version(taste.version, _now_us())
            if await self.viewers.commit(TasteChange(user_id, taste.version, version, state,
                                                     model_id)):
                await self._write_read_model(user_id, state, model_id, version, run)
                return state.preference_vector(self.params) is not None
            return None
        return await _until_applied(user_id, lambda: retry_transient(attempt))

    async def _read_for_update(self, user_id: uuid.UUID, video_id: uuid.UUID):
        """The state first, then the row, one after the other: any change committed
        between the two reads also changed taste_version, so the conditional write
        built on them fails and is retried instead of mixing two snapshots."""
        taste = await self.viewers.taste_state(user_id, for_update=True)
        row = await self.viewers.history_row(user_id, video_id, for_update=True)
        return taste, row

    async def _facts(self, video_id: uuid.UUID) -> VideoFacts:
        cache = self.facts_cache
        facts = cache.get(video_id) if cache is not None else None
        if facts is None:
            facts = await self.videos.facts(video_id)
            if facts is None or facts.content_features is None:
                raise UnknownVideo(f"no video {video_id}")
            if cache is not None:
                cache[video_id] = facts
        return facts

    async def _current_state(self, user_id: uuid.UUID, taste: TasteRecord,
                             model_id: str | None, run: BehaviourRun | None) -> TasteState:
        run_id = run.run_id if run else ""
        if taste.state is None:
            if taste.version is None:  # a new viewer
                return replace(empty_state(self.dimension, self.params), behaviour_run=run_id)
            # A state the store could not read: the history is the record, rebuild from it.
            return await self._state_from_history(user_id, model_id, None, run)
        state = taste.state
        if (state.dimension != self.dimension or not state.matches(self.params)
                or taste.model_id != model_id or state.behaviour_run != run_id):
            # Stored sums use another model, run or weights: start over from history.
            log.info("user %s: rebuilding taste state (model %s -> %s, run %r -> %r)",
                     user_id, taste.model_id, model_id, state.behaviour_run, run_id)
            return await self._state_from_history(user_id, model_id, None, run)
        return state

    async def _state_from_history(self, user_id: uuid.UUID, model_id: str | None,
                                  facts_cache: dict | None,
                                  run: BehaviourRun | None) -> TasteState:
        rows = await self.viewers.history(user_id, for_update=True)
        cache = facts_cache if facts_cache is not None else {}
        missing = [r.video_id for r in rows if r.video_id not in cache]
        if missing:
            found = await self.videos.facts_many(missing)
            for video_id in missing:
                cache[video_id] = found.get(video_id)
        interactions: list[Interaction] = []
        not_after = self.view_times.not_after(datetime.now(timezone.utc))
        for row in rows:
            facts = cache.get(row.video_id)
            if facts is None or facts.content_features is None or facts.embedding_model != model_id:
                continue  # deleted video, or not yet re-embedded with this model
            args = _interaction_args(facts, run, not_after)
            for interaction in (history_rules.watch_interaction(row, *args),
                                history_rules.hide_interaction(row, *args)):
                if interaction is not None:
                    interactions.append(interaction)
        return build_state(interactions, self.params, self.dimension,
                           run.run_id if run else "")

    async def _commit(self, user_id, taste: TasteRecord, state: TasteState, old, new,
                      facts: VideoFacts, new_row: HistoryRow, event_id: str | None,
                      run: BehaviourRun | None,
                      then: Callable[[], Awaitable[None]] | None = None) -> bool:
        """The conditional write; once it applied, the read model and `then()` (the view
        counters) are written concurrently. `then` runs only when the write applied."""
        try:
            new_state = apply_change(state, old, new, self.params)
            version = history_rules.next_version(taste.version, _now_us())
            applied = await self.viewers.commit(TasteChange(
                user_id, taste.version, version, new_state, facts.embedding_model, new_row,
                event_id))
        except ValueError:
            # The row was read after a concurrent commit the state does not hold yet:
            # that commit also moved taste_version, so re-reading is the right answer.
            applied = False
        if not applied:
            return False
        await asyncio.gather(
            self._write_read_model(user_id, new_state, facts.embedding_model, version, run),
            *([then()] if then is not None else []))
        return True

    async def _write_read_model(self, user_id: uuid.UUID, state: TasteState,
                                model_id: str | None, version: int,
                                run: BehaviourRun | None) -> None:
        behaviour = (run.slot, run.run_id, state.behaviour_vector()) if run else None
        await self.viewers.write_profile(
            user_id, state.preference_vector(self.params), model_id, state.positive_count(),
            recent_videos(state), version, behaviour, state.interests)


class ViewerLocks:
    """One asyncio lock per viewer with events in flight in this process: a burst of
    events for one viewer queues here instead of racing through Paxos and retrying.
    Other replicas still race; the conditional write keeps that correct."""

    def __init__(self):
        self._locks: dict[uuid.UUID, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, user_id: uuid.UUID):
        lock, users = self._locks.get(user_id) or (asyncio.Lock(), 0)
        self._locks[user_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[user_id]
            if users == 1:
                del self._locks[user_id]
            else:
                self._locks[user_id] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


def _interaction_args(facts: VideoFacts, run: BehaviourRun | None, not_after: float) -> tuple:
    return (facts.content_features, facts.uploader_id, facts.title,
            video_behaviour(facts.behaviour, run), not_after)


def _now_us() -> int:
    return time.time_ns() // 1000


async def _until_applied(user_id: uuid.UUID, attempt: Callable[[], Awaitable[T | None]]) -> T:
    """Run `attempt` under the conditional-write policy until its commit applies."""
    outcome = await call(conditional_write(), attempt)
    if outcome is None:
        raise ContendedProfile(f"profile of user {user_id} is too contended; retry")
    return outcome
