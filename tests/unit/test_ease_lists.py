"""EASE in memory (evaluation/neighbour_study.py): its For You lists and its item-item
lists of each user's last training movie, both without what the user watched."""
from __future__ import annotations

from killrvideo_reco.domain.taste_profile import ProfileParams
from killrvideo_reco.evaluation.data import Rating, UserSplit
from killrvideo_reco.evaluation.neighbour_study import ease


def split(user: int, movies: list[int]) -> UserSplit:
    train = tuple(Rating(user, m, 5.0, n) for n, m in enumerate(movies))
    return UserSplit(user, train, (), frozenset())


def test_item_item_lists_follow_co_watching_and_leave_out_the_watched():
    # Movies 1, 2 and 3 are watched together; 10, 11 and 12 together.
    users = [split(u, [1, 2, 3]) for u in range(8)] + [split(u, [10, 11, 12])
                                                       for u in range(8, 16)]
    users += [split(100, [1]), split(101, [10, 11])]
    by_lambda = ease(users, ProfileParams(), k=2, lambdas=(1.0,))
    foryou, related = by_lambda[1.0]
    assert set(related[100]) == {2, 3}, "the last movie's co-watched movies, best first"
    assert related[101][0] == 12 and not {10, 11} & set(related[101]), "watched left out"
    assert set(foryou[100]) == {2, 3} and foryou[101][0] == 12
    assert all(not set(related[u.user_id]) & {r.movie_id for r in u.train} for u in users)
