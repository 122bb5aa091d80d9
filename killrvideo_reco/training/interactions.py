"""Viewing history as arrays: one entry per (viewer, video) positive watch, weighted as
the online taste profile weighs it (completion, capped, decayed to the viewer's latest
interaction), so trained viewer vectors equal what the view path computes."""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from killrvideo_reco.domain.history import hide_interaction, watch_interaction
from killrvideo_reco.domain.models import HistoryRow
from killrvideo_reco.domain.taste_profile import ProfileParams, interaction_weight

_NO_VECTOR = np.zeros(1)


@dataclass
class History:
    """Accumulates history rows into compact arrays (no Python object per row kept)."""
    users: dict[uuid.UUID, int] = field(default_factory=dict)
    items: dict[uuid.UUID, int] = field(default_factory=dict)
    _u: list[np.ndarray] = field(default_factory=list)
    _i: list[np.ndarray] = field(default_factory=list)
    _w: list[np.ndarray] = field(default_factory=list)
    _t: list[np.ndarray] = field(default_factory=list)
    _latest: dict[int, float] = field(default_factory=dict)

    def add_rows(self, rows: Iterable[tuple[uuid.UUID, HistoryRow]], params: ProfileParams) -> None:
        u, i, w, t = [], [], [], []
        for user_id, row in rows:
            user = self.users.setdefault(user_id, len(self.users))
            for weight, at in weighed(row, params):
                # Every interaction moves the viewer's reference time, as in build_state.
                self._latest[user] = max(self._latest.get(user, -np.inf), at)
                if weight > 0:
                    u.append(user)
                    i.append(self.items.setdefault(row.video_id, len(self.items)))
                    w.append(weight)
                    t.append(at)
        if u:
            self._u.append(np.asarray(u, dtype=np.int32))
            self._i.append(np.asarray(i, dtype=np.int32))
            self._w.append(np.asarray(w, dtype=np.float64))
            self._t.append(np.asarray(t, dtype=np.float64))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(user index, item index, weight, time) of every positive watch."""
        if not self._u:
            empty = np.zeros(0)
            return empty.astype(np.int32), empty.astype(np.int32), empty, empty
        return (np.concatenate(self._u), np.concatenate(self._i), np.concatenate(self._w),
                np.concatenate(self._t))

    def latest(self) -> np.ndarray:
        """Per viewer, the time of their newest interaction (the taste state's reference)."""
        out = np.zeros(len(self.users))
        for user, at in self._latest.items():
            out[user] = at
        return out

    @property
    def positives(self) -> int:
        return int(sum(a.size for a in self._u))


def weighed(row: HistoryRow, params: ProfileParams) -> list[tuple[float, float]]:
    """(undecayed weight, time) of the row's watch and of its hide, for those it has:
    the taste profile's own weights (completion, rewatch cap, bounces and hides <= 0)."""
    found = []
    for interaction in (watch_interaction(row, _NO_VECTOR, None, ""),
                        hide_interaction(row, _NO_VECTOR, None, "")):
        if interaction is not None:
            found.append((interaction_weight(interaction, params), interaction.at))
    return found


def viewer_positives(rows: Iterable[HistoryRow], params: ProfileParams
                     ) -> list[tuple[uuid.UUID, float, float]]:
    """One viewer's positive watches as (video, decayed weight, time): what History and
    decayed_weights compute in bulk, for an engine that holds one viewer at a time."""
    latest, found = -np.inf, []
    for row in rows:
        for weight, at in weighed(row, params):
            latest = max(latest, at)
            if weight > 0:
                found.append((row.video_id, weight, at))
    if not found:
        return []
    weights = np.array([w for _, w, _ in found])
    times = np.array([at for _, _, at in found])
    decayed = decayed_weights(np.zeros(len(found), dtype=np.int64), weights, times,
                              np.array([latest]), params)
    return [(video, float(d), at) for (video, _, at), d in zip(found, decayed)]


def decayed_weights(users: np.ndarray, weights: np.ndarray, times: np.ndarray,
                    reference: np.ndarray, params: ProfileParams) -> np.ndarray:
    """weight * decay(viewer's reference time - time), vectorised like the taste state."""
    age = reference[users] - times
    return weights * np.exp(-params.decay_rate * age)


def matrix(users: np.ndarray, items: np.ndarray, values: np.ndarray, shape) -> sparse.csr_matrix:
    return sparse.csr_matrix((values, (users, items)), shape=shape)

