"""Pure parts of the MovieLens evaluation: metrics, the rating mapping, the split."""
import math

import numpy as np
import pytest

from killrvideo_reco.domain.taste_profile import Interaction, ProfileParams, interaction_weight
from killrvideo_reco.evaluation import data, metrics
from killrvideo_reco.evaluation.embedding import cache_key, movie_text

# --- metrics -----------------------------------------------------------------------------

def test_recall_counts_relevant_found_in_top_k():
    assert metrics.recall_at_k([1, 2, 3, 4], {2, 4, 9}, k=4) == pytest.approx(2 / 3)
    assert metrics.recall_at_k([1, 2, 3, 4], {2, 4, 9}, k=2) == pytest.approx(1 / 3)
    assert metrics.recall_at_k([], {1}, k=10) == 0.0


def test_hit_rate_is_one_when_anything_relevant_is_in_top_k():
    assert metrics.hit_rate_at_k([5, 6, 7], {7}, k=3) == 1.0
    assert metrics.hit_rate_at_k([5, 6, 7], {7}, k=2) == 0.0


def test_ndcg_exact_values():
    # one relevant item at rank 1: perfect
    assert metrics.ndcg_at_k([1, 2, 3], {1}) == pytest.approx(1.0)
    # one relevant item at rank 2: 1/log2(3)
    assert metrics.ndcg_at_k([9, 1, 3], {1}) == pytest.approx(1 / math.log2(3))
    # two relevant, hits at ranks 1 and 3: (1 + 1/2) / (1 + 1/log2(3))
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert metrics.ndcg_at_k([1, 8, 2], {1, 2}) == pytest.approx(expected)
    assert metrics.ndcg_at_k([7, 8], {1, 2}) == 0.0


def test_ndcg_ideal_is_capped_at_k():
    # 3 relevant but k=2: both top slots relevant is already ideal
    assert metrics.ndcg_at_k([1, 2, 3], {1, 2, 3}, k=2) == pytest.approx(1.0)


def test_metrics_need_relevant_items():
    with pytest.raises(ValueError):
        metrics.recall_at_k([1], set())
    with pytest.raises(ValueError):
        metrics.ndcg_at_k([1], set())


def test_coverage_and_intra_list_diversity():
    assert metrics.coverage({"a": [1, 2], "b": [2, 3]}, 10) == pytest.approx(0.3)
    same = np.array([[1.0, 0.0], [2.0, 0.0]])
    assert metrics.intra_list_diversity(same) == pytest.approx(0.0)
    orthogonal = np.array([[1.0, 0.0], [0.0, 3.0]])
    assert metrics.intra_list_diversity(orthogonal) == pytest.approx(1.0)
    # pairs: (a,b)=0 -> 1, (a,c)=1 -> 0, (b,c)=0 -> 1: mean 2/3
    three = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert metrics.intra_list_diversity(three) == pytest.approx(2 / 3)
    assert metrics.intra_list_diversity(np.ones((1, 2))) is None


def test_summarise_averages_over_users_and_counts_missing_lists_as_misses():
    vectors = {i: np.eye(4)[i % 4] for i in range(10)}
    out = metrics.summarise({"u1": [1, 2], "u2": []}, {"u1": {1}, "u2": {5}},
                            vectors.__getitem__, catalogue_size=10, k=10)
    assert out["recall"] == pytest.approx(0.5) and out["hit_rate"] == pytest.approx(0.5)
    assert out["ndcg"] == pytest.approx(0.5)
    assert out["coverage"] == pytest.approx(0.2) and out["diversity"] == pytest.approx(1.0)
    assert out["users"] == 2


# --- rating -> watch ---------------------------------------------------------------------

@pytest.mark.parametrize("stars, completion, plays", [
    (0.5, 0.05, 1), (2.0, 0.05, 1), (2.5, 0.5, 1), (3.0, 0.5, 1), (3.5, 0.9, 1),
    (4.0, 0.9, 1), (4.5, 1.0, 1), (5.0, 1.5, 2)])
def test_rating_to_completion(stars, completion, plays):
    assert data.watch_for_rating(stars) == (completion, plays)


@pytest.mark.parametrize("stars", [0.0, -1.0, 5.5])
def test_rating_out_of_range_is_rejected(stars):
    with pytest.raises(ValueError):
        data.watch_for_rating(stars)


