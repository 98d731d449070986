"""krafty's log: each line to the call's stderr, and to the config's logFile once it is known.

Not the `logging` module: importing it (with traceback, tokenize, threading, ...) costs about
as much as starting the interpreter, on every call, STATUS polls included, for a few lines.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any


class Log:
    """Lines as `krafty[<pid>] LEVEL message`; a logFile's lines start with the local time."""

    def __init__(self) -> None:
        self.stderr: IO[str] | None = None
        self.files: list[IO[str]] = []

    def start(self, stderr: IO[str]) -> None:
        """One call's log: its stderr, no file yet."""
        self.stderr = stderr

    def stop(self) -> None:
        """End the call's log: close its files, detach its stderr."""
        for file in self.files:
            file.close()
        self.files = []
        self.stderr = None

    def add_file(self, path: str) -> None:
        """Append to `path` too; a file that cannot be opened is said on the log, not fatal."""
        try:
            self.files.append(open(path, "a"))  # noqa: SIM115  # closed by stop()
        except OSError as err:
            self.warning("cannot open logFile %s: %s", path, err)

    def info(self, message: str, *args: Any) -> None:
        self._write("INFO", message % args if args else message)

    def warning(self, message: str, *args: Any) -> None:
        self._write("WARNING", message % args if args else message)

    def error(self, message: str, *args: Any) -> None:
        self._write("ERROR", message % args if args else message)

    def exception(self, message: str) -> None:
        """An error with the traceback of the exception being handled."""
        import traceback  # only on this path: an internal error

        self._write("ERROR", f"{message}\n{traceback.format_exc().rstrip()}")

    def _write(self, level: str, message: str) -> None:
        line = f"krafty[{os.getpid()}] {level} {message}\n"
        if self.stderr is not None:
            self.stderr.write(line)
            self.stderr.flush()
        if self.files:
            now = time.time()
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f",{int(now % 1 * 1000):03d} "
            for file in self.files:
                file.write(stamp + line)
                file.flush()


log = Log()
