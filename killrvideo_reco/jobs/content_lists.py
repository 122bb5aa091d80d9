"""The training job's content lists: the content-space neighbour list of every video a
viewer's interest starts from (its medoid), computed exactly from the catalogue's
embeddings (training/neighbours.py) where the stored one would not be used: missing,
of another embedding model, or past FEED_NEIGHBOURS_MAX_AGE_H. Without this step the
feed computes such a list with a content ANN query on the viewer's next page 1
(service/neighbours.py), so the first page 1s after a retrain or an import would pay one
query per interest."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Collection, Sequence

import numpy as np

from killrvideo_reco.service.neighbours import CONTENT, usable_list
from killrvideo_reco.service.ports import NeighbourRepository
from killrvideo_reco.training.neighbours import content_neighbours

log = logging.getLogger(__name__)
READ_CHUNK = 100  # stored lists read per query


async def keep_content_lists(store: NeighbourRepository, medoids: Collection[uuid.UUID],
                             video_ids: Sequence[uuid.UUID], content: np.ndarray,
                             model_id: str, size: int, max_age_s: float) -> int:
    """Lists written."""
    started = time.monotonic()
    wanted = list(medoids)
    chunks = [wanted[i:i + READ_CHUNK] for i in range(0, len(wanted), READ_CHUNK)]
    stored: dict = {}
    for found in await asyncio.gather(*(store.neighbour_lists(c, CONTENT) for c in chunks)):
        stored.update(found)
    now = time.time()
    stale = [v for v in wanted if not usable_list(stored.get(v), model_id, now, max_age_s)]
    lists = await asyncio.to_thread(content_neighbours, video_ids, content, stale, size,
                                    model_id)
    if lists:
        await store.write_neighbour_lists(CONTENT, lists)
    log.info("content lists: %d of %d interest medoids computed in %.1fs", len(lists),
             len(wanted), time.monotonic() - started)
    return len(lists)
