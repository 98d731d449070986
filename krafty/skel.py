"""The CNI dispatcher: read the runtime's environment and stdin, run one verb, answer.

Like CNI's `pkg/skel`. `run()` takes the runtime's inputs as arguments and returns the
exit status, so the whole protocol can be driven in-process, without root. Nothing here
imports pyroute2: VERSION must stay as cheap as starting the interpreter.
"""

from __future__ import annotations

import json
import re
import sys

from krafty.log import log
from krafty.types import (
    INTERNAL_ERROR,
    INVALID_ENVIRONMENT,
    SPEC_VERSION,
    SUPPORTED_VERSIONS,
    VERBS,
    CniError,
    Invocation,
    Result,
)
from krafty.versions import asked_version

TYPE_CHECKING = False  # typing's import costs every call; the checker sees these
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import IO, Any

    Verb = Callable[[Invocation, Any], Result | None]

# The spec's rule, without a length limit: the owner record in the kernel's 255-byte interface
# alias is what limits an ID's length, and it depends on the network and interface names, so
# the verbs check it (plugin.py).
_CONTAINER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


def valid_ifname(name: str) -> bool:
    """The kernel's dev_valid_name(): 1-15 bytes, not . or .., no '/', ':' or whitespace."""
    if not name or name in (".", "..") or len(name.encode("utf-8", "surrogateescape")) > 15:
        return False
    return not any(ch in "/:\0" or ch.isspace() for ch in name)


def parse_environment(environ: Mapping[str, str]) -> Invocation:
    command = environ.get("CNI_COMMAND", "")
    if command not in VERBS:
        raise CniError(INVALID_ENVIRONMENT, f"CNI_COMMAND must be one of {', '.join(VERBS)}", repr(command))
    path = tuple(p for p in environ.get("CNI_PATH", "").split(":") if p)
    if command in ("VERSION", "GC", "STATUS"):
        return Invocation(command, path=path, environ=environ)
    container_id = environ.get("CNI_CONTAINERID", "")
    if not _CONTAINER_ID.fullmatch(container_id):
        raise CniError(
            INVALID_ENVIRONMENT,
            "CNI_CONTAINERID must match [A-Za-z0-9][A-Za-z0-9_.-]*",
            repr(container_id[:200]),
        )
    ifname = environ.get("CNI_IFNAME", "")
    if not valid_ifname(ifname):
        raise CniError(
            INVALID_ENVIRONMENT,
            "CNI_IFNAME must be 1-15 bytes without '/', ':' or whitespace",
            repr(ifname[:200]),
        )
    netns = environ.get("CNI_NETNS", "")
    if command in ("ADD", "CHECK") and not netns:
        raise CniError(INVALID_ENVIRONMENT, f"CNI_NETNS is required for {command}")
    if "\0" in netns:
        raise CniError(INVALID_ENVIRONMENT, "CNI_NETNS contains a NUL byte")
    return Invocation(command, container_id, netns, ifname, path, environ)


def _error_version(raw: bytes) -> str:
    """The config's cniVersion when it is one we speak, for the error object."""
    try:
        version = json.loads(raw).get("cniVersion")
    except (ValueError, RecursionError, AttributeError):
        return SPEC_VERSION
    return version if version in SUPPORTED_VERSIONS else SPEC_VERSION


def run(
    environ: Mapping[str, str],
    stdin: IO[bytes],
    stdout: IO[str],
    stderr: IO[str] | None = None,
    verbs: Mapping[str, Verb] | None = None,
) -> int:
    """Handle one CNI call and return the process exit status.

    stdout carries only the result or the error object; logs go to stderr. `verbs` lets
    tests replace the kernel-facing implementation.
    """
    if environ.get("CNI_COMMAND") == "VERSION":
        json.dump({"cniVersion": asked_version(stdin.read()), "supportedVersions": list(SUPPORTED_VERSIONS)}, stdout)
        return 0
    log.start(stderr or sys.stderr)
    try:
        return _handle(environ, stdin, stdout, verbs)
    finally:
        log.stop()


def _handle(environ: Mapping[str, str], stdin: IO[bytes], stdout: IO[str], verbs: Mapping[str, Verb] | None) -> int:
    raw = b""
    try:
        raw = stdin.read()
        invocation = parse_environment(environ)
        from krafty import config

        conf = config.parse(raw, invocation.command)
        if conf.log_file:
            log.add_file(conf.log_file)
        if verbs is not None:
            verb = verbs[invocation.command]
        elif invocation.command == "STATUS":
            from krafty.status import status as verb  # polled often: keep pyroute2 out of it
        else:
            from krafty.plugin import VERBS

            verb = VERBS[invocation.command]
        result = verb(invocation, conf)
        if result is not None:
            json.dump(result.to_json(conf.cni_version), stdout)
        return 0
    except CniError as err:
        log.error("%s: %s %s", environ.get("CNI_COMMAND", "?"), err.msg, err.details)
        json.dump(err.to_json(_error_version(raw)), stdout)
        return 1
    except Exception as err:  # noqa: BLE001  # the runtime must get an error object, never a traceback
        log.exception("internal error")
        json.dump(CniError(INTERNAL_ERROR, "internal error", repr(err)).to_json(_error_version(raw)), stdout)
        return 1
