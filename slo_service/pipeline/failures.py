"""How a job logs a failure it survives: a bug with its traceback, a store outage as one DEBUG line."""

from __future__ import annotations

import logging
import sys

from slo_service.core.ports import NotLeader, StoreUnavailable


def log_failure(logger: logging.Logger, message: str, *args: object, traceback: bool = True) -> None:
    """Log the exception being handled: at ERROR with its traceback (`traceback=False`: one WARNING line with
    the exception's message). A StoreUnavailable is one DEBUG line instead: the store logs its outage once,
    when it starts and when it ends, and every job that runs meanwhile would otherwise repeat it."""
    exc = sys.exc_info()[1]
    if isinstance(exc, NotLeader):  # fenced: once, until the leadership check steps this replica down
        logger.warning(f"{message}: %s", *args, exc)
    elif isinstance(exc, StoreUnavailable):
        logger.debug(f"{message}: %s", *args, exc)
    elif traceback:
        logger.error(message, *args, exc_info=True)
    else:
        logger.warning(f"{message}: %s", *args, exc)
