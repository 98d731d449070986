"""`cni_kill_at`: SIGKILL a plugin's ADD the moment a milestone holds, and prove it.

A kill test that never killed anything passes whatever the plugin does. So the kill must
happen with the milestone observed and the plugin still running, and the process must be
seen to die of SIGKILL; otherwise the test fails and says which of the two did not happen.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

from krafty.testing.netns import Netns
from krafty.testing.runtime import Attachment, Runtime, as_list, new_container_id, plugin_config

Milestone = Callable[[], bool]


def kill_at(
    runtime: Runtime,
    config: Mapping[str, Any],
    netns: Netns | str,
    milestone: Milestone,
    *,
    container_id: str | None = None,
    ifname: str = "eth0",
    group: bool = True,
    poll: float = 0.005,
    timeout: float | None = None,
) -> Attachment:
    """Start the first plugin's ADD, SIGKILL it once `milestone()` is true, return the
    attachment for the DEL a runtime would send next.

    `group=True` kills the plugin's whole process group (IPAM children included), as a
    runtime that kills a cgroup would; `group=False` kills only the plugin process, as a
    runtime whose call timed out does, and then waits for its children to finish.
    """
    conflist = as_list(config)
    conf = plugin_config(conflist, conflist["plugins"][0])
    attachment = Attachment(dict(config), container_id or new_container_id(), ifname, netns)
    # Files, not pipes: a child left running (group=False) must not block reading them.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            runtime.argv(runtime.find(conf["type"])),
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            env=runtime.environment("ADD", attachment.container_id, attachment.netns_path, ifname),
            start_new_session=True,
        )
        deadline = time.monotonic() + (timeout or runtime.timeout)
        reached = False
        try:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(conf).encode())
            proc.stdin.close()
            while proc.poll() is None and time.monotonic() < deadline:
                if milestone():
                    reached = True
                    break
                time.sleep(poll)
        finally:
            if proc.poll() is None:
                if group:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.send_signal(signal.SIGKILL)
            status = proc.wait()
            if not group:
                _wait_for_group(proc.pid, deadline)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    assert reached, (
        f"ADD never reached the milestone: it {'exited with ' + str(status) if status >= 0 else 'was killed'} "
        f"first\nstdout: {stdout.decode(errors='replace')[:500]}\nstderr: {stderr.decode(errors='replace')[-2000:]}"
    )
    assert status == -signal.SIGKILL, f"ADD finished (status {status}) before SIGKILL reached it"
    return attachment


def _wait_for_group(pgid: int, deadline: float) -> None:
    """A plugin killed alone leaves its children running: wait until the group is empty."""
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    os.killpg(pgid, signal.SIGKILL)
    raise AssertionError(f"process group {pgid} still ran at the deadline and was killed")