def test_mapping_gives_the_profile_weights_we_document():
    """Through the real weighting: <= 2 stars is a bounce, higher stars weigh more."""
    params = ProfileParams()

    def weight(stars):
        done, _ = data.watch_for_rating(stars)
        i = Interaction(video_id=None, embedding=np.ones(2), uploader_id=None, at=0.0,
                        kind="watch", seconds_watched=done * data.DURATION_S,
                        duration_s=data.DURATION_S)
        return interaction_weight(i, params)

    assert weight(2.0) == params.bounce_weight < 0
    weights = [weight(s) for s in (2.5, 3.5, 4.5, 5.0)]
    assert weights == sorted(weights) and weights[0] > 0 and weights[-1] == pytest.approx(1.5)


# --- split -------------------------------------------------------------------------------

def ratings_for(user, stars_and_times):
    return [data.Rating(user, movie, stars, at)
            for movie, (stars, at) in enumerate(stars_and_times, start=1)]


def test_split_holds_out_the_last_watches_by_time_not_by_file_order():
    # file order is by movie id; times run backwards, so the lowest ids are the newest
    rows = ratings_for(1, [(4.0, 1000 - m) for m in range(25)])
    [user], skipped = data.split_users(rows, holdout=10, min_train=10)
    assert [r.movie_id for r in user.heldout] == list(range(10, 0, -1))
    assert len(user.train) == 15 and max(r.at for r in user.train) < min(r.at for r in user.heldout)
    assert user.relevant == frozenset(range(1, 11))
    assert skipped == {"too_few_ratings": 0, "no_relevant_heldout": 0}


def test_split_breaks_time_ties_by_movie_id():
    rows = ratings_for(1, [(4.0, 100)] * 20)
    [user], _ = data.split_users(rows, holdout=10, min_train=10)
    assert [r.movie_id for r in user.heldout] == list(range(11, 21))


def test_split_skips_short_histories_and_users_without_relevant_heldout():
    short = ratings_for(1, [(5.0, t) for t in range(19)])
    dislikes_recent = ratings_for(2, [(5.0, t) for t in range(10)] + [(3.0, 100 + t) for t in range(10)])
    mixed = ratings_for(3, [(1.0, t) for t in range(19)] + [(3.5, 50)])
    users, skipped = data.split_users(short + dislikes_recent + mixed, holdout=10, min_train=10)
    assert [u.user_id for u in users] == [3]
    assert users[0].relevant == frozenset({20})
    assert skipped == {"too_few_ratings": 1, "no_relevant_heldout": 1}


def test_popularity_counts_training_ratings_only():
    rows = ratings_for(1, [(4.0, t) for t in range(20)])
    users, _ = data.split_users(rows, holdout=10, min_train=10)
    counts = data.popularity(users)
    assert set(counts) == set(range(1, 11)) and set(counts.values()) == {1}


# --- loading and texts -------------------------------------------------------------------

def write_dataset(tmp_path, header=False):
    (tmp_path / "movies.csv").write_text(
        ("movieId,title,genres\n" if header else "")
        + '1,"Cry, the Beloved Country (1995)",Drama\n2,Toy Story (1995),Animation|Comedy\n'
        + "3,Unknown (2000),(no genres listed)\n")
    (tmp_path / "ratings.csv").write_text(
        ("userId,movieId,rating,timestamp\n" if header else "") + "7,1,4.5,100\n7,2,3.0,90\n")
    (tmp_path / "tags.csv").write_text(
        "userId,movieId,tag,timestamp\n7,2,pixar,1\n8,2,Pixar,2\n8,2,  funny  toys ,3\n")


@pytest.mark.parametrize("header", [False, True])
def test_load_detects_header_rows_and_quoted_titles(tmp_path, header):
    write_dataset(tmp_path, header)
    ds = data.load(tmp_path)
    assert ds.movies[1].title == "Cry, the Beloved Country (1995)"
    assert ds.movies[2].genres == ("Animation", "Comedy")
    assert ds.movies[2].tags == ("funny toys", "pixar")  # case-insensitive dedup, trimmed
    assert ds.movies[3].genres == ()
    assert sorted((r.movie_id, r.rating) for r in ds.ratings) == [(1, 4.5), (2, 3.0)]


def test_movie_text_and_cache_key(tmp_path):
    write_dataset(tmp_path)
    movie = data.load(tmp_path).movies[2]
    assert movie_text(movie) == "Toy Story (1995)\nGenres: Animation, Comedy.\ntags: funny toys, pixar"
    key = cache_key("model-a", tmp_path)
    assert key == cache_key("model-a", tmp_path) != cache_key("model-b", tmp_path)
    (tmp_path / "tags.csv").write_text("userId,movieId,tag,timestamp\n")
    assert cache_key("model-a", tmp_path) != key


