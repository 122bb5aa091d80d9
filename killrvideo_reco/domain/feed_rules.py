"""The feed's rules with no I/O: which profile is usable, how deep to read each source,
when to widen one, how to page (the learned scorer is domain/ranking.py). The service layer feeds
these with what the stores return."""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from killrvideo_reco.domain.models import StoredProfile


@dataclass(frozen=True)
class ProfileVerdict:
    vector: np.ndarray | None
    reason: str  # why it is (not) usable, for logs


def usable_profile(prefs: StoredProfile | None, catalogue_model: str | None,
                   dimension: int) -> ProfileVerdict:
    """A stored preference vector is used only if it exists, is non-zero and finite,
    has the index's dimension and was built with the catalogue's current model."""
    if prefs is None or prefs.preference_vector is None:
        return ProfileVerdict(None, "no profile")
    vector = np.asarray(prefs.preference_vector, dtype=np.float32)
    if vector.shape != (dimension,):
        return ProfileVerdict(None, f"dimension {vector.shape[0] if vector.ndim else 0} "
                                    f"!= index dimension {dimension}")
    if not np.all(np.isfinite(vector)) or float(np.linalg.norm(vector)) < 1e-6:
        return ProfileVerdict(None, "zero or non-finite vector")
    if catalogue_model is not None and prefs.model_id != catalogue_model:
        return ProfileVerdict(None, f"built with model {prefs.model_id!r}, "
                                    f"catalogue uses {catalogue_model!r}")
    return ProfileVerdict(vector, "ok")


def source_depth(wanted: int, watched: int, cap: int | None = None) -> int:
    """Rows to read from one candidate source: what it should bring, plus an allowance for
    what the viewer has already seen among them, at most as much again. A heavy watcher
    then costs what a moderate one does; a source left short is widened (source_short)."""
    depth = wanted + min(max(watched, 0), wanted)
    return depth if cap is None else min(cap, depth)


def source_short(found: int, fresh: int, limit: int, wanted: int, cap: int) -> bool:
    """Widen a source whose full answer holds fewer than a quarter of the fresh rows it
    should bring: the other sources fill the rest, so only a viewer who has seen nearly
    all of a source's top rows pays for a deeper query."""
    return found >= limit and fresh * 4 < wanted and limit < cap


def page_bounds(page: int, page_size: int) -> tuple[int, int]:
    start = (page - 1) * page_size
    return start, start + page_size


def trending_order(view_counts: Iterable[tuple[uuid.UUID, int]]) -> list[tuple[uuid.UUID, int]]:
    """Sum per-day counts per video; most viewed first, id as tie-break."""
    totals: dict[uuid.UUID, int] = {}
    for video_id, views in view_counts:
        totals[video_id] = totals.get(video_id, 0) + int(views)
    return sorted(totals.items(), key=lambda item: (-item[1], item[0].bytes))


def merge_unique(*id_lists: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    seen: set[uuid.UUID] = set()
    merged = []
    for ids in id_lists:
        for video_id in ids:
            if video_id not in seen:
                seen.add(video_id)
                merged.append(video_id)
    return merged
