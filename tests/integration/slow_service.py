"""`python -m killrvideo_reco.cli serve`, with test-controlled slowness, for the tests that
run the service as separate processes. Every token range the profiles job scans takes
SLOW_TOKEN_RANGE_S more, and every read of one video SLOW_VIDEO_READ_S more, so that a
test can act while a job or a request is under way. Cassandra is still real."""
from __future__ import annotations

import asyncio
import os
import sys

from killrvideo_reco import cli
from killrvideo_reco.store.videos import VideoStore
from killrvideo_reco.store.viewers import ViewerStore


def _slowed(method, delay_s: float):
    async def slow(self, *args, **kwargs):
        await asyncio.sleep(delay_s)
        return await method(self, *args, **kwargs)
    return slow


def main() -> int:
    range_delay = float(os.environ.get("SLOW_TOKEN_RANGE_S", "0"))
    read_delay = float(os.environ.get("SLOW_VIDEO_READ_S", "0"))
    if range_delay:
        ViewerStore.users_in_token_range = _slowed(ViewerStore.users_in_token_range, range_delay)
    if read_delay:
        VideoStore.details = _slowed(VideoStore.details, read_delay)
    return cli.main(["serve"])  # serves in this process: the patches apply


if __name__ == "__main__":
    sys.exit(main())
