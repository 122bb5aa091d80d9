"""Wire formats that the contract promises, independent of the database."""
import uuid
from datetime import datetime, timedelta, timezone

from killrvideo_reco.api.schemas import VideoSummaryOut


def summary(added):
    return VideoSummaryOut(video_id=uuid.uuid4(), title="t", thumbnail_url=None,
                           description=None, tags=[], added_date=added, user_id=None)


def test_times_are_utc_with_z_even_when_naive_or_offset():
    naive = datetime(2026, 11, 22, 22, 12, 48, 49000)
    assert summary(naive).model_dump(mode="json", by_alias=True)["addedDate"] == \
        "2026-11-22T22:12:48.049000Z"
    paris = datetime(2025, 10, 15, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    assert summary(paris).model_dump(mode="json", by_alias=True)["addedDate"] == \
        "2025-10-15T09:00:00Z"
    assert summary(None).model_dump(mode="json", by_alias=True)["addedDate"] is None
