"""The whole MovieLens evaluation on a tiny synthetic dataset, through a real keyspace."""
import asyncio
import random

import pytest

from killrvideo_reco.bootstrap import build_stores
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.evaluation import report
from killrvideo_reco.evaluation.pipeline import RunConfig, evaluate

pytestmark = pytest.mark.integration

GENRES = {"Horror": "Haunted Zombie Night", "Comedy": "Funny Laugh Party",
          "Romance": "Love Kiss Wedding"}
PER_GENRE = 30
HORROR_FAN = 1


def write_movielens(path):
    """MovieLens-shaped files: movies/ratings without a header, tags with one."""
    movies, genre_of = [], {}
    for g, (genre, words) in enumerate(GENRES.items()):
        for i in range(PER_GENRE):
            movie_id = g * PER_GENRE + i + 1
            genre_of[movie_id] = genre
            movies.append(f'{movie_id},"{words} {i}, The (20{g:02d})",{genre}')
    (path / "movies.csv").write_text("\n".join(movies) + "\n")
    (path / "tags.csv").write_text("userId,movieId,tag,timestamp\n"
                                   "9,1,scary,1\n9,31,hilarious,1\n9,61,romantic,1\n")
    rng = random.Random(7)
    ratings = []
    by_genre = {genre: [m for m, gg in genre_of.items() if gg == genre] for genre in GENRES}
    # The horror fan: 25 horror movies, all liked; the others like one genre, dislike one.
    fans = [(HORROR_FAN, "Horror", None), (2, "Comedy", "Horror"), (3, "Romance", "Comedy"),
            (4, "Comedy", "Romance"), (5, "Romance", "Horror")]
    for user, liked, disliked in fans:
        picks = [(m, rng.choice([4.0, 4.5, 5.0])) for m in rng.sample(by_genre[liked], 20)]
        if disliked:
            picks += [(m, 1.0) for m in rng.sample(by_genre[disliked], 5)]
        else:
            picks += [(m, 5.0) for m in rng.sample(
                [m for m in by_genre[liked] if m not in dict(picks)], 5)]
        rng.shuffle(picks)
        ratings += [f"{user},{m},{stars},{1_000_000_000 + 86_400 * t}"
                    for t, (m, stars) in enumerate(picks)]
    (path / "ratings.csv").write_text("\n".join(ratings) + "\n")
    return genre_of


def test_pipeline_end_to_end_on_synthetic_movielens(cassandra, tmp_path):
    settings, session = cassandra
    genre_of = write_movielens(tmp_path)
    config = RunConfig(data_dir=tmp_path, cache_dir=tmp_path / "cache")
    ks = settings.cassandra_keyspace
    result = asyncio.run(evaluate(settings, build_stores(session, ks),
                                  build_provider(settings), config))

    methods = {m.key: m for m in result.methods}
    assert {"popularity", "latest", "content", "behaviour", "foryou", "i2i_max",
            "mean", "ease_300", "just_watched_0", "just_watched_3"} <= set(methods)
    related = {m.key: m for m in result.related}
    assert set(related) == {"related", "related_content", "popularity", "related_ease_100",
                            "related_ease_300", "related_ease_1000"}
    assert all(len(items) == 10 for items in related["related"].lists.values())
    for m in result.related:
        assert 0.0 <= m.metrics["ndcg"] <= 1.0, m.key
    assert any(related["related_ease_300"].lists.values()), "EASE's item-item lists"
    for m in result.methods:
        for name in ("recall", "ndcg", "hit_rate", "coverage", "diversity"):
            assert 0.0 <= m.metrics[name] <= 1.0, (m.key, name, m.metrics[name])
        assert all(len(items) <= 10 for items in m.lists.values())

    assert result.stats["users_evaluated"] == 5 and result.feed_sources == {"personalized": 5}
    assert result.stats["feed_returned_watched"] == 0
    assert result.training["runId"] and result.sensitivity and result.cold["users"] >= 0
    assert {r["variant"] for r in result.shaping} >= {"two-stage, unshaped", "+ interests"}
    horror_feed = methods["foryou"].lists[HORROR_FAN]
    assert len(horror_feed) == 10
    assert sum(genre_of[m] == "Horror" for m in horror_feed) >= 8, horror_feed
    # Its held-out movies are unwatched horror, so the feed must find some of them.
    assert methods["foryou"].metrics["hit_rate"] > 0

    md, _ = report.write(result, tmp_path / "docs", "make eval", 1.0)
    text = md.read_text()
    assert "| For You: two-stage feed (FeedService) |" in text and "ml-latest-small" in text
    assert "Sensitivity" in text and "Ranking weights fitted" in text
    assert "| Related videos (the endpoint" in text and "**EASE ceiling**" in text
    assert "Just-watched source from the last 3 positives" in text
    assert "Feed shaping: with and without" in text and "Lowest lambda within" in text
