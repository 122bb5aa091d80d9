"""Job progress: a tqdm bar on a terminal, log lines elsewhere, a snapshot for job status."""
import io

from killrvideo_reco.jobs.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_lines_when_not_a_terminal():
    out = io.StringIO()
    progress = Progress("profiles", 4, item_name="users", stream=out)
    for _ in range(4):
        progress.advance(steps=1, items=10)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("profiles: 1/4 | 10 users")  # the first step is logged at once
    assert lines[-1].startswith("profiles: 4/4 | 40 users")
    assert "\r" not in out.getvalue()
    snap = progress.snapshot()
    assert (snap["done"], snap["total"], snap["items"], snap["etaSeconds"]) == (4, 4, 40, 0.0)


def test_bar_on_a_terminal():
    out = Terminal()
    progress = Progress("train", 3, item_name="rows", stream=out)
    progress.advance(steps=1, items=100)
    mid = progress.snapshot()
    assert mid["done"] == 1 and mid["etaSeconds"] is not None
    progress.advance(steps=2, items=200)
    text = out.getvalue()
    assert "train" in text and "3/3" in text and "300 rows" in text and "\r" in text
