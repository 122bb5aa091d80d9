"""The training job's last step: every viewer's kept nearest list in the run just made
live (training/viewer_lists.py), written with the read model the profile rebuild left."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence

import numpy as np

from killrvideo_reco.domain.behaviour import viewer_query
from killrvideo_reco.domain.feed_rules import source_depth
from killrvideo_reco.domain.models import BehaviourRun, CandidateSizes
from killrvideo_reco.domain.viewer_nearest import ViewerNearest
from killrvideo_reco.jobs.profiles import DEFAULT_SPLITS, token_splits
from killrvideo_reco.service.ports import ViewerRepository
from killrvideo_reco.training.viewer_lists import nearest_videos

log = logging.getLogger(__name__)
IN_FLIGHT = 32  # profile reads and list writes at once


async def keep_viewer_lists(viewers: ViewerRepository, run: BehaviourRun,
                            video_ids: Sequence[uuid.UUID], index: np.ndarray,
                            sizes: CandidateSizes, cap: int) -> int:
    """Lists written. A viewer whose read model moved on since is served by the ANN
    query (and keeps its answer) if their query moved past the threshold."""
    limit = asyncio.Semaphore(IN_FLIGHT)

    async def bounded(coroutine):
        async with limit:
            return await coroutine

    written, started = 0, time.monotonic()
    for start, end in token_splits(DEFAULT_SPLITS):
        users = await viewers.users_in_token_range(start, end)
        profiles = await asyncio.gather(*(bounded(viewers.profile(u)) for u in users))
        chosen = []
        for user, profile in zip(users, profiles):
            vector = profile.behaviour_in(run) if profile is not None else None
            query = viewer_query(vector, run) if vector is not None else None
            if query is not None and profile is not None and profile.version is not None:
                chosen.append((user, profile, query))
        if not chosen:
            continue
        depths = [source_depth(sizes.behaviour, p.item_count, cap) for _, p, _ in chosen]
        lists = await asyncio.to_thread(nearest_videos, video_ids, index,
                                        np.stack([q for _, _, q in chosen]), depths)
        now = time.time()
        await asyncio.gather(*(bounded(viewers.write_nearest(
            user, ViewerNearest.of(run.run_id, depth, now, query, ids), profile.version))
            for (user, profile, query), depth, ids in zip(chosen, depths, lists)))
        written += len(chosen)
    log.info("train %s: %d viewers' nearest lists kept in %.1fs", run.run_id, written,
             time.monotonic() - started)
    return written
