"""api/collector.py: the server's garbage-collector tuning."""
from __future__ import annotations

import gc

from killrvideo_reco.api import collector


def test_tune_raises_the_young_threshold_and_freezes_what_lives():
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    try:
        collector.tune(10_000)
        assert gc.get_threshold() == (10_000, *before[1:])
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_zero_leaves_pythons_defaults():
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    collector.tune(0)
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, frozen)
