"""Background jobs as plain data: the record every replica reads, and the lease that keeps
two replicas from running the same kind of job at once."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

JobStatus = Literal["running", "succeeded", "failed", "interrupted"]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Job:
    job_id: uuid.UUID
    kind: str
    status: JobStatus = "running"
    started_at: datetime = field(default_factory=utc_now)
    finished_at: datetime | None = None
    progress: dict = field(default_factory=dict)
    result: dict | None = None
    error: str | None = None
    owner: str = ""                       # host:pid of the process that runs (ran) it
    heartbeat_at: datetime | None = None  # last time its owner saved progress
    cursor: dict | None = None            # where a later job of this kind can resume
    resumed_from: uuid.UUID | None = None    # the interrupted job whose cursor it continues
    restarted_from: uuid.UUID | None = None  # an interrupted job it reruns from scratch


@dataclass(frozen=True)
class JobLease:
    """Who may run a kind of job now; the row expires unless its owner renews it."""
    kind: str
    job_id: uuid.UUID
    owner: str
