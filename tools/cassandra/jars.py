"""The Cassandra server jars, shared by every local node: resolved once with Maven from
Maven Central (`cassandra-all` and its dependencies, pom.xml) into the development node's
lib/ directory (default .cassandra/lib; a `.complete` marker holds the version).
Standard library only."""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

POM = Path(__file__).resolve().parent / "pom.xml"


def jar_version(lib: Path) -> str:
    jars = sorted(lib.glob("cassandra-all-*.jar"))
    return jars[-1].name[len("cassandra-all-"):-len(".jar")] if jars else "?"


def resolve_jars(lib: Path, log: Callable[[str], None] = print) -> None:
    """cassandra-all and its dependencies, once, with Maven into `lib` (CASSANDRA_VERSION
    picks the release; default: the newest 5.0.x of pom.xml)."""
    marker = lib / ".complete"
    if marker.exists():
        return
    if shutil.which("mvn") is None:
        raise SystemExit("mvn not found: Maven is needed once to fetch the Cassandra jars")
    log("resolving cassandra-all and its dependencies with Maven (first start only)...")
    lib.parent.mkdir(parents=True, exist_ok=True)
    staging = lib.parent / (lib.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    cmd = ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
           f"-DoutputDirectory={staging}"]
    if os.environ.get("CASSANDRA_VERSION"):
        cmd.append(f"-Dcassandra.version={os.environ['CASSANDRA_VERSION']}")
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"Maven could not resolve Cassandra:\n{result.stdout}\n{result.stderr}")
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)
    marker.write_text(jar_version(lib) + "\n")
    log(f"resolved cassandra-all {jar_version(lib)} ({len(list(lib.glob('*.jar')))} jars)")
