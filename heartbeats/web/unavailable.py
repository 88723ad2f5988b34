"""One answer for "the database does not answer", whichever endpoint was asked."""

from __future__ import annotations

import logging
from typing import TypeVar

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from heartbeats.redaction import first_line

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30

Response = TypeVar("Response", bound=HttpResponse)


def database_unavailable(request: HttpRequest, exc: DatabaseError, response: Response) -> Response:
    """503 with Retry-After, so a client, scraper or uptime probe retries later instead of
    seeing a 500; the caller picks the body its clients parse. Logged in one redacted line."""
    logger.warning("%s: database unavailable: %s", request.path, first_line(exc))
    response.status_code = 503
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
