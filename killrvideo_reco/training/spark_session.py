"""The Spark session of the Spark engine: its properties (pure, unit-tested), a fast
check that a standalone master answers, and the session itself (PySpark imported only
here and in spark_engine.py, so nothing else needs it installed)."""
from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CONNECTOR = "com.datastax.spark:spark-cassandra-connector_2.12:3.5.1"
MASTER_TIMEOUT_S = 5.0


class SparkUnavailable(RuntimeError):
    """The Spark engine cannot run: PySpark missing, or the master does not answer."""


@dataclass(frozen=True)
class SparkOptions:
    master: str = "local[*]"
    driver_memory: str = "1g"
    executor_memory: str = "1g"
    executor_cores: int = 0
    packages: str = CONNECTOR
    partitions: int = 0
    cassandra_hosts: str = "127.0.0.1"
    cassandra_port: int = 9042
    cassandra_local_dc: str = "datacenter1"
    cassandra_username: str = ""
    cassandra_password: str = ""
    read_consistency: str = "LOCAL_ONE"
    write_consistency: str = "LOCAL_QUORUM"
    split_size_mb: int = 64
    fetch_size_rows: int = 1000
    extra: str = ""
    app_name: str = "killrvideo-reco-train"
    executor_wait_s: float = 120.0


def spark_properties(options: SparkOptions) -> dict[str, str]:
    """Every property the session is built with."""
    props = {
        "spark.master": options.master,
        "spark.app.name": options.app_name,
        "spark.driver.memory": options.driver_memory,
        "spark.executor.memory": options.executor_memory,
        "spark.sql.extensions": "com.datastax.spark.connector.CassandraSparkExtensions",
        "spark.cassandra.connection.host": options.cassandra_hosts,
        "spark.cassandra.connection.port": str(options.cassandra_port),
        "spark.cassandra.connection.localDC": options.cassandra_local_dc,
        "spark.cassandra.input.consistency.level": options.read_consistency,
        "spark.cassandra.output.consistency.level": options.write_consistency,
        "spark.cassandra.input.split.sizeInMB": str(options.split_size_mb),
        "spark.cassandra.input.fetch.sizeInRows": str(options.fetch_size_rows),
        # Python workers: the interpreter that runs the driver (same venv on a local
        # cluster; on a real one set PYSPARK_PYTHON to the executors' interpreter).
        "spark.pyspark.python": os.environ.get("PYSPARK_PYTHON", sys.executable),
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.bindAddress": "127.0.0.1" if _loopback(options.master) else "0.0.0.0",
    }
    if _loopback(options.master):
        props["spark.driver.host"] = "127.0.0.1"
    if options.packages:  # empty: the jars come from spark.jars (SPARK_EXTRA_CONF) instead
        props["spark.jars.packages"] = options.packages
    if options.executor_cores:
        props["spark.executor.cores"] = str(options.executor_cores)
    if options.partitions:
        props["spark.sql.shuffle.partitions"] = str(options.partitions)
        props["spark.default.parallelism"] = str(options.partitions)
    if options.cassandra_username:
        props["spark.cassandra.auth.username"] = options.cassandra_username
        props["spark.cassandra.auth.password"] = options.cassandra_password
    props.update(extra_properties(options.extra))
    return props


def extra_properties(spec: str) -> dict[str, str]:
    """'a=1,b=2' -> {'a': '1', 'b': '2'} (SPARK_EXTRA_CONF)."""
    found = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = (x.strip() for x in part.partition("="))
        if not sep or not key.startswith("spark."):
            raise ValueError(f"bad SPARK_EXTRA_CONF entry {part!r}: want spark.some.key=value")
        found[key] = value
    return found


def master_address(master: str) -> list[tuple[str, int]]:
    """The (host, port) pairs of a standalone master URL (spark://h1:7077,h2:7077); []
    for local[*], yarn, k8s and the like, which need no check here."""
    if not master.startswith("spark://"):
        return []
    found = []
    for part in master[len("spark://"):].split(","):
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"bad SPARK_MASTER {master!r}: want spark://host:port")
        found.append((host, int(port)))
    return found


def check_master(master: str, timeout_s: float = MASTER_TIMEOUT_S) -> None:
    """Fail in seconds, not after Spark's three 20-second registration retries, when no
    standalone master answers."""
    addresses = master_address(master)
    for host, port in addresses:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return
        except OSError:
            continue
    if addresses:
        raise SparkUnavailable(f"the Spark master {master} (SPARK_MASTER) does not answer "
                               f"within {timeout_s:g}s")


def _loopback(master: str) -> bool:
    hosts = [host for host, _ in master_address(master)]
    return master.startswith("local") or (bool(hosts) and all(
        h in ("127.0.0.1", "localhost") for h in hosts))


def start_session(options: SparkOptions):
    """A SparkSession on `options`, with this package shipped to the executors."""
    check_master(options.master)
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise SparkUnavailable("TRAIN_ENGINE=spark needs PySpark: run from the Spark venv "
                               "(make ... TRAIN_ENGINE=spark installs it)") from error
    # PySpark's executors run the interpreter named here (spark.pyspark.python is not
    # read by a session built in-process): this one, unless the operator says otherwise.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in spark_properties(options).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    try:
        wait_for_executors(spark.sparkContext._jsc.sc().statusTracker(), options.master,
                           options.executor_wait_s)
    except SparkUnavailable:
        spark.stop()
        raise
    spark.sparkContext.addPyFile(_package_zip())
    return spark


def wait_for_executors(tracker, master: str, timeout_s: float,
                       clock=time.monotonic, sleep=time.sleep) -> None:
    """A standalone master accepts an application it cannot give an executor (no worker
    alive, or none with the cores and memory asked) and lets its jobs wait for ever:
    give up after `timeout_s`. `tracker`: the JVM SparkStatusTracker, which lists the
    driver among the executors. local[*] runs in the driver; YARN and Kubernetes start
    executors themselves and report their own failures."""
    if not master_address(master):
        return
    deadline = clock() + timeout_s
    while len(tracker.getExecutorInfos()) <= 1:
        if clock() >= deadline:
            raise SparkUnavailable(
                f"no executor from the Spark master {master} within {timeout_s:g}s "
                "(SPARK_EXECUTOR_WAIT_S): it has no worker alive, or none with the cores "
                "and memory asked (SPARK_EXECUTOR_MEMORY, SPARK_EXECUTOR_CORES)")
        sleep(0.5)


def _package_zip() -> str:
    """killrvideo_reco as a zip, so executors without the project installed import it."""
    package = Path(__file__).resolve().parents[1]
    target = Path(tempfile.mkdtemp(prefix="killrvideo-reco-spark-")) / "killrvideo_reco"
    return shutil.make_archive(str(target), "zip", root_dir=package.parent,
                               base_dir=package.name)
