"""Local Cassandra 5.0 for development and tests, from Maven Central's jars, no Docker.

One `Node` class (process.py) holds what one Cassandra process needs (directories,
address, ports, seeds, heap, cassandra.yaml overrides; config, Java command, start,
stop, kill). The development node (node.py, `make cassandra-up`) is one instance; the
local three-node cluster (cluster.py, `make cluster-up`) is three. The jars are
resolved once with Maven into .cassandra/lib (jars.py) and shared by all of them.

Why not ccm (Cassandra Cluster Manager): its last PyPI release is from 2019, and it
downloads Cassandra's binary tarball from a site this machine cannot reach; the
`cassandra-all` jars and their dependencies come from Maven Central instead, which
Maven can reach here. The cluster keeps ccm's layout (a directory per node, 127.0.0.N).

Standard library only: `make cassandra-down` and `make cluster-down` run the scripts
with the system python, without the virtualenv.
"""
