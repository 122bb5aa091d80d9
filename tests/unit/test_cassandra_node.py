"""tools/cassandra without Cassandra: the config and Java command of the development node
and of a cluster node, ports from CASSANDRA_PORT, and the script entry point."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tools.cassandra import cluster
from tools.cassandra.node import dev_node
from tools.cassandra.process import JDK17_FLAGS, REPO, Node, render_yaml


def _dev(tmp_path: Path, **env) -> Node:
    return dev_node({"CASSANDRA_HOME_DIR": str(tmp_path / "dev"), **env})


def test_dev_node_ports_follow_cassandra_port(tmp_path):
    default = _dev(tmp_path)
    assert (default.native_port, default.storage_port, default.jmx_port) == (9042, 7000, 7199)
    moved = _dev(tmp_path, CASSANDRA_PORT="9142", CASSANDRA_HEAP_MAX="1g")
    assert (moved.native_port, moved.storage_port, moved.jmx_port) == (9142, 7100, 7299)
    assert moved.home == (tmp_path / "dev").resolve()
    assert moved.lib == moved.home / "lib"
    assert moved.heap_max == "1g"


def test_dev_node_config(tmp_path):
    node = _dev(tmp_path, CASSANDRA_PORT="9142")
    path = node.write_config()
    text = path.read_text()
    assert not re.search(r"@[A-Z_]+@", text)  # every placeholder filled
    config = yaml.safe_load(text)
    assert path == node.home / "conf" / "cassandra.yaml"
    assert config["cluster_name"] == "killrvideo-reco-dev"
    assert config["listen_address"] == config["rpc_address"] == "127.0.0.1"
    assert config["native_transport_port"] == 9142
    assert config["storage_port"] == 7100
    assert config["seed_provider"][0]["parameters"][0]["seeds"] == "127.0.0.1"
    assert config["endpoint_snitch"] == "SimpleSnitch"
    assert config["initial_token"] == 0
    data = node.home / "data"
    assert config["data_file_directories"] == [f"{data}/data"]
    assert config["commitlog_directory"] == f"{data}/commitlog"
    assert config["hints_directory"] == f"{data}/hints"
    for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw"):
        assert (data / sub).is_dir()
    assert (node.home / "conf" / "logback.xml").is_file()
    assert (node.home / "logs").is_dir()
    assert not (node.home / "conf" / "cassandra-rackdc.properties").exists()


def test_cluster_node_config(tmp_path):
    node = cluster.cluster_node(2, home=tmp_path / "cluster",
                                env={"CASSANDRA_HOME_DIR": str(tmp_path / "dev")})
    assert node.home == tmp_path / "cluster" / "node2"
    assert node.lib == (tmp_path / "dev" / "lib").resolve()  # the dev node's jars
    text = node.write_config().read_text()
    config = yaml.safe_load(text)
    assert config["cluster_name"] == "killrvideo-reco-cluster"
    assert config["listen_address"] == config["rpc_address"] == "127.0.0.2"
    assert config["native_transport_port"] == 19042
    assert config["storage_port"] == 17000
    assert config["seed_provider"][0]["parameters"][0]["seeds"] == "127.0.0.1:17000"
    assert config["initial_token"] == cluster.token(2) == -(2 ** 63) + 2 ** 64 // 3
    assert config["endpoint_snitch"] == "GossipingPropertyFileSnitch"
    assert config["dynamic_snitch"] is True
    assert config["auto_bootstrap"] is False
    assert config["phi_convict_threshold"] == 5
    assert config["read_request_timeout"] == config["range_request_timeout"] == "2000ms"
    assert config["write_request_timeout"] == "5000ms"  # untouched
    assert config["request_timeout"] == "10000ms"       # not mistaken for read_request_timeout
    assert config["data_file_directories"] == [f"{node.home}/data/data"]
    # Every top-level key once: yaml.safe_load would hide a duplicate (the last one wins).
    keys = [line.split(":")[0] for line in text.splitlines() if line[:1].isalpha()]
    assert len(keys) == len(set(keys))
    rackdc = (node.home / "conf" / "cassandra-rackdc.properties").read_text()
    assert "dc=datacenter1" in rackdc.splitlines()


def test_cluster_nodes_share_ports_but_not_addresses_jmx_or_tokens(tmp_path):
    nodes = [cluster.cluster_node(n, home=tmp_path) for n in (1, 2, 3)]
    assert [n.host for n in nodes] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert {n.native_port for n in nodes} == {19042}
    assert [n.jmx_port for n in nodes] == [17101, 17102, 17103]
    tokens = [cluster.token(n) for n in (1, 2, 3)]
    assert tokens == sorted(tokens) and tokens[0] == -(2 ** 63) and tokens[-1] < 2 ** 63
    # Beside the dev node (9042/7000/7199 on 127.0.0.1): no port in common.
    dev = _dev(tmp_path)
    cluster_ports = {p for n in nodes for p in (n.native_port, n.storage_port, n.jmx_port)}
    assert not cluster_ports & {dev.native_port, dev.storage_port, dev.jmx_port}


def test_java_command_of_the_dev_node(tmp_path):
    node = _dev(tmp_path, CASSANDRA_PORT="9142", CASSANDRA_HEAP_MAX="1g")
    yaml_path = node.write_config()
    command = node.java_command(yaml_path)
    start = command.index(JDK17_FLAGS[0])
    assert command[start:start + len(JDK17_FLAGS)] == JDK17_FLAGS
    assert "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED" in command
    assert "-Djava.net.preferIPv4Stack=true" in command
    assert f"-Dcassandra.config=file://{yaml_path}" in command
    assert "-Dcassandra.jmx.local.port=7299" in command
    assert "-Xms512m" in command and "-Xmx1g" in command
    assert command[-3:] == ["-cp", f"{node.lib}/*", "org.apache.cassandra.service.CassandraDaemon"]
    assert not any("rackdc" in arg for arg in command)


def test_java_command_of_a_cluster_node(tmp_path):
    node = cluster.cluster_node(3, home=tmp_path, env={"CASSANDRA_CLUSTER_HEAP_MAX": "640m"})
    command = node.java_command(node.conf / "cassandra.yaml")
    assert {"-Xms640m", "-Xmx640m", "-Xmn128m", "-XX:ActiveProcessorCount=2",
            "-Dcassandra.ring_delay_ms=3000", "-Dcassandra.jmx.local.port=17103"} <= set(command)
    assert set(JDK17_FLAGS) <= set(command)
    assert (f"-Dcassandra-rackdc.properties=file://{node.conf / 'cassandra-rackdc.properties'}"
            in command)


def test_render_yaml_replaces_top_level_keys_and_appends_missing_ones():
    text = "a: 1\nread_a: 2\nnested:\n  a: 3\n"
    assert render_yaml(text, {"a": "9", "b": "x"}) == "a: 9\nread_a: 2\nnested:\n  a: 3\nb: x\n"


def test_no_process_means_no_pid_and_nothing_to_kill(tmp_path):
    node = _dev(tmp_path, CASSANDRA_PORT="1")  # nothing listens on port 1
    node.home.mkdir(parents=True)
    node.pid_file.write_text("not a pid")
    assert node.pid is None
    node.pid_file.write_text(str(os.getpid()))  # alive, but not a CassandraDaemon
    assert node.pid is None
    assert node.kill() == 1
    assert node.stop() == 0 and not node.pid_file.exists()  # the stale pid file goes


def test_scripts_run_with_the_standard_library_alone(tmp_path):
    """`make cassandra-status` runs node.py as a script with the system python."""
    env = {"PATH": os.environ["PATH"], "CASSANDRA_HOME_DIR": str(tmp_path),
           "CASSANDRA_PORT": "1"}
    result = subprocess.run([sys.executable, "-S", "tools/cassandra/node.py", "status"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 3, result.stderr
    assert "pid=- cql=down on 127.0.0.1:1" in result.stdout
    usage = subprocess.run([sys.executable, "-S", "tools/cassandra/cluster.py"], cwd=REPO,
                           env=env, capture_output=True, text=True, timeout=60, check=False)
    assert usage.returncode == 2 and "cluster.py up|down|status" in usage.stdout


def test_settled_once_every_node_sees_every_node_up_on_one_schema(monkeypatch):
    up = {cluster.host(n): cluster.PeerState(n, "NORMAL", "true", "s1") for n in (1, 2, 3)}
    behind = {**up, "127.0.0.3": up["127.0.0.3"]._replace(schema="s0")}
    assert cluster.agreed({h: dict(up) for h in up})
    assert not cluster.agreed({**{h: dict(up) for h in up}, "127.0.0.3": None})
    assert not cluster.agreed({h: dict(behind) for h in up})
    views = iter([{h: None for h in up}, {h: dict(up) for h in up}])
    monkeypatch.setattr(cluster, "gossip_views", lambda: next(views))
    monkeypatch.setattr(cluster.time, "sleep", lambda _: None)
    assert cluster.settled(timeout=60)
