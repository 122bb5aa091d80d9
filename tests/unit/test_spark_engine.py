"""The Spark engine's pure parts, without PySpark: the per-viewer weights and hold-out
equal the local engine's bulk ones, the session's properties, the master check, the
connector rows, and that importing the training job loads no Spark."""
from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from collections import namedtuple
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from killrvideo_reco.domain.models import HistoryRow
from killrvideo_reco.domain.taste_profile import ProfileParams
from killrvideo_reco.settings import Settings
from killrvideo_reco.store.spark_history import history_record
from killrvideo_reco.training.interactions import History, decayed_weights, viewer_positives
from killrvideo_reco.training.ranker import holdout_mask
from killrvideo_reco.training.spark_engine import (
    behaviour_sum,
    counts_per_video,
    viewer_training_rows,
)
from killrvideo_reco.training.spark_session import (
    CONNECTOR,
    SparkOptions,
    SparkUnavailable,
    check_master,
    extra_properties,
    master_address,
    spark_properties,
    wait_for_executors,
)

PARAMS = ProfileParams()
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def random_history(seed: int, viewers: int = 30, videos: int = 40):
    """Watches, bounces, rewatches and hides over a year, per viewer."""
    rng = np.random.default_rng(seed)
    pool = [uuid.uuid4() for _ in range(videos)]
    history = {}
    for _ in range(viewers):
        rows = []
        for video in rng.choice(videos, int(rng.integers(1, 15)), replace=False):
            at = T0 + timedelta(days=float(rng.uniform(0, 365)))
            seconds = float(rng.choice([10.0, 300.0, 590.0, 1500.0]))
            hidden = at + timedelta(hours=1) if rng.random() < 0.1 else None
            rows.append(HistoryRow(pool[video], at, at, int(rng.integers(1, 4)), seconds,
                                   float(rng.choice([600.0, 0.0])) or None, hidden))
        history[uuid.uuid4()] = rows
    return history, pool


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_per_viewer_weights_equal_the_local_engines_bulk_weights(seed):
    history, _ = random_history(seed)
    bulk = History()
    bulk.add_rows(((user, row) for user, rows in history.items() for row in rows), PARAMS)
    users, items, weights, times = bulk.arrays()
    decayed = decayed_weights(users, weights, times, bulk.latest(), PARAMS)
    video_of = list(bulk.items)
    expected = {}
    for u, i, w in zip(users, items, decayed):
        expected[(list(bulk.users)[u], video_of[i])] = w
    found = {(user, video): w for user, rows in history.items()
             for video, w, _ in viewer_positives(rows, PARAMS)}
    assert found.keys() == expected.keys() and found
    np.testing.assert_allclose([found[k] for k in expected], list(expected.values()), rtol=1e-12)


def test_bounces_and_hides_are_not_positives_and_still_move_the_reference_time():
    video, bounced, hidden = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    later = T0 + timedelta(days=200)  # one half-life after the watch
    rows = [HistoryRow(video, T0, T0, 1, 600.0, 600.0),
            HistoryRow(bounced, later, later, 1, 5.0, 600.0),
            HistoryRow(hidden, hidden_at=T0)]
    [(found, weight, _)] = viewer_positives(rows, PARAMS)
    assert found == video and weight == pytest.approx(0.5)


def test_per_viewer_hold_out_is_the_local_hold_out():
    history, pool = random_history(4)
    catalogue = {v: n for n, v in enumerate(pool[:30])}  # 10 videos deleted since
    users, rows, times, found = [], [], [], []
    for n, history_rows in enumerate(history.values()):
        for video, _, at in viewer_positives(history_rows, PARAMS):
            if video in catalogue:
                users.append(n), rows.append(catalogue[video]), times.append(at)
        found += [(n, row, held) for row, _, held, _ in
                  viewer_training_rows(history_rows, PARAMS, catalogue, 3)]
    held = holdout_mask(np.array(users), np.array(rows), np.array(times), 3)
    assert found == list(zip(users, rows, held.tolist()))
    assert any(h for *_, h in found) and not all(h for *_, h in found)


def test_behaviour_sum_and_counts():
    served = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.testing.assert_allclose(behaviour_sum([(1, 2.0), (3, 0.5)], served),
                               2.0 * served[1] + 0.5 * served[3])
    assert counts_per_video([(2, 5), (0, 1)], 4).tolist() == [1, 0, 5, 0]


def test_connector_rows_become_history_rows_and_other_rows_are_skipped():
    Record = namedtuple("Record", "userid videoid play_count seconds_watched duration_s "
                                  "last_watched hidden_at")
    user, video = uuid.uuid4(), uuid.uuid4()
    at = T0.timestamp() + 0.25
    [(viewer, row)] = history_record(Record(str(user), str(video), 2, 900.0, 600.0, at, None))
    assert viewer == user and row.video_id == video and row.play_count == 2
    assert row.last_watched == T0 + timedelta(seconds=0.25) and row.hidden_at is None
    assert history_record(Record(str(user), str(uuid.uuid4()), None, None, None, None, None)) == []
    assert history_record(Record(str(user), None, None, None, None, None, None)) == []
    [(_, hide)] = history_record(Record(str(user), str(video), None, None, None, None, at))
    assert hide.play_count == 0 and hide.hidden_at is not None


