"""Errors a user can cause. The CLI prints them as one line, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad config, missing column, unreachable server...).

    The message names the file/field/server at fault and what to do.
    """


class BackendError(UserError):
    """A backend kept failing after its retries (server down, bad model, ...)."""


class TransientError(Exception):
    """A failure worth retrying (429, 5xx, timeout, dropped connection).

    ``retry_after`` carries the server's Retry-After hint in seconds, when it sent one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after
