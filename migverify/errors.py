"""One exception family: each error carries its exit code and a one-line message for the user."""

from __future__ import annotations


class MigverifyError(Exception):
    """Base error. The CLI prints `str(error)` on one line and exits with `exit_code`."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # Any line break, not only "\n": a file named "a\rb" must not split the line either.
        super().__init__(
            " ".join(message.split()) if message.splitlines() != [message] else message
        )


class InputError(MigverifyError):
    """Bad input from the user: a missing file, unparseable SQL, a broken config, an unknown table."""


class SQLFileError(InputError):
    """An SQL script failed to parse or execute; the message starts with `FILE:LINE:`.
    SQLSTATE: the server's error code, when the server raised it."""

    def __init__(
        self, path: str, line: int | None, message: str, sqlstate: str | None = None
    ) -> None:
        self.path = path
        self.line = line
        self.detail = message
        self.sqlstate = sqlstate
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


class InternalError(MigverifyError):
    """A bug in migverify, found by migverify itself: SQL it generated does not parse, or does not
    run where it must (a scratch database holding the spec's own schemas). The CLI prints it as
    an internal error with exit code 3."""

    exit_code = 3

    def __init__(self, message: str) -> None:
        super().__init__(
            f"{message} (this is a bug in migverify: please report it with the spec and schema "
            "that produced it; --debug shows the traceback)"
        )


class ServerError(MigverifyError):
    """PostgreSQL could not be started or reached."""
