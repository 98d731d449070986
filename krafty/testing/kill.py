"""`cni_kill_at`: SIGKILL a plugin's ADD the moment a milestone holds, and prove it.

A kill test that never killed anything passes whatever the plugin does. So the kill must
happen with the milestone observed and the plugin still running, and the process must be
seen to die of SIGKILL; otherwise the test fails and says which of the two did not happen.
"""

from __future__ import annotations

import contextlib
import json
import signal
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

from krafty.testing.netns import Netns
from krafty.testing.runtime import (
    Attachment,
    Runtime,
    cni_args,
    group_members,
    kill_group,
    network_list,
    new_attachment,
    plugin_config,
    start,
)

Milestone = Callable[[], bool]


def kill_at(
    runtime: Runtime,
    config: Mapping[str, Any],
    netns: Netns | str,
    milestone: Milestone,
    *,
    container_id: str | None = None,
    ifname: str = "eth0",
    args: Mapping[str, str] | None = None,
    capability_args: Mapping[str, Any] | None = None,
    group: bool = True,
    poll: float = 0.005,
    timeout: float | None = None,
) -> Attachment:
    """Start the first plugin's ADD (with CNI_ARGS and runtimeConfig as `add()` passes them),
    SIGKILL it once `milestone()` is true, return the attachment for the DEL a runtime would
    send next. The attachment is in `runtime.attachments` from the start, so the teardown
    DELs it whatever happens.

    `group=True` kills the plugin's whole process group (IPAM children included), as a
    runtime that kills a cgroup would; `group=False` kills only the plugin process, as a
    runtime whose call timed out does, and then waits for its children to finish.
    """
    conflist = network_list(config)
    conf = plugin_config(conflist, conflist["plugins"][0], None, capability_args)
    attachment = new_attachment(config, netns, container_id, ifname, args, capability_args)
    argv = runtime.argv(runtime.find(conf["type"]))
    env = runtime.environment("ADD", attachment.container_id, attachment.netns_path, ifname, cni_args(args))
    seconds = timeout or runtime.timeout
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = start(argv, env, out, err)
        runtime.attachments.append(attachment)  # the ADD has started: a runtime DELs it next
        deadline = time.monotonic() + seconds
        reached = expired = False
        try:
            assert proc.stdin is not None
            with contextlib.suppress(BrokenPipeError):  # a plugin need not read all of stdin
                proc.stdin.write(json.dumps(conf).encode())
                proc.stdin.close()
            while proc.poll() is None:
                if milestone():
                    reached = True
                    break
                if time.monotonic() >= deadline:
                    expired = True
                    break
                time.sleep(poll)
        finally:
            if proc.poll() is None:
                if group:
                    kill_group(proc.pid)
                else:
                    proc.send_signal(signal.SIGKILL)
            status = proc.wait()
            if not group:
                _wait_for_group(proc.pid, deadline)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    output = f"\nstdout: {stdout[:500]}\nstderr: {stderr[-2000:]}"
    if expired:
        raise AssertionError(
            f"ADD never reached the milestone within {seconds:g} s: the harness killed it at its deadline{output}"
        )
    if not reached:
        how = f"exited with {status}" if status >= 0 else f"was killed by signal {-status}"
        raise AssertionError(f"ADD never reached the milestone: it {how} first{output}")
    if status != -signal.SIGKILL:
        raise AssertionError(f"ADD finished (status {status}) before SIGKILL reached it{output}")
    return attachment


def _wait_for_group(pgid: int, deadline: float) -> None:
    """A plugin killed alone leaves its children running: wait until none of the group runs."""
    while time.monotonic() < deadline:
        if not group_running(pgid):
            return
        time.sleep(0.01)
    kill_group(pgid)
    raise AssertionError(f"process group {pgid} still ran at the deadline and was killed")


def group_running(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies do not: runtime.group_members)."""
    return bool(group_members(pgid))
