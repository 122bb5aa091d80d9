"""Errors the stores raise, in the services' terms: nothing above store/ names a driver
exception class."""
from __future__ import annotations


class StoreUnavailable(Exception):
    """The database is busy or away (a timeout, no live replica, a dropped connection).
    The request may or may not have been applied; every write the stores issue is
    idempotent or conditional, so it is safe to retry. The API answers 503."""
