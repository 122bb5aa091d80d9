"""GET and DELETE /api/v1/me/history end to end on a real Cassandra."""
import uuid

import numpy as np
import pytest

from tests.integration.seeding import add_videos, auth, cluster_vectors, eventually, unit

pytestmark = pytest.mark.integration
HISTORY = "/api/v1/me/history"
FEED = "/api/v1/recommendations/foryou"


@pytest.fixture(scope="module")
def videos(cassandra):
    settings, session = cassandra
    rng = np.random.default_rng(11)
    return add_videos(settings, session, cluster_vectors(rng, unit(rng.normal(size=384)), 40),
                      [f"V{i}" for i in range(40)])


def watch(api, settings, viewer, video, event):
    response = api.post(f"/api/v1/videos/{video}/views", headers=auth(settings, viewer),
                        json={"eventId": event, "secondsWatched": 500, "durationS": 600})
    assert response.status_code == 200, response.text


def test_history_is_paged_most_recent_first(api, cassandra, videos):
    settings, _ = cassandra
    viewer = uuid.uuid4()
    for i, video in enumerate(videos[:5]):
        watch(api, settings, viewer, video, f"h-{i}")
    assert api.post(f"/api/v1/recommendations/hidden/{videos[5]}",
                    headers=auth(settings, viewer)).status_code == 200
    first = api.get(HISTORY, params={"pageSize": 4}, headers=auth(settings, viewer)).json()
    second = api.get(HISTORY, params={"page": 2, "pageSize": 4},
                     headers=auth(settings, viewer)).json()
    assert first["total"] == second["total"] == 6
    assert (first["page"], first["pageSize"], len(first["items"]), len(second["items"])) == (
        1, 4, 4, 2)
    items = first["items"] + second["items"]
    assert items[0]["videoId"] == str(videos[5]) and items[0]["playCount"] == 0
    assert items[0]["hiddenAt"].endswith("Z")
    assert [i["videoId"] for i in items[1:]] == [str(v) for v in reversed(videos[:5])]
    assert items[1]["title"] == "V4" and items[1]["playCount"] == 1
    other = api.get(HISTORY, headers=auth(settings, uuid.uuid4())).json()
    assert other["total"] == 0 and other["items"] == []


def test_forget_me_erases_per_viewer_rows_and_keeps_counts(api, cassandra, videos):
    settings, session = cassandra
    ks = settings.cassandra_keyspace
    viewer = uuid.uuid4()
    for i, video in enumerate(videos[10:16]):
        watch(api, settings, viewer, video, f"f-{i}")
    assert api.post(f"/api/v1/recommendations/hidden/{videos[20]}",
                    headers=auth(settings, viewer)).status_code == 200
    assert api.get(FEED, headers=auth(settings, viewer)).json()["source"] == "personalized"
    counts = session.execute(f"SELECT views FROM {ks}.video_view_counts WHERE videoid=%s",
                             (videos[10],)).one().views
    pages = f"SELECT videoids FROM {ks}.impression_pages WHERE userid=%s ALLOW FILTERING"
    reach = (f"SELECT videoid FROM {ks}.video_impressions_by_day WHERE userid=%s "
             "ALLOW FILTERING")
    assert eventually(lambda: list(session.execute(pages, (viewer,))))  # written behind
    assert len(list(session.execute(reach, (viewer,)))) >= 10

    response = api.delete(HISTORY, headers=auth(settings, viewer))
    assert response.status_code == 204 and response.content == b""
    # What the viewer was shown goes too: their pages and their rows in the reach table.
    assert not list(session.execute(pages, (viewer,)))
    assert not list(session.execute(reach, (viewer,)))

    assert api.get(HISTORY, headers=auth(settings, viewer)).json()["total"] == 0
    assert not list(session.execute(
        f"SELECT * FROM {ks}.viewer_history WHERE userid=%s", (viewer,)))
    assert session.execute(f"SELECT * FROM {ks}.user_preferences WHERE userid=%s",
                           (viewer,)).one() is None
    feed = api.get(FEED, params={"pageSize": 50}, headers=auth(settings, viewer)).json()
    assert feed["source"] in ("trending", "latest")
    # Watched and hidden videos are recommendable again: nothing remembers them.
    assert str(videos[10]) in {i["videoId"] for i in feed["items"]}
    assert session.execute(f"SELECT views FROM {ks}.video_view_counts WHERE videoid=%s",
                           (videos[10],)).one().views == counts

    # The viewer can start over: a new view builds history again.
    watch(api, settings, viewer, videos[30], "after-1")
    assert api.get(HISTORY, headers=auth(settings, viewer)).json()["total"] == 1


def test_forget_me_needs_a_token(api):
    response = api.delete(HISTORY)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
