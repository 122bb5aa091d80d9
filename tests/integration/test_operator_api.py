"""The moderator endpoints behind the operator console, and the console's own pages, on
a real Cassandra: a viewer's feed with its ranking features, interests and history; the
training runs and jobs; the related-videos `pageSize` alias; DEV_MODE demo tokens."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from fastapi.testclient import TestClient

from killrvideo_reco.api.app import create_app
from killrvideo_reco.bootstrap import build_resources
from killrvideo_reco.embeddings.factory import build_provider
from killrvideo_reco.jobs.demo import viewer_id
from tests.integration.seeding import auth, wait_for_job

pytestmark = pytest.mark.integration
ADMIN = "/api/v1/admin"
TOPICS = {"db": "Cassandra partition keys compaction and data modeling for tables",
          "space": "Telescopes galaxies nebulae and black holes in deep space"}


@pytest.fixture(scope="module")
def world(cassandra, api):
    """16 videos over two topics, 20 viewers who each watch within one, trained through
    the training job's endpoint; returns (settings, moderator headers, ids, a db viewer)."""
    settings, _ = cassandra
    resources = build_resources(settings, build_provider(settings))

    async def seed():
        ids = {t: [(await resources.catalogue.add_video(
            uuid.uuid4(), f"{text} episode {n}", text, [t], None, None, 600, None)).video_id
            for n in range(8)] for t, text in TOPICS.items()}
        viewers = {t: [uuid.uuid4() for _ in range(10)] for t in TOPICS}
        for t, users in viewers.items():
            for k, user in enumerate(users):
                for n in range(5):
                    video = ids[t][(k + n) % 8]
                    await resources.activity.record_view(user, video, f"{user}-{n}", 580, 600)
        return ids, viewers

    try:
        ids, viewers = asyncio.run(seed())
    finally:
        resources.close()
    moderator = auth(settings, uuid.uuid4(), roles=("moderator",))
    started = api.post(f"{ADMIN}/jobs/train", headers=moderator)
    assert started.status_code == 202, started.text
    job = wait_for_job(api, started.json()["jobId"], moderator, 120, 0.3)
    assert job["status"] == "succeeded", job
    return settings, moderator, ids, viewers["db"][0]


@pytest.mark.parametrize("path", ["viewers/{user}/foryou", "viewers/{user}/history",
                                  "viewers/{user}/interests", "runs", "jobs"])
def test_operator_endpoints_are_for_moderators_only(api, world, path):
    settings, _, _, user = world
    url = f"{ADMIN}/{path.format(user=user)}"
    assert api.get(url).status_code == 401
    refused = api.get(url, headers=auth(settings, user))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "moderator" in refused.json()["detail"]


def test_a_viewers_feed_comes_with_its_ranking_features(api, world):
    settings, moderator, ids, user = world
    as_operator = api.get(f"{ADMIN}/viewers/{user}/foryou", params={"pageSize": 5},
                          headers=moderator).json()
    as_viewer = api.get("/api/v1/recommendations/foryou", params={"pageSize": 5},
                        headers=auth(settings, user)).json()
    assert as_operator["source"] == as_viewer["source"] == "personalized"
    assert [i["videoId"] for i in as_operator["items"]] == \
        [i["videoId"] for i in as_viewer["items"]], "the feed as the viewer gets it"
    for item in as_operator["items"]:
        ranking = item["ranking"]
        assert set(ranking) == {"behaviour", "content", "popularity", "justWatched", "sources", "score"}
        assert ranking["sources"] and -1.0 <= ranking["content"] <= 1.0
        assert "ranking" not in next(i for i in as_viewer["items"]
                                     if i["videoId"] == item["videoId"])


def test_a_viewers_history_and_interests(api, world):
    _, moderator, ids, user = world
    history = api.get(f"{ADMIN}/viewers/{user}/history", headers=moderator).json()
    assert history["total"] == 5
    assert {uuid.UUID(i["videoId"]) for i in history["items"]} <= set(ids["db"])
    interests = api.get(f"{ADMIN}/viewers/{user}/interests", headers=moderator).json()
    assert interests["items"], "five watches in one topic make at least one interest"
    assert all(uuid.UUID(i["videoId"]) in ids["db"] and i["title"] for i in interests["items"])
    stranger = api.get(f"{ADMIN}/viewers/{uuid.uuid4()}/interests", headers=moderator).json()
    assert stranger["items"] == []
    bad = api.get(f"{ADMIN}/viewers/not-a-uuid/foryou", headers=moderator)
    assert bad.status_code == 422 and "userId" in bad.text


def test_runs_and_jobs_say_what_trained_and_what_is_live(api, world):
    _, moderator, _, _ = world
    runs = api.get(f"{ADMIN}/runs", headers=moderator).json()
    live = [r for r in runs["items"] if r["live"]]
    assert len(live) == 1 and live[0]["runId"] == runs["liveRunId"]
    assert live[0]["status"] == "active" and live[0]["engine"] == "local"
    assert live[0]["model"] and live[0]["positives"] == 100
    assert 0.0 <= live[0]["ndcgAt10"] <= 1.0
    assert set(live[0]["ranker"]) == {"behaviour", "content", "popularity", "just_watched"}
    assert api.get(f"{ADMIN}/runs", params={"limit": 0}, headers=moderator).status_code == 422
    jobs = api.get(f"{ADMIN}/jobs", headers=moderator).json()["items"]
    train = next(j for j in jobs if j["kind"] == "train")
    assert train["status"] == "succeeded" and train["result"]["runId"] == runs["liveRunId"]


def test_related_videos_take_page_size_as_well_as_limit(api, world):
    _, _, ids, _ = world
    url = f"/api/v1/videos/{ids['db'][0]}/related"
    assert len(api.get(url, params={"limit": 3}).json()["items"]) == 3
    assert len(api.get(url, params={"pageSize": 2}).json()["items"]) == 2
    assert len(api.get(url, params={"limit": 5, "pageSize": 4}).json()["items"]) == 4
    bad = api.get(url, params={"pageSize": 51})
    assert bad.status_code == 422 and "pageSize" in bad.text


def test_console_pages_and_dev_mode_demo_tokens(api, cassandra):
    settings, _ = cassandra
    for page in ("", "/viewer", "/video", "/runs", "/jobs", "/experiments",
                 "/health"):
        answer = api.get(f"/console{page}")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
        assert "/console/static/core.js" in answer.text and "/console/static/pages.js" in answer.text
    assert api.get("/console/static/console.css").status_code == 200
    missing = api.get("/console/nope")
    assert missing.status_code == 404 and "viewer" in missing.json()["detail"]
    minted = api.post("/console/dev/token", json={"account": "dana"}).json()
    assert minted["userId"] == str(viewer_id("dana")) and minted["role"] == "viewer"
    feed = api.get("/api/v1/recommendations/foryou",
                   headers={"Authorization": f"Bearer {minted['token']}"})
    assert feed.status_code == 200, "a demo token passes the API's own auth"
    assert api.post("/console/dev/token", json={"account": "root"}).status_code == 422
    production = settings.model_copy(update={"dev_mode": False, "jwt_secret": "x" * 40})
    with TestClient(create_app(production), raise_server_exceptions=False) as client:
        refused = client.post("/console/dev/token", json={"account": "operator"})
        assert refused.status_code == 404 and "DEV_MODE" in refused.json()["detail"]
        assert "demo-account" not in client.get("/console").text
