"""The local Spark standalone cluster of tools/spark/cluster.py, for `make test-spark` only.

Collected only when KILLRVIDEO_SPARK_TESTS=1 (the make target sets it, and runs these
tests from the Spark venv), so plain `make test` never needs PySpark. The cluster is
started if it is not up, and stopped at the end if this run started it."""
from __future__ import annotations

import os

import pytest

if os.environ.get("KILLRVIDEO_SPARK_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def spark_master():
    from tools.spark import cluster

    started_here = not cluster.answering()
    if cluster.up() != 0:
        pytest.fail("could not start the local Spark cluster (see the log above)", pytrace=False)
    try:
        yield cluster.MASTER_URL
    finally:
        if started_here:
            cluster.down()
