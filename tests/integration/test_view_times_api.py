"""watchedAt and trending through the public API on a real Cassandra: a view dated in the
future or at a zero-value time is refused (422, nothing written), so it cannot poison a
feed; trending counts distinct viewers a day."""
import asyncio
import uuid
from datetime import datetime, timezone

import numpy as np
import pytest

from killrvideo_reco.store.viewers import ViewerStore
from tests.integration.seeding import add_videos, auth, cluster_vectors, unit

pytestmark = pytest.mark.integration
FEED = "/api/v1/recommendations/foryou"


@pytest.fixture(scope="module")
def topics(cassandra):
    settings, session = cassandra
    rng = np.random.default_rng(7)
    astronomy, cooking = unit(rng.normal(size=384)), unit(rng.normal(size=384))
    return (add_videos(settings, session, cluster_vectors(rng, astronomy, 40),
                       [f"astronomy {i}" for i in range(40)]),
            add_videos(settings, session, cluster_vectors(rng, cooking, 40),
                       [f"cooking {i}" for i in range(40)]))


def view(api, settings, user, video, event, **extra):
    return api.post(f"/api/v1/videos/{video}/views", headers=auth(settings, user),
                    json={"eventId": event, "secondsWatched": 500, "durationS": 600, **extra})


@pytest.mark.parametrize("when, says", [("9999-12-31T23:59:59Z", "in the future"),
                                        ("0001-01-01T00:00:00Z", "unset time")])
def test_an_impossible_watched_at_is_422_and_writes_nothing(api, cassandra, topics, when, says):
    settings, _ = cassandra
    astronomy, _ = topics
    user = uuid.uuid4()
    response = view(api, settings, user, astronomy[0], "dated", watchedAt=when)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert says in response.json()["detail"]
    history = api.get("/api/v1/me/history", headers=auth(settings, user)).json()
    assert history["total"] == 0, "nothing was written"


def test_a_refused_future_view_cannot_poison_the_feed(api, cassandra, topics):
    settings, _ = cassandra
    astronomy, cooking = topics
    user = uuid.uuid4()
    assert view(api, settings, user, astronomy[0], "future",
                watchedAt="9999-12-31T23:59:59Z").status_code == 422
    for n in range(5):
        assert view(api, settings, user, cooking[n], f"cook-{n}").status_code == 200
    page = api.get(FEED, params={"pageSize": 6}, headers=auth(settings, user)).json()
    assert page["source"] == "personalized"
    titles = [item["title"] for item in page["items"]]
    assert all(t.startswith("cooking") for t in titles), titles


def test_a_view_from_an_older_import_is_accepted(api, cassandra, topics):
    settings, _ = cassandra
    astronomy, _ = topics
    response = view(api, settings, uuid.uuid4(), astronomy[1], "imported",
                    watchedAt="2003-05-01T10:00:00Z")
    assert response.status_code == 200 and response.json()["recorded"] is True


def test_one_account_replaying_a_video_counts_once_in_trending(api, cassandra, topics):
    settings, session = cassandra
    _, cooking = topics
    video, replayer = cooking[-1], uuid.uuid4()
    for n in range(40):
        assert view(api, settings, replayer, video, f"replay-{n}").status_code == 200
    assert view(api, settings, uuid.uuid4(), video, "someone else").status_code == 200
    today = datetime.now(timezone.utc).date()
    ks = settings.cassandra_keyspace
    counts = dict(asyncio.run(ViewerStore(session, ks).views_on(today)))
    assert counts[video] == 2, "two distinct viewers today"
    total = session.execute(f"SELECT views FROM {ks}.video_view_counts WHERE videoid=%s",
                            (video,)).one().views
    assert total == 41, "every view still counts in the total"
