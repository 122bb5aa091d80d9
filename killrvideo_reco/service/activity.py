"""Viewer activity: playback events and hides, each updating the taste profile online.

Every commit is one conditional batch on the viewer's partition (history rows and a
journal entry of the changes, or, every `journal_commits`-th commit, a snapshot: the
state's head and the channel cells it changed; `IF taste_version = <read>`): concurrent
commits for one viewer cannot lose an update, they retry. Changes for one viewer that
arrive together are committed together (group_commit.py). A commit reads the head, the
journal (bounded by `journal_commits`) and one channel cell per change or journal entry,
and writes about 100 bytes of journal and the changed history rows: O(dimension),
whatever the history's length. The feed's read model (user_preferences) is written after.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import partial
from itertools import groupby
from typing import TypeVar

from cachetools import TTLCache

from killrvideo_reco.domain import history as history_rules
from killrvideo_reco.domain.history import ViewTimeRules
from killrvideo_reco.domain.models import (
    BehaviourRun,
    HistoryRow,
    HistoryWrite,
    TasteChange,
    VideoFacts,
)
from killrvideo_reco.domain.profile_refs import references_of
from killrvideo_reco.domain.taste_journal import (
    JournalChange,
    change_of,
)
from killrvideo_reco.domain.taste_profile import (
    Interaction,
    ProfileParams,
    TasteState,
    apply_changes,
    channel_of,
)
from killrvideo_reco.domain.view_counts import ViewCount
from killrvideo_reco.metrics import TASTE_COMMITS, TASTE_KEPT_STATES
from killrvideo_reco.retries import retry_transient, until_applied
from killrvideo_reco.service.group_commit import GroupCommits
from killrvideo_reco.service.ports import NO_RUN, ActiveRun, VideoRepository, ViewerRepository
from killrvideo_reco.service.taste_reader import TasteReader, interaction_args
from killrvideo_reco.service.view_facts import UnknownVideo, ViewFacts
from killrvideo_reco.service.write_batches import WriteBatches

__all__ = ["ActivityService", "ContendedProfile", "UnknownVideo", "ViewOutcome"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class ContendedProfile(RuntimeError):
    """Too many concurrent writers for one viewer; the client may retry."""


@dataclass(frozen=True)
class ViewOutcome:
    duplicate: bool
    play_count: int
    seconds_watched: float
    duration_s: float | None = None  # the video's length: the client's, else the catalogue's


@dataclass(frozen=True)
class Change:
    """One view (event_id set) or hide/un-hide (hidden set) waiting for its commit."""
    video_id: uuid.UUID
    facts: VideoFacts
    not_after: float  # ViewTimeRules.not_after when it arrived
    at: datetime
    event_id: str | None = None
    seconds: float = 0.0
    duration_s: float | None = None
    hidden: bool | None = None


Outcome = ViewOutcome | bool


class ActivityService:
    def __init__(self, videos: VideoRepository, viewers: ViewerRepository,
                 params: ProfileParams, dimension: int, runs: ActiveRun | None = None,
                 facts_cache: TTLCache[uuid.UUID, VideoFacts] | None = None,
                 view_times: ViewTimeRules | None = None,
                 reference_cache: TTLCache | None = None, journal_commits: int = 16,
                 kept_states: int = 0):
        self.videos, self.viewers, self.params, self.dimension = videos, viewers, params, dimension
        self.journal_commits = journal_commits
        self.runs = runs or NO_RUN  # the live behaviour run, if any (cached)
        self.facts = ViewFacts(videos, facts_cache, reference_cache)
        self.view_times = view_times or ViewTimeRules()
        self.reader = TasteReader(videos, viewers, self.facts, params, dimension,
                                  self.view_times, kept_states)
        self._commits: GroupCommits[Change, Outcome] = GroupCommits(self._commit_group)
        # A view's counts touch up to two partitions (total and day): at most 10 a batch.
        # (Read models are not shared so: two already pass Cassandra's 5 KiB batch warning.)
        self._count_writes: WriteBatches[ViewCount] = WriteBatches(
            "counts", lambda counts: self.viewers.count_views(counts), 5)

    async def record_view(self, user_id: uuid.UUID, video_id: uuid.UUID, event_id: str,
                          seconds: float, duration_s: float | None,
                          at: datetime | None = None) -> ViewOutcome:
        """InvalidViewTime for a time no real view can have; UnknownVideo; nothing is
        written in either case."""
        now = datetime.now(timezone.utc)
        at = at or now
        self.view_times.check(at, now)
        facts = await self.facts.one(video_id)
        change = Change(video_id, facts, self.view_times.not_after(now), at,
                        event_id=event_id, seconds=seconds, duration_s=duration_s)
        outcome = await self._commits.submit(user_id, change)
        assert isinstance(outcome, ViewOutcome)
        return outcome

    async def set_hidden(self, user_id: uuid.UUID, video_id: uuid.UUID, hidden: bool) -> bool:
        """Hide or un-hide; returns False when it was already in that state."""
        now = datetime.now(timezone.utc)
        facts = await self.facts.one(video_id)
        change = Change(video_id, facts, self.view_times.not_after(now), now, hidden=hidden)
        return bool(await self._commits.submit(user_id, change))

    async def _commit_group(self, user_id: uuid.UUID,
                            changes: Sequence[Change]) -> list[Outcome]:
        """Changes of one embedding model share a state; a group that mixes models (a
        re-embedding in progress) commits in runs of one model each."""
        outcomes: list[Outcome] = []
        for _, part in groupby(changes, key=lambda c: c.facts.embedding_model):
            outcomes += await _until_applied(
                user_id, partial(self._try_commit, user_id, list(part)))
        return outcomes

    async def _try_commit(self, user_id: uuid.UUID,
                          changes: Sequence[Change]) -> list[Outcome] | None:
        run = await self.runs.get()
        model_id = changes[0].facts.embedding_model
        keys = [channel_of(c.video_id, c.facts.uploader_id) for c in changes]
        video_ids = list(dict.fromkeys(c.video_id for c in changes))
        kept = self.reader.kept(user_id, model_id, run)
        expected: int | None
        entries: int | None  # journal entries since the snapshot; None: none to build on
        if kept is not None:  # this replica committed the last state it knows of
            found, cells = await self.viewers.rows_for_change(user_id, video_ids, keys,
                                                              self.dimension)
            # The read cells are the snapshot's; the kept ones are newer where both exist.
            state = kept.state.with_channels({**cells, **kept.state.channels})
            expected, rebuilt, entries = kept.version, False, kept.journal_length
        else:
            taste, found = await self.viewers.read_for_change(user_id, video_ids, keys)
            state, rebuilt = await self.reader.current(user_id, taste, model_id, run,
                                                       recluster=False)
            expected = taste.version
            entries = None if rebuilt or taste.state is None else len(taste.journal)
        rows: dict[uuid.UUID, HistoryRow | None] = {v: found.get(v) for v in video_ids}
        outcomes: list[Outcome] = []
        added: dict[uuid.UUID, set[str]] = {}  # per changed video, the event ids it adds
        written: dict[uuid.UUID, HistoryRow] = {}
        counts: list[ViewCount] = []
        journal: list[JournalChange] = []
        steps: list[tuple[Interaction | None, Interaction | None]] = []
        try:
            for c in changes:
                row = rows[c.video_id]
                # The run read for this commit: interactions and state agree on it.
                args = interaction_args(c.facts, run, c.not_after)
                if c.event_id is not None:
                    if row is not None and c.event_id in row.event_ids:
                        outcomes.append(ViewOutcome(True, row.play_count, row.seconds_watched))
                        continue
                    new_row = history_rules.after_view(row, c.video_id, c.at, c.seconds,
                                                       c.duration_s, c.facts.duration_s)
                    new_row = replace(new_row, event_ids=new_row.event_ids | {c.event_id})
                    old = history_rules.watch_interaction(row, *args)
                    new = history_rules.watch_interaction(new_row, *args)
                    counts.append(ViewCount(c.video_id, c.at.date(),
                                            history_rules.first_view_on_its_day(row, c.at)))
                    added.setdefault(c.video_id, set()).add(c.event_id)
                    outcomes.append(ViewOutcome(False, new_row.play_count,
                                                new_row.seconds_watched,
                                                c.duration_s or c.facts.duration_s))
                else:
                    if (row is not None and row.hidden_at is not None) == c.hidden:
                        outcomes.append(False)
                        continue
                    new_row = replace(row or HistoryRow(video_id=c.video_id),
                                      hidden_at=c.at if c.hidden else None)
                    old = history_rules.hide_interaction(row, *args)
                    new = history_rules.hide_interaction(new_row, *args)
                    added.setdefault(c.video_id, set())
                    outcomes.append(True)
                steps.append((old, new))
                journal += [step for step in (change_of(old, new),) if step is not None]
                rows[c.video_id] = written[c.video_id] = new_row
            # A state read from the store may have its interests left to this change.
            state = apply_changes(state, steps, self.params, None if kept else True)
        except ValueError:
            # A row read after a concurrent commit the state does not hold yet: that
            # commit also moved taste_version, so re-reading is the right answer.
            self.reader.forget(user_id)
            return None
        if not added:  # only duplicates and no-ops: nothing to write
            return outcomes
        version = history_rules.next_version(expected, _now_us())
        writes = tuple(HistoryWrite(written[v], frozenset(ids)) for v, ids in added.items())
        snapshot = entries is None or entries + 1 >= self.journal_commits
        applied = await self.viewers.commit(TasteChange(
            user_id, expected, version, state, model_id, writes, rebuilt,
            None if snapshot else tuple(journal)))
        TASTE_KEPT_STATES.labels("absent" if kept is None else "used" if applied
                                 else "stale").inc()
        if not applied:
            self.reader.forget(user_id)  # another writer: start from the store
            return None
        TASTE_COMMITS.labels("rebuild" if rebuilt else "snapshot" if snapshot
                             else "journal").inc()
        self.reader.remember(user_id, version, model_id, state,
                             0 if entries is None or snapshot else entries + 1)
        await asyncio.gather(
            self._write_read_model(user_id, state, model_id, version, run),
            *(self._count_writes.submit(count) for count in counts))
        return outcomes

    async def rebuild(self, user_id: uuid.UUID, model_id: str | None,
                      facts_cache: dict | None = None) -> bool:
        """Recompute one viewer's profile from full history (batch jobs, model changes).
        A busy node times out now and then: a batch job retries, not aborts."""
        async def attempt() -> bool | None:
            run = await self.runs.get()
            taste = await self.viewers.taste_state(user_id, for_update=True)
            state = await self.reader.from_history(user_id, model_id, facts_cache, run)
            version = history_rules.next_version(taste.version, _now_us())
            if await self.viewers.commit(TasteChange(user_id, taste.version, version, state,
                                                     model_id, replace_channels=True)):
                self.reader.remember(user_id, version, model_id, state, 0)
                TASTE_COMMITS.labels("rebuild").inc()
                await self._write_read_model(user_id, state, model_id, version, run)
                return state.preference_vector(self.params) is not None
            return None
        return await _until_applied(user_id, lambda: retry_transient(attempt))

    async def taste(self, user_id: uuid.UUID) -> TasteState | None:
        """The viewer's current taste state as a commit would start from (None: none yet)."""
        run = await self.runs.get()
        taste, _ = await self.viewers.read_for_change(user_id, [], [])
        if taste.version is None:
            return None
        return (await self.reader.current(user_id, taste, taste.model_id, run))[0]

    async def _write_read_model(self, user_id: uuid.UUID, state: TasteState,
                                model_id: str | None, version: int,
                                run: BehaviourRun | None) -> None:
        behaviour = (run.slot, run.run_id, state.behaviour_vector()) if run else None
        await self.viewers.write_profile(
            user_id, state.preference_vector(self.params), model_id, state.positive_count(),
            references_of(state), version, behaviour)


def _now_us() -> int:
    return time.time_ns() // 1000


async def _until_applied(user_id: uuid.UUID, attempt: Callable[[], Awaitable[T | None]]) -> T:
    """Run `attempt` under the conditional-write policy until its commit applies."""
    outcome = await until_applied(attempt)
    if outcome is None:
        raise ContendedProfile(f"profile of user {user_id} is too contended; retry")
    return outcome
