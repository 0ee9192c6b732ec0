"""One small hierarchy of user-facing errors, each carrying its exit code and the fix."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ROWS_FAILED = 1
EXIT_USAGE = 2
EXIT_ABORTED = 3
EXIT_INTERRUPTED = 130


class BulkAssignError(Exception):
    """An error the user can act on. The message names the file or setting and the fix."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(BulkAssignError):
    """The input file cannot be used as it is (missing, empty, damaged, wrong columns)."""


class UsageError(BulkAssignError):
    """The command line or the run folder does not allow the requested action."""
