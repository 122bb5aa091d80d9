"""The one list of driver errors that mean "Cassandra is busy or away", not "bad request",
and their translation into the services' StoreUnavailable. Nothing outside store/ names
driver exception classes."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionBusy

from killrvideo_reco.domain.errors import StoreUnavailable

# Safe to retry: the request may or may not have been applied, and every write we
# issue is idempotent or conditional.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationTimedOut, ReadTimeout, WriteTimeout, Unavailable, NoHostAvailable, ConnectionBusy)


def is_transient(error: BaseException) -> bool:
    return isinstance(error, (StoreUnavailable, *TRANSIENT_ERRORS))


def unavailable(error: BaseException) -> BaseException:
    """The error callers see: StoreUnavailable for a transient driver error (the driver's
    error kept as its cause), anything else unchanged."""
    if isinstance(error, TRANSIENT_ERRORS):
        translated = StoreUnavailable(f"{type(error).__name__}: {error}")
        translated.__cause__ = error
        return translated
    return error


@contextmanager
def translated() -> Iterator[None]:
    """Raise transient driver errors of the block as StoreUnavailable."""
    try:
        yield
    except TRANSIENT_ERRORS as error:
        raise unavailable(error) from error
