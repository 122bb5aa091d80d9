"""The training job's last steps read every viewer's read model as the profile rebuild
left it: their kept nearest list in the run just made live (training/viewer_lists.py) is
written with it, and their interests' medoids are gathered for the content lists
(jobs/content_lists.py)."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

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


def kept_depth(wanted: int, watched: int, cap: int) -> int:
    """How deep training keeps a viewer's list: the behaviour source's first depth, and
    for a viewer whose allowance for seen videos is spent (at least `wanted` watched) as
    deep as the source's first widening, which the list then answers instead of an ANN
    query: on MovieLens, half the viewers with 300+ watched saw through 200 rows."""
    depth = source_depth(wanted, watched, cap)
    return min(cap, 2 * depth) if watched >= wanted else depth


@dataclass
class ViewerScan:
    kept: int = 0  # viewers' nearest lists written
    medoids: set[uuid.UUID] = field(default_factory=set)  # their interests' medoids


async def keep_viewer_lists(viewers: ViewerRepository, run: BehaviourRun,
                            video_ids: Sequence[uuid.UUID], index: np.ndarray,
                            sizes: CandidateSizes, cap: int,
                            keep_nearest: bool = True) -> ViewerScan:
    """A viewer whose read model moved on since is served by the ANN query (and keeps
    its answer) if their query moved past the threshold. `keep_nearest` False: the
    medoids alone (FEED_VIEWER_NEAREST off)."""
    scan = ViewerScan()
    limit = asyncio.Semaphore(IN_FLIGHT)

    async def bounded(coroutine):
        async with limit:
            return await coroutine

    started = time.monotonic()
    for start, end in token_splits(DEFAULT_SPLITS):
        users = await viewers.users_in_token_range(start, end)
        profiles = await asyncio.gather(*(bounded(viewers.profile(u)) for u in users))
        chosen = []
        for user, profile in zip(users, profiles):
            if profile is not None:
                # (An older release's row holds its interests resolved.)
                scan.medoids.update(i.medoid_id for i in profile.references.interests)
                scan.medoids.update(i.medoid_id for i in profile.interests)
            if not keep_nearest:
                continue
            vector = profile.behaviour_in(run) if profile is not None else None
            query = viewer_query(vector, run) if vector is not None else None
            if query is not None and profile is not None and profile.version is not None:
                chosen.append((user, profile, query))
        if not chosen:
            continue
        depths = [kept_depth(sizes.behaviour, p.item_count, cap) for _, p, _ in chosen]
        lists = await asyncio.to_thread(nearest_videos, video_ids, index,
                                        np.stack([q for _, _, q in chosen]), depths)
        now = time.time()
        await asyncio.gather(*(bounded(viewers.write_nearest(
            user, ViewerNearest.of(run.run_id, depth, now, query, ids), profile.version))
            for (user, profile, query), depth, ids in zip(chosen, depths, lists)))
        scan.kept += len(chosen)
    log.info("train %s: %d viewers' nearest lists kept, %d interest medoids, in %.1fs",
             run.run_id, scan.kept, len(scan.medoids), time.monotonic() - started)
    return scan
