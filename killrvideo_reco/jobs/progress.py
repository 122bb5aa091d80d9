"""Progress reporting for long jobs: a tqdm bar on a terminal, periodic log lines otherwise
(files, CI logs, the HTTP job registry's buffer), and a snapshot for job status."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from tqdm import tqdm

LOG_EVERY_S = 5.0  # when the output is not a terminal


@dataclass
class Progress:
    label: str
    total: int
    done: int = 0
    items: int = 0  # e.g. users processed (the unit that rates are given in)
    item_name: str = "items"
    started: float = field(default_factory=time.monotonic)
    stream: TextIO = field(default=sys.stderr)
    # Where a job stopped here could resume (JSON-able; None: the job cannot resume).
    cursor: dict | None = None
    _last_print: float = 0.0
    _bar: tqdm | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if getattr(self.stream, "isatty", lambda: False)():
            self._bar = tqdm(total=self.total, initial=self.done, desc=self.label,
                             file=self.stream, unit="step", dynamic_ncols=True)

    def advance(self, steps: int = 0, items: int = 0) -> None:
        self.done += steps
        self.items += items
        finished = self.done >= self.total
        if self._bar is not None:
            self._bar.set_postfix_str(f"{self.items} {self.item_name}, "
                                      f"{self.rate:.0f} {self.item_name}/s", refresh=False)
            self._bar.update(steps)
            if finished:
                self._bar.close()
            return
        now = time.monotonic()
        if now - self._last_print >= LOG_EVERY_S or finished:
            self._last_print = now
            self._log_line()

    @property
    def rate(self) -> float:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return self.items / elapsed

    def snapshot(self) -> dict:
        elapsed = time.monotonic() - self.started
        fraction = self.done / self.total if self.total else 1.0
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        return {"done": self.done, "total": self.total, "items": self.items,
                "itemName": self.item_name, "ratePerSecond": round(self.rate, 1),
                "elapsedSeconds": round(elapsed, 1),
                "etaSeconds": None if eta is None else round(eta, 1)}

    def _log_line(self) -> None:
        snap: dict[str, Any] = self.snapshot()
        eta = "?" if snap["etaSeconds"] is None else f"{snap['etaSeconds']:.0f}s"
        print(f"{self.label}: {snap['done']}/{self.total} | {self.items} {self.item_name} | "
              f"{snap['ratePerSecond']:.0f} {self.item_name}/s | ETA {eta}",
              file=self.stream, flush=True)