def test_session_properties_carry_the_settings():
    props = spark_properties(SparkOptions(
        master="spark://10.0.0.5:7077", driver_memory="2g", executor_memory="6g",
        executor_cores=4, partitions=64, cassandra_hosts="c1,c2", cassandra_port=9142,
        read_consistency="LOCAL_QUORUM", write_consistency="ONE", split_size_mb=128,
        cassandra_username="reco", cassandra_password="secret",
        extra="spark.executor.instances=3"))
    assert props["spark.master"] == "spark://10.0.0.5:7077"
    assert props["spark.jars.packages"] == CONNECTOR
    assert (props["spark.driver.memory"], props["spark.executor.memory"]) == ("2g", "6g")
    assert props["spark.executor.cores"] == "4" and props["spark.sql.shuffle.partitions"] == "64"
    assert props["spark.cassandra.connection.host"] == "c1,c2"
    assert props["spark.cassandra.connection.port"] == "9142"
    assert props["spark.cassandra.input.consistency.level"] == "LOCAL_QUORUM"
    assert props["spark.cassandra.output.consistency.level"] == "ONE"
    assert props["spark.cassandra.input.split.sizeInMB"] == "128"
    assert props["spark.cassandra.auth.username"] == "reco"
    assert props["spark.executor.instances"] == "3"
    assert "spark.driver.host" not in props, "a remote master must reach the driver"
    local = spark_properties(SparkOptions())
    assert local["spark.driver.host"] == "127.0.0.1" and "spark.cassandra.auth.username" not in local


def test_extra_properties_are_checked():
    assert extra_properties(" spark.a=1, spark.b = x=y ") == {"spark.a": "1", "spark.b": "x=y"}
    with pytest.raises(ValueError, match="SPARK_EXTRA_CONF"):
        extra_properties("executor.memory=2g")
    with pytest.raises(ValueError):
        extra_properties("spark.a")


def test_master_urls():
    assert master_address("local[*]") == [] and master_address("yarn") == []
    assert master_address("spark://a:7077,b:7078") == [("a", 7077), ("b", 7078)]
    with pytest.raises(ValueError):
        master_address("spark://nohost")


def test_an_unreachable_master_fails_fast_with_its_address():
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SparkUnavailable, match=f"spark://127.0.0.1:{port}"):
        check_master(f"spark://127.0.0.1:{port}", timeout_s=1)
    check_master("local[*]")  # nothing to check
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        check_master(f"spark://127.0.0.1:{server.getsockname()[1]}", timeout_s=1)


def test_engine_settings_default_to_the_local_engine():
    settings = Settings()
    assert settings.train_engine == "local" and settings.spark_master == "local[*]"
    assert settings.spark_packages == CONNECTOR and settings.train_schedule == ""
    for name in ("train_engine", "spark_master", "spark_driver_memory", "spark_executor_memory",
                 "spark_cassandra_read_consistency", "spark_cassandra_split_size_mb"):
        assert Settings.model_fields[name].description, name


def test_the_training_job_and_the_api_load_no_spark():
    code = ("import sys, killrvideo_reco.jobs.train, killrvideo_reco.api.app; "
            "sys.exit(any(m == 'pyspark' or m.startswith('pyspark.') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_mllibs_penalty_is_scaled_so_the_mean_viewer_gets_train_regularization():
    from killrvideo_reco.training.als_wr import mean_viewer_reg_param

    per_viewer = 1_000_000 / 50_000
    assert mean_viewer_reg_param(1.0, 1_000_000, 50_000) * per_viewer == 1.0
    assert mean_viewer_reg_param(0.5, 0, 0) == 0.5


class Tracker:
    """The JVM status tracker's one call used here: executors (the driver included)."""
    def __init__(self, counts):
        self.counts = list(counts)

    def getExecutorInfos(self):
        return [None] * (self.counts.pop(0) if len(self.counts) > 1 else self.counts[0])


def test_a_standalone_master_with_no_executor_fails_after_the_wait():
    now = [0.0]
    sleep = lambda s: now.__setitem__(0, now[0] + s)  # noqa: E731
    with pytest.raises(SparkUnavailable, match="no executor .* within 10s"):
        wait_for_executors(Tracker([1]), "spark://127.0.0.1:7077", 10, lambda: now[0], sleep)
    assert now[0] == pytest.approx(10.0)
    now[0] = 0.0
    wait_for_executors(Tracker([1, 1, 2]), "spark://127.0.0.1:7077", 10, lambda: now[0], sleep)
    assert now[0] == pytest.approx(1.0), "returns once an executor registered"
    wait_for_executors(Tracker([1]), "local[*]", 10, lambda: now[0], sleep)  # never waits
