"""Experiments end to end on a real Cassandra: bad input refused naming the field, sticky
assignment across two service processes (two apps on one keyspace), results with the
sample-ratio-mismatch check catching a deliberately skewed assignment."""
import time
import uuid

import numpy as np
import pytest
from fastapi.testclient import TestClient

from killrvideo_reco.api.app import create_app
from killrvideo_reco.domain.experiments import variant_index
from tests.integration.seeding import add_videos, auth, cluster_vectors, unit

pytestmark = pytest.mark.integration
URL = "/api/v1/admin/experiments"
FEED = "/api/v1/recommendations/foryou"


@pytest.fixture(scope="module")
def videos(cassandra):
    settings, session = cassandra
    rng = np.random.default_rng(5)
    return add_videos(settings, session, cluster_vectors(rng, unit(rng.normal(size=384)), 30),
                      [f"exp {i}" for i in range(30)])


@pytest.fixture
def moderator(cassandra):
    settings, _ = cassandra
    return auth(settings, uuid.uuid4(), roles=("moderator",))


def experiment(api, moderator, *variants, name="test"):
    return api.post(URL, headers=moderator, json={"name": name, "variants": [
        {"name": n, "percent": p, "overrides": o} for n, p, o in variants]})


def started(api, moderator, *variants):
    created = experiment(api, moderator, *variants)
    assert created.status_code == 201, created.text
    experiment_id = created.json()["experimentId"]
    response = api.post(f"{URL}/{experiment_id}/start", headers=moderator)
    assert response.status_code == 200 and response.json()["status"] == "running"
    return experiment_id


def stop(api, moderator, experiment_id):
    assert api.post(f"{URL}/{experiment_id}/stop", headers=moderator).status_code == 200


def fields(response) -> set[str]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["field"] for e in response.json()["errors"]}


def wait_for_rows(session, keyspace, user, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = list(session.execute(f"SELECT variant FROM {keyspace}.impression_pages WHERE "
                                    "userid = %s ALLOW FILTERING", (user,)))
        if rows:
            return rows
        time.sleep(0.1)
    return []


def test_bad_experiments_are_refused_naming_the_field(api, moderator):
    control = ("control", 50, {})
    unknown = experiment(api, moderator, control, ("b", 50, {"feedBogus": 1}))
    assert unknown.status_code == 422 and "body.variants.1.overrides.feedBogus" in fields(unknown)
    split = experiment(api, moderator, control, ("b", 60, {}))
    assert split.status_code == 422 and "body.variants" in fields(split)
    assert "sum to 110" in split.json()["detail"]
    run = experiment(api, moderator, control, ("b", 50, {"trainingRun": "no-such-run"}))
    assert run.status_code == 422 and "body.variants.1.overrides.trainingRun" in fields(run)
    value = experiment(api, moderator, control, ("b", 50, {"feedCreatorCap": "many"}))
    assert value.status_code == 422 and "body.variants.1.overrides.feedCreatorCap" in fields(value)
    first = started(api, moderator, control, ("b", 50, {"feedDiversityLambda": 0.9}))
    try:
        second = experiment(api, moderator, control, ("c", 50, {"feedDiversityLambda": 0.1}))
        refused = api.post(f"{URL}/{second.json()['experimentId']}/start", headers=moderator)
        assert refused.status_code == 409
        assert "variants.overrides.feedDiversityLambda" in fields(refused)
    finally:
        stop(api, moderator, first)
    assert api.get(f"{URL}/{uuid.uuid4()}", headers=moderator).status_code == 404
    assert api.post(f"{URL}/{first}/stop", headers=moderator).status_code == 409


def test_assignment_is_sticky_across_two_processes(api, cassandra, videos, moderator):
    settings, session = cassandra
    experiment_id = started(api, moderator, ("control", 50, {}),
                            ("popular", 50, {"popularity": True}))
    try:
        salt = session.execute(f"SELECT salt FROM {settings.cassandra_keyspace}.experiments "
                               "WHERE scope = 'all' AND experiment_id = %s",
                               (uuid.UUID(experiment_id),)).one().salt
        users = [uuid.uuid4() for _ in range(12)]
        with TestClient(create_app(settings), raise_server_exceptions=False) as other:
            for user in users:
                for client in (api, other):
                    assert client.get(FEED, params={"pageSize": 3},
                                      headers=auth(settings, user)).status_code == 200
        for user in users:
            rows = wait_for_rows(session, settings.cassandra_keyspace, user)
            expected = ("control", "popular")[variant_index(salt, user, [50, 50])]
            assert rows and {r.variant for r in rows} == {expected}, user
    finally:
        stop(api, moderator, experiment_id)


def test_results_detect_a_skewed_assignment(api, cassandra, videos, moderator):
    settings, session = cassandra
    experiment_id = started(api, moderator, ("a", 50, {}), ("b", 50, {"feedCreatorCap": 5}))
    try:
        salt = session.execute(f"SELECT salt FROM {settings.cassandra_keyspace}.experiments "
                               "WHERE scope = 'all' AND experiment_id = %s",
                               (uuid.UUID(experiment_id),)).one().salt
        # Deliberately skewed: only viewers that hash to "a" are served.
        skewed = [u for u in (uuid.uuid4() for _ in range(200))
                  if variant_index(salt, u, [50, 50]) == 0][:30]
        for user in skewed:
            page = api.get(FEED, params={"pageSize": 3}, headers=auth(settings, user)).json()
        # Impressions are written in the background: a click sent before its page's rows
        # exist is not attributed (a real viewer clicks seconds later).
        assert wait_for_rows(session, settings.cassandra_keyspace, skewed[-1])
        clicked = api.post(f"/api/v1/videos/{page['items'][0]['videoId']}/views",
                           headers=auth(settings, skewed[-1]),
                           json={"eventId": "x", "secondsWatched": 30.0,
                                 "recommendationId": page["recommendationId"]})
        assert clicked.json()["recommendationId"] == page["recommendationId"]
        deadline = time.monotonic() + 15
        while True:
            body = api.get(f"{URL}/{experiment_id}/results", headers=moderator).json()
            a = body["variants"][0]
            if (a["viewers"] == 30 and a["attributedViews"] == 1 and a["requests"] == 30) \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert (a["viewers"], a["attributedViews"], a["requests"]) == (30, 1, 30)
        assert body["variants"][1]["viewers"] == 0
        assert body["sampleRatioMismatch"] is True and body["srmPValue"] < 0.001
        assert body["warnings"], "30 viewers is below the minimum sample"
        assert a["errorRate"] == 0.0 and a["p99Ms"] is not None
    finally:
        stop(api, moderator, experiment_id)
