"""krafty.log: the lines a call writes to its stderr and its logFile, and nothing outside a call."""

from __future__ import annotations

import io
import os
import re
import time

from krafty.log import Log


def test_a_line_is_pid_level_and_the_message_with_its_arguments():
    stderr = io.StringIO()
    log = Log()
    log.start(stderr)
    log.info("ADD %s: %d%% done", "c0ffee", 50)
    log.warning("a %s left as written, with no arguments")
    log.error("DEL %s", "c0ffee")
    log.info("100% as written")
    log.error("%d as written")
    pid = os.getpid()
    assert stderr.getvalue() == (
        f"krafty[{pid}] INFO ADD c0ffee: 50% done\n"
        f"krafty[{pid}] WARNING a %s left as written, with no arguments\n"
        f"krafty[{pid}] ERROR DEL c0ffee\n"
        f"krafty[{pid}] INFO 100% as written\n"
        f"krafty[{pid}] ERROR %d as written\n"
    )


def test_an_exception_is_logged_with_its_traceback_as_one_entry():
    stderr = io.StringIO()
    log = Log()
    log.start(stderr)
    try:
        raise ValueError("broken on purpose")
    except ValueError:
        log.exception("internal error")
    text = stderr.getvalue()
    assert text.startswith(f"krafty[{os.getpid()}] ERROR internal error\nTraceback (most recent call last):\n")
    assert text.endswith("\nValueError: broken on purpose\n"), text


def test_a_log_file_gets_the_lines_with_the_local_time_until_the_call_ends(tmp_path):
    path = tmp_path / "krafty.log"
    log = Log()  # a fresh one: its first call
    log.start(io.StringIO())
    log.add_file(str(path))
    log.info("one")
    log.stop()
    log.start(io.StringIO())
    log.info("two")  # another call, without logFile
    log.stop()
    line = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} krafty\[\d+\] INFO one\n"
    assert re.fullmatch(line, path.read_text()), path.read_text()


def test_a_log_files_stamp_is_the_lines_local_time_to_the_millisecond(tmp_path, monkeypatch):
    """1700000000 s after the epoch is 2023-11-14 22:13:20 UTC; the fraction is cut, not rounded."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(time, "time", lambda: 1700000000.9995)
    path = tmp_path / "krafty.log"
    log = Log()
    log.start(io.StringIO())
    log.add_file(str(path))
    log.info("stamped")
    log.stop()
    monkeypatch.undo()
    time.tzset()
    assert path.read_text() == f"2023-11-14 22:13:20,999 krafty[{os.getpid()}] INFO stamped\n"


def test_outside_a_call_a_line_goes_nowhere_and_fails_nothing():
    Log().error("no call, no stderr")


def test_once_a_call_has_ended_its_lines_go_nowhere():
    stderr = io.StringIO()
    log = Log()
    log.start(stderr)
    log.stop()
    log.error("after the call")
    assert stderr.getvalue() == ""
