"""bench/heavy.py: the heavy watchers' cell is reported beside the light one, against
issue 20's Musts on the bare ANN query's CPU of the same run."""
from __future__ import annotations

from bench import heavy


def cell(p50: float, app: float, cassandra: float) -> dict:
    return {"n": 100, "failures": 0, "throughput": 50.0, "p50": p50, "p99": 3 * p50,
            "cpu_ms_per_req": {"server": app, "cassandra": cassandra, "client": 1.0}}


def scale(light: dict, heavy_cell: dict | None) -> dict:
    bare = {"cpu_ms_per_req": {"cassandra": 5.0, "client": 0.8}}
    return {"marker": {"spec": {"history": 50}}, "heavy": heavy_cell,
            "cells": {heavy.CONCURRENCY: {"service": light, "bare": bare}}}


def test_the_worse_cohort_decides_the_musts():
    text = "\n".join(heavy.lines(scale(cell(40, 5.0, 6.0), cell(70, 9.0, 9.0))))
    assert "| 50 watched | 100 | 0 | 50 | 40 | 120 | 11.0 (5.0 / 6.0) | 2.2x |" in text
    assert "| 600 watched | 100 | 0 | 50 | 70 | 210 | 18.0 (9.0 / 9.0) | 3.6x |" in text
    assert "3.6x at worst, NOT met" in text and "70 ms at worst, NOT met" in text


def test_both_musts_met_and_no_heavy_cell_no_lines():
    text = "\n".join(heavy.lines(scale(cell(40, 5.0, 6.0), cell(50, 5.0, 7.0))))
    assert "2.4x at worst, met" in text and "50 ms at worst, met" in text
    assert heavy.lines(scale(cell(40, 5.0, 6.0), None)) == []
