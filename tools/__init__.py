"""Developer tools: the local Cassandra nodes (tools.cassandra), `make fuzz`, `make lock`."""
