"""Running and timing child processes: every figure of the benchmark is one child's.

A CNI plugin is one process per call, so what a runtime pays is the whole process
(interpreter start, imports, netlink, IPAM exec), not a function. Wall time and CPU time
(user+sys) come from os.wait4 on the child, so they include the IPAM plugin the child ran
and waited for. Peak RSS comes from a short extra pass under GNU time (see measure() for why
not wait4's ru_maxrss). Every child in flight is tracked, so a teardown (Ctrl-C, SIGTERM)
can stop them before their namespaces are removed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

GNU_TIME = "/usr/bin/time"  # Debian's `time` package: peak RSS of a call alone (see measure())

T = TypeVar("T")
Call = tuple[list[str], bytes, dict[str, str]]  # argv, stdin, environment


class BenchError(RuntimeError):
    """A call the benchmark depends on failed: figures from a broken run would mislead."""


@dataclass(frozen=True)
class Sample:
    """One child process: wall and CPU time (os.wait4, so its waited-for children count too).

    maxrss_kib is set only for calls made with rss=True (see measure()).
    """

    wall: float  # seconds
    cpu: float  # seconds, user + sys
    maxrss_kib: int | None
    status: int
    stdout: bytes = b""
    stderr: bytes = b""

    def json(self) -> Any:
        """The CNI answer on stdout (result or error object), or None."""
        text = self.stdout.decode(errors="replace").strip()
        return json.loads(text) if text else None


class Children:
    """Every child in flight, so teardown can stop them before removing their namespaces."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping = False

    def spawn(
        self, argv: Sequence[str], stdin: Any, stdout: Any, stderr: Any, env: dict[str, str] | None
    ) -> subprocess.Popen[bytes]:
        with self._lock:
            if self.stopping:
                raise BenchError("interrupted")
            proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr, env=env)
            self._live[proc.pid] = proc
            return proc

    def reap(self, proc: subprocess.Popen[bytes]) -> tuple[int, resource.struct_rusage]:
        """wait4 instead of Popen.wait: it hands back this child's own rusage."""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        with self._lock:
            self._live.pop(proc.pid, None)
        return proc.returncode, usage

    def stop(self) -> None:
        with self._lock:
            self.stopping = True
            live = list(self._live.values())
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()


CHILDREN = Children()


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def measure(argv: Sequence[str], stdin: bytes = b"", env: dict[str, str] | None = None, rss: bool = False) -> Sample:
    """Run argv once; only fork/exec to exit is timed (stdin and output are files prepared before).

    Peak RSS needs rss=True, which runs the call under GNU time and takes its %M: our own
    wait4's ru_maxrss cannot be used, because the kernel carries the forking process's
    high-water mark across exec, so every child would show this interpreter's ~20 MB. The
    extra process skews the timing, so rss calls are a separate pass.
    """
    with contextlib.ExitStack() as stack:
        inp, out, err, peak = (stack.enter_context(tempfile.NamedTemporaryFile()) for _ in range(4))
        inp.write(stdin)
        inp.flush()
        inp.seek(0)
        if rss:
            argv = [GNU_TIME, "-f", "%M", "-o", peak.name, *argv]
        start = time.perf_counter()
        proc = CHILDREN.spawn(argv, inp, out, err, env)
        status, usage = CHILDREN.reap(proc)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        # GNU time writes "Command exited with non-zero status N" before the figure on failure.
        figures = Path(peak.name).read_text().split() if rss else []
        maxrss = int(figures[-1]) if figures and figures[-1].isdigit() else None
        return Sample(wall, _cpu(usage), maxrss, status, out.read(), err.read())


def concurrently(argvs: Sequence[Call]) -> tuple[float, list[Sample]]:
    """Start every call at once; the wall time is first start to last exit."""
    with contextlib.ExitStack() as stack:
        files = [[stack.enter_context(tempfile.TemporaryFile()) for _ in range(3)] for _ in argvs]
        for (_, stdin, _), (inp, _, _) in zip(argvs, files, strict=True):
            inp.write(stdin)
            inp.seek(0)
        start = time.perf_counter()
        procs = [
            CHILDREN.spawn(argv, inp, out, err, env)
            for (argv, _, env), (inp, out, err) in zip(argvs, files, strict=True)
        ]
        reaped = [CHILDREN.reap(proc) for proc in procs]
        wall = time.perf_counter() - start
        samples = []
        for (status, usage), (_, out, err) in zip(reaped, files, strict=True):
            out.seek(0)
            err.seek(0)
            samples.append(Sample(math.nan, _cpu(usage), None, status, out.read(), err.read()))
        return wall, samples


def parallel(action: Callable[[T], Any], items: Iterable[T], jobs: int) -> None:
    """Run action over items on `jobs` threads; the first failure cancels what has not started."""
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        for future in [pool.submit(action, item) for item in items]:
            future.result()
    except BaseException:
        CHILDREN.stop()  # the workers' children would otherwise run on after Ctrl-C or SIGTERM
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def sh(*argv: str, stdin: str | None = None) -> str:
    """A set-up command (not measured): its output, or BenchError with its stderr."""
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode:
        raise BenchError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout
