import uuid

import pytest

from killrvideo_reco.domain import feed_rules
from killrvideo_reco.domain.models import StoredProfile


def prefs(vector, model="m"):
    return StoredProfile(vector, model, 5)


class TestUsableProfile:
    def test_good_profile_is_used(self):
        verdict = feed_rules.usable_profile(prefs([1.0, 0.0, 0.0]), "m", 3)
        assert verdict.vector is not None and verdict.reason == "ok"

    @pytest.mark.parametrize("stored, catalogue, reason", [
        (None, "m", "no profile"),
        (prefs(None), "m", "no profile"),
        (prefs([0.0, 0.0, 0.0]), "m", "zero"),
        (prefs([1.0, 0.0]), "m", "dimension 2 != index dimension 3"),
        (prefs([1.0, float("nan"), 0.0]), "m", "non-finite"),
        (prefs([1.0, 0.0, 0.0], model="old"), "m", "catalogue uses 'm'"),
    ])
    def test_unusable_profiles_fall_back(self, stored, catalogue, reason):
        verdict = feed_rules.usable_profile(stored, catalogue, 3)
        assert verdict.vector is None and reason in verdict.reason

    def test_unknown_catalogue_model_does_not_block(self):
        assert feed_rules.usable_profile(prefs([0.0, 1.0, 0.0]), None, 3).vector is not None


def test_trending_order_sums_days_and_breaks_ties_by_id():
    a, b, c = (uuid.UUID(int=i) for i in (1, 2, 3))
    order = feed_rules.trending_order([(a, 2), (b, 5), (a, 4), (c, 6)])
    assert order == [(a, 6), (c, 6), (b, 5)]


def test_merge_unique_keeps_first_occurrence():
    a, b, c = (uuid.UUID(int=i) for i in (1, 2, 3))
    assert feed_rules.merge_unique([a, b], [b, c, a]) == [a, b, c]


def test_page_bounds():
    assert feed_rules.page_bounds(1, 10) == (0, 10)
    assert feed_rules.page_bounds(3, 7) == (14, 21)
