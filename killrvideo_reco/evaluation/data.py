"""MovieLens as the service sees it: movies become videos, ratings become watches.

Pure (no Cassandra): loading the CSV files, the rating -> completion mapping and the
per-user time-ordered hold-out split. The rules here are quoted in docs/quality.md.
"""
from __future__ import annotations

import csv
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

# A movie is a 100-minute video; a rating is one watch of it at the rating's timestamp.
DURATION_S = 6000
HOLDOUT = 10          # last watches per user kept out of the profile
MIN_TRAIN = 10        # fewer training watches than this: user skipped
RELEVANT_RATING = 3.5  # held-out movies rated at least this are the "relevant" ones


@dataclass(frozen=True)
class Movie:
    movie_id: int
    title: str
    genres: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Rating:
    user_id: int
    movie_id: int
    rating: float
    at: int  # epoch seconds


@dataclass(frozen=True)
class Dataset:
    movies: dict[int, Movie]
    ratings: list[Rating]


@dataclass(frozen=True)
class UserSplit:
    user_id: int
    train: tuple[Rating, ...]     # oldest first; written to viewer_history
    heldout: tuple[Rating, ...]   # the last HOLDOUT ratings
    relevant: frozenset[int]      # held-out movie ids rated >= RELEVANT_RATING


def watch_for_rating(rating: float) -> tuple[float, int]:
    """(completion, play_count) standing in for a star rating.

    <= 2.0 stars: a bounce (5%, under the profile's 10% bounce threshold, so negative);
    2.5-3.0: half watched; 3.5-4.0: 90%; 4.5: watched to the end; 5.0: watched to the
    end and half of it again (a rewatch, completion 1.5, two plays).
    """
    if not 0.0 < rating <= 5.0:
        raise ValueError(f"rating {rating} is outside (0, 5]")
    if rating <= 2.0:
        return 0.05, 1
    if rating <= 3.0:
        return 0.5, 1
    if rating <= 4.0:
        return 0.9, 1
    if rating < 5.0:
        return 1.0, 1
    return 1.5, 2


def _rows(path: Path):
    """CSV rows without the header. Detected rather than assumed: the README promises a
    header row, but this copy's ratings.csv and movies.csv have none."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        first = next(reader, None)
        if first and first[0].strip().isdigit():
            yield first
        yield from reader


def load(data_dir: Path) -> Dataset:
    data_dir = Path(data_dir)
    tags: dict[int, dict[str, str]] = defaultdict(dict)
    if (data_dir / "tags.csv").exists():
        for row in _rows(data_dir / "tags.csv"):
            tag = " ".join(row[2].split())
            if tag:
                tags[int(row[1])].setdefault(tag.casefold(), tag)  # one spelling per tag
    movies = {}
    for row in _rows(data_dir / "movies.csv"):
        movie_id = int(row[0])
        genres = tuple(g for g in row[2].split("|") if g and g != "(no genres listed)")
        movies[movie_id] = Movie(movie_id, row[1].strip(), genres,
                                 tuple(sorted(tags[movie_id].values())))
    latest: dict[tuple[int, int], Rating] = {}
    for row in _rows(data_dir / "ratings.csv"):
        r = Rating(int(row[0]), int(row[1]), float(row[2]), int(row[3]))
        if r.movie_id in movies:
            latest[(r.user_id, r.movie_id)] = r  # a re-rating replaces the earlier one
    return Dataset(movies, list(latest.values()))


def genres_text(movie: Movie) -> str:
    """The description we embed: the genres, as words."""
    return ("Genres: " + ", ".join(movie.genres) + ".") if movie.genres else ""


def split_users(ratings: list[Rating], holdout: int = HOLDOUT, min_train: int = MIN_TRAIN,
                relevant_rating: float = RELEVANT_RATING) -> tuple[list[UserSplit], dict]:
    """Per user, time order (movie id breaks ties: ratings often share a second), the
    last `holdout` held out. Returns the kept users and why the others were skipped."""
    by_user: dict[int, list[Rating]] = defaultdict(list)
    for r in ratings:
        by_user[r.user_id].append(r)
    kept, skipped = [], {"too_few_ratings": 0, "no_relevant_heldout": 0}
    for user_id in sorted(by_user):
        history = sorted(by_user[user_id], key=lambda r: (r.at, r.movie_id))
        if len(history) < holdout + min_train:
            skipped["too_few_ratings"] += 1
            continue
        train, heldout = history[:-holdout], history[-holdout:]
        relevant = frozenset(r.movie_id for r in heldout if r.rating >= relevant_rating)
        if not relevant:
            skipped["no_relevant_heldout"] += 1
            continue
        kept.append(UserSplit(user_id, tuple(train), tuple(heldout), relevant))
    return kept, skipped


def subsample(users: list[UserSplit], count: int | None, seed: int = 0) -> list[UserSplit]:
    if count is None or count >= len(users):
        return users
    return sorted(random.Random(seed).sample(users, count), key=lambda u: u.user_id)


def popularity(users: list[UserSplit]) -> dict[int, int]:
    """Training ratings per movie (held-out ratings never count)."""
    counts: dict[int, int] = defaultdict(int)
    for user in users:
        for r in user.train:
            counts[r.movie_id] += 1
    return dict(counts)


def added_times(ratings: list[Rating]) -> dict[int, int]:
    """A movie's 'upload' time: the first time anyone rated it."""
    first: dict[int, int] = {}
    for r in ratings:
        first[r.movie_id] = min(first.get(r.movie_id, r.at), r.at)
    return first
