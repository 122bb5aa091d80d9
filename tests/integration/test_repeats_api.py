"""No endless repeats on a real Cassandra: videos shown on FEED_IMPRESSION_LIMIT pages of
earlier sessions are dropped, while the pages of one session stay one list."""
import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from cassandra.util import uuid_from_time

from killrvideo_reco.domain.impressions import Impression, ShownItem
from killrvideo_reco.store.impressions import ImpressionStore
from tests.integration.seeding import add_videos, auth, cluster_vectors, set_profile, unit

pytestmark = pytest.mark.integration
FEED = "/api/v1/recommendations/foryou"


def ids(api, settings, user, **params):
    response = api.get(FEED, params=params, headers=auth(settings, user))
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "personalized"
    return [item["videoId"] for item in body["items"]]


def test_over_shown_videos_drop_and_pages_still_continue(api, cassandra):
    settings, session = cassandra
    rng = np.random.default_rng(11)
    direction = unit(rng.normal(size=384))
    add_videos(settings, session, cluster_vectors(rng, direction, 60),
               [f"repeat {i}" for i in range(60)])
    # `before` is the list as a viewer of the same taste, never shown anything, gets it:
    # the replica keeps a viewer's over-shown set for their browsing session, so the
    # viewer whose earlier sessions are written below must not have asked yet.
    user, twin = uuid.uuid4(), uuid.uuid4()
    for viewer in (user, twin):
        set_profile(settings, session, viewer, direction)
    before = ids(api, settings, twin, pageSize=15)
    # Three pages of an earlier session (hours ago) showed the top three, unwatched.
    store = ImpressionStore(session, settings.cassandra_keyspace)
    now = datetime.now(timezone.utc)
    for hours in (3.0, 2.5, 2.0):
        at = now - timedelta(hours=hours)
        asyncio.run(store.record(Impression(
            user, uuid_from_time(at), tuple(ShownItem(uuid.UUID(v), n + 1)
                                            for n, v in enumerate(before[:3])),
            "personalized", "default"), 3600, 0))
    # And one page showed the fourth: under the limit of 3, it stays.
    asyncio.run(store.record(Impression(user, uuid_from_time(now - timedelta(hours=2)),
                                        (ShownItem(uuid.UUID(before[3]), 1),),
                                        "personalized", "default"), 3600, 0))
    whole = ids(api, settings, user, pageSize=15)
    assert not set(before[:3]) & set(whole)
    # Under the limit it stays; shaping orders the rest, so not position for position.
    assert before[3] in whole and len(whole) == 15
    assert len(set(whole) & set(before[3:15])) >= 9
    pages = [v for page in (1, 2, 3) for v in ids(api, settings, user, page=page, pageSize=5)]
    assert pages == whole