def test_embeddings_are_cached_on_disk(tmp_path):
    from killrvideo_reco.embeddings.hashing import HashingProvider
    from killrvideo_reco.evaluation.embedding import embed_movies

    write_dataset(tmp_path)
    movies = list(data.load(tmp_path).movies.values())
    provider = HashingProvider(32)
    first, cached, _ = embed_movies(provider, movies, tmp_path, tmp_path / "cache")
    again, cached_again, _ = embed_movies(provider, movies, tmp_path, tmp_path / "cache")
    assert (cached, cached_again) == (False, True)
    assert np.array_equal(first, again) and first.shape == (3, 32)


def test_paired_bootstrap_interval():
    diff, lo, hi = metrics.paired_bootstrap([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
    assert (diff, lo, hi) == pytest.approx((0.25, 0.25, 0.25))
    diff, lo, hi = metrics.paired_bootstrap([1.0, 0.0] * 50, [0.0, 1.0] * 50)
    assert diff == pytest.approx(0.0) and lo < 0 < hi


def test_the_spark_row_is_compared_with_local_als_and_puresvd():
    from pathlib import Path

    from killrvideo_reco.evaluation.engine_report import engine_lines
    from killrvideo_reco.evaluation.pipeline import MethodResult, RunConfig, RunResult

    def method(key, per_user):
        return MethodResult(key, key, {}, metrics={"ndcg": sum(per_user) / len(per_user),
                                                   "ndcg_per_user": per_user})

    users = [0.1, 0.2, 0.0, 0.3] * 25
    methods = [method("foryou", users), method("foryou_als_local", [u * 0.9 for u in users]),
               method("foryou_als_spark", [u * 0.88 for u in users])]
    result = RunResult(RunConfig(Path(".")), methods, {}, {}, None, engines={
        "foryou_als_local": {"wallSeconds": 50.0}, "foryou_als_spark": {"wallSeconds": 200.0}})
    first, *against = engine_lines(result)
    assert "-2.2%" in first and "within 5%: met" in first and "Spark 200.0 s" in first
    assert len(against) == 2 and all("PureSVD" in line for line in against)
    assert engine_lines(RunResult(RunConfig(Path(".")), methods[:1], {}, {}, None)) == []


def test_the_engines_are_compared_on_the_means_over_seeds():
    from pathlib import Path

    from killrvideo_reco.evaluation.engine_report import engine_lines
    from killrvideo_reco.evaluation.engines import seed_key
    from killrvideo_reco.evaluation.pipeline import MethodResult, RunConfig, RunResult

    def method(key, ndcg):
        return MethodResult(key, key, {}, metrics={"ndcg": ndcg, "ndcg_per_user": [ndcg] * 4})

    # Seed 7 alone: Spark 10% better; over three seeds the means are 2% apart.
    by_seed = {7: (0.100, 0.110), 8: (0.105, 0.100), 9: (0.101, 0.1015)}
    methods, engines = [method("foryou", 0.09)], {}
    for seed, (local, spark) in by_seed.items():
        for key, ndcg in (("foryou_als_local", local), ("foryou_als_spark", spark)):
            keyed = key if seed == 7 else seed_key(key, seed)
            methods.append(method(keyed, ndcg))
            gain = 0.15 if "spark" in key else 0.02 - 0.01 * (seed - 7)
            engines[keyed] = {"wallSeconds": 1.0, "seed": seed, "quality": {
                "ndcg@10 behaviour": 0.05, "ndcg@10 ranked": 0.05 * (1 + gain)}}
    # implicit's flat penalty, once, as a reference row.
    methods.append(method("foryou_als_flat@7", 0.100))
    engines["foryou_als_flat@7"] = {"wallSeconds": 1.0, "seed": 7, "quality": {
        "ndcg@10 behaviour": 0.05, "ndcg@10 ranked": 0.05 * 0.99}}
    lines = engine_lines(RunResult(RunConfig(Path(".")), methods, {}, {}, None, engines=engines))
    assert "+10.0%" in lines[0] and "within 5%: NOT met" in lines[0]
    assert "flat penalty instead" in lines[3] and "local ALS scores 0.1000: Spark +10.0%" in lines[3]
    assert "local, flat penalty -1%" in lines[-1]
    assert "seed 8: local 0.1050, Spark 0.1000 (-4.8%)" in lines[-2]
    assert "Means: local 0.1020, Spark 0.1038, +1.8%" in lines[-2]
    assert "within 5%: met on the means" in lines[-2]
    assert "over the behaviour score alone: Spark +15%, +15%, +15%; local +2%, +1%, +0%" in lines[-1]
    # One seed only: no line over seeds.
    one = {k: v for k, v in engines.items() if v["seed"] == 7 and "flat" not in k}
    assert len(engine_lines(RunResult(RunConfig(Path(".")), methods, {}, {}, None,
                                      engines=one))) == 3
