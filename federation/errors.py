"""One root error type for WhoElse. Each error carries a message an operator or practitioner can act on.

Servicers map these to gRPC status codes in one place (federation/status.py); the CLI prints them as one line.
"""

from __future__ import annotations


class WhoElseError(Exception):
    """Root of every error WhoElse raises on purpose."""


class InvalidInput(WhoElseError):
    """Input (a file, a request, a configuration) is malformed; the message names what and where."""


class NotFound(WhoElseError):
    """A named thing (record, council, account) does not exist."""


class PermissionDenied(WhoElseError):
    """The caller is authenticated but not allowed to do this."""


class Unauthenticated(WhoElseError):
    """The caller could not be authenticated."""


class Refused(WhoElseError):
    """A federated message was refused (bad signature, stale, replayed, wrong recipient, revoked origin)."""


class Unavailable(WhoElseError):
    """A peer or dependency did not answer."""


class StaleVersion(WhoElseError):
    """A change started from a version of a record that has since changed (a lost update, refused)."""


class AlreadyUsed(WhoElseError):
    """An identifier meant to be used once (a change id) was used before for something else."""


class ConfigError(WhoElseError):
    """Configuration failed validation; the message names the bad key."""
