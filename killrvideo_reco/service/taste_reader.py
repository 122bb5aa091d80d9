"""A viewer's current taste state, as a commit starts from: the stored snapshot with its
references resolved and the journal of commits since replayed (domain/taste_journal.py),
or, when the store holds none it can use (an older layout, another model, run or weights,
a journal that cannot be replayed), a rebuild from the viewer's history.

The states this replica committed are kept (VIEW_STATE_CACHE_SIZE viewers) with the
version they were committed as: a viewer's next event on this replica starts from it,
skipping the head's read, resolving it and replaying the journal, and its conditional
write expects that version. Another replica's commit moves the version: that write is
refused, the kept state dropped, and the commit retried from the store, so a kept state
never outlives the version it belongs to."""
from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from typing import NamedTuple

from cachetools import LRUCache

from killrvideo_reco.domain import history as history_rules
from killrvideo_reco.domain.behaviour import video_behaviour
from killrvideo_reco.domain.history import ViewTimeRules
from killrvideo_reco.domain.models import BehaviourRun, TasteRecord, VideoFacts
from killrvideo_reco.domain.taste_journal import UnreplayableJournal, journal_videos, replay
from killrvideo_reco.domain.taste_profile import (
    Interaction,
    ProfileParams,
    TasteState,
    build_state,
    empty_state,
)
from killrvideo_reco.service.ports import VideoRepository, ViewerRepository
from killrvideo_reco.service.view_facts import ViewFacts

log = logging.getLogger(__name__)


class Committed(NamedTuple):
    version: int
    model_id: str | None
    state: TasteState  # its channels: those changed since the snapshot, current
    journal_length: int  # entries since the snapshot


class TasteReader:
    def __init__(self, videos: VideoRepository, viewers: ViewerRepository, facts: ViewFacts,
                 params: ProfileParams, dimension: int, view_times: ViewTimeRules,
                 kept: int = 0):
        self.videos, self.viewers, self.facts = videos, viewers, facts
        self.params, self.dimension, self.view_times = params, dimension, view_times
        self._committed: LRUCache[uuid.UUID, Committed] | None = (
            LRUCache(kept) if kept > 0 else None)

    def remember(self, user_id: uuid.UUID, version: int, model_id: str | None,
                 state: TasteState, journal_length: int) -> None:
        """A state this replica just committed; after a snapshot (journal_length 0) its
        cells are stored, so it keeps none."""
        if self._committed is not None:
            self._committed[user_id] = Committed(
                version, model_id, state if journal_length else state.with_channels({}),
                journal_length)

    def forget(self, user_id: uuid.UUID) -> None:
        if self._committed is not None:
            self._committed.pop(user_id, None)

    def kept(self, user_id: uuid.UUID, model_id: str | None,
             run: BehaviourRun | None) -> Committed | None:
        """The state this replica last committed for the viewer, if a change under this
        model, run and weights may start from it."""
        kept = self._committed.get(user_id) if self._committed is not None else None
        if kept is None or not self._fits(kept.state, kept.model_id, model_id, run):
            return None
        return kept

    def _fits(self, state: TasteState, state_model: str | None, model_id: str | None,
              run: BehaviourRun | None) -> bool:
        """Whether a change under this model and run may start from `state`: its sums use
        the same model, run, weights and dimension."""
        return (state.dimension == self.dimension and state.matches(self.params)
                and state_model == model_id
                and state.behaviour_run == (run.run_id if run else ""))

    async def current(self, user_id: uuid.UUID, taste: TasteRecord, model_id: str | None,
                      run: BehaviourRun | None, recluster: bool = True
                      ) -> tuple[TasteState, bool]:
        """The state to change, and whether it was rebuilt (then it holds every channel,
        and the stored cells are replaced). recluster=False: a replayed journal leaves the
        interests to the change that follows (one clustering, not two)."""
        run_id = run.run_id if run else ""
        if taste.state is None:
            if taste.version is None:  # a new viewer
                return replace(empty_state(self.dimension, self.params),
                               behaviour_run=run_id), False
            # A state of an older layout, or one the store could not read: the history
            # is the record, rebuild from it.
            return await self.from_history(user_id, model_id, None, run), True
        head = taste.state.base
        if not self._fits(head, taste.model_id, model_id, run):
            # Stored sums use another model, run or weights: start over from history.
            log.info("user %s: rebuilding taste state (model %s -> %s, run %r -> %r)",
                     user_id, taste.model_id, model_id, head.behaviour_run, run_id)
            return await self.from_history(user_id, model_id, None, run), True
        journal = journal_videos(taste.journal)
        # The journal's videos and the head's references in one read of the misses; the
        # references then resolve from the facts cache.
        facts = (await self.facts.many(list(dict.fromkeys([*taste.state.references(),
                                                           *journal])))
                 if journal else {})
        # The recent likes and medoids are stored by reference: their vectors come from
        # the facts cache (nearly always) or one read of the misses.
        state = await self.facts.resolve(taste.state, model_id, self.params)
        if not journal:
            return state, False

        def inputs(video_id: uuid.UUID):
            f = facts.get(video_id)
            if f is None or f.embedding_model != model_id or f.content_features is None:
                return None
            return f.content_features, f.title, video_behaviour(f.behaviour, run)
        try:
            return replay(state, taste.journal, inputs, self.params, recluster), False
        except UnreplayableJournal as error:
            log.info("user %s: rebuilding taste state (journal: %s)", user_id, error)
            return await self.from_history(user_id, model_id, None, run), True

    async def from_history(self, user_id: uuid.UUID, model_id: str | None,
                           facts_cache: dict | None, run: BehaviourRun | None) -> TasteState:
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
            args = interaction_args(facts, run, not_after)
            for interaction in (history_rules.watch_interaction(row, *args),
                                history_rules.hide_interaction(row, *args)):
                if interaction is not None:
                    interactions.append(interaction)
        return build_state(interactions, self.params, self.dimension,
                           run.run_id if run else "")


def interaction_args(facts: VideoFacts, run: BehaviourRun | None, not_after: float) -> tuple:
    return (facts.content_features, facts.uploader_id, facts.title,
            video_behaviour(facts.behaviour, run), not_after)
