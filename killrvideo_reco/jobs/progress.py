"""Progress reporting for long jobs: a bar on a terminal, periodic log lines otherwise."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field


@dataclass
class Progress:
    label: str
    total: int
    done: int = 0
    items: int = 0  # e.g. users processed (the unit that rates are given in)
    item_name: str = "items"
    started: float = field(default_factory=time.monotonic)
    stream: object = field(default=sys.stderr)
    _last_print: float = 0.0

    def advance(self, steps: int = 0, items: int = 0) -> None:
        self.done += steps
        self.items += items
        now = time.monotonic()
        interactive = getattr(self.stream, "isatty", lambda: False)()
        if now - self._last_print >= (0.2 if interactive else 5.0) or self.done >= self.total:
            self._last_print = now
            self._print(interactive)

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

    def _print(self, interactive: bool) -> None:
        snap = self.snapshot()
        width = 30
        filled = int(width * snap["done"] / self.total) if self.total else width
        eta = "?" if snap["etaSeconds"] is None else f"{snap['etaSeconds']:.0f}s"
        line = (f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {snap['done']}/{self.total} "
                f"| {self.items} {self.item_name} | {snap['ratePerSecond']:.0f} {self.item_name}/s "
                f"| ETA {eta}")
        end = "\r" if interactive and self.done < self.total else "\n"
        print(line, end=end, file=self.stream, flush=True)
