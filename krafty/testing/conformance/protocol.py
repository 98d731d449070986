"""Rules of the protocol itself: VERSION, the environment, stdin, error objects (SPEC.md §2, §5)."""

from __future__ import annotations

import json
from typing import Any

from krafty.testing.conformance.case import Case
from krafty.testing.conformance.expect import error_code, failure, shown
from krafty.testing.conformance.rules import MUST, SHOULD, Broken, rule
from krafty.testing.runtime import CallOutput
from krafty.testing.versions import has_check
from krafty.types import version_violations

GROUP = "protocol"


@rule(
    "version.answer",
    "§2 VERSION; §5 VERSION Success",
    MUST,
    "VERSION exits 0 with {cniVersion, supportedVersions}, the version in use among them",
    group=GROUP,
)
def version_answer(case: Case) -> None:
    output = case.runtime.call("VERSION", {"cniVersion": case.version}, plugin=case.plugin)
    answer = _json_object(output, "VERSION")
    broken = version_violations(answer)
    if broken:
        raise Broken(f"{'; '.join(broken)} ({shown(output)})")
    if case.version not in answer["supportedVersions"]:
        raise Broken(f"VERSION asked at {case.version} does not list it ({shown(output)})")


@rule(
    "version.echo",
    "§5 VERSION Success",
    MUST,
    "VERSION's cniVersion is the one on its stdin",
    since="1.0.0",
    group=GROUP,
)
def version_echo(case: Case) -> None:
    output = case.runtime.call("VERSION", {"cniVersion": case.version}, plugin=case.plugin)
    answer = _json_object(output, "VERSION")
    if answer.get("cniVersion") != case.version:
        raise Broken(f"VERSION with cniVersion {case.version} on stdin answered {answer.get('cniVersion')!r}")


def _json_object(output: CallOutput, what: str) -> dict[str, Any]:
    if output.status != 0:
        raise Broken(f"{what} failed ({shown(output)})")
    try:
        answer = json.loads(output.stdout)
    except ValueError:
        raise Broken(f"{what}: stdout is not one JSON object ({shown(output)})") from None
    if not isinstance(answer, dict):
        raise Broken(f"{what}: stdout is not a JSON object ({shown(output)})")
    return answer


@rule(
    "version.unsupported",
    "§5 Error (code 1); spec 0.4.0 Result",
    SHOULD,
    "ADD with a cniVersion the plugin does not list fails with code 1",
    group=GROUP,
)
def version_unsupported(case: Case) -> None:
    pod = case.pod()
    for version in ("9.9.9", "1.1"):  # "1.1" is not "1.1.0": versions compare as strings
        output = case.call("ADD", case.request(cniVersion=version), pod=pod, container_id=case.new_id())
        error_code(output, f"ADD with cniVersion {version!r}", {1})


@rule(
    "env.command",
    "§2 Parameters; §5 Error (code 4)",
    MUST,
    "a missing or unknown CNI_COMMAND fails with code 4 naming CNI_COMMAND",
    group=GROUP,
)
def env_command(case: Case) -> None:
    pod = case.pod()
    for value in (None, "FROB", "add"):
        output = case.call("ADD", pod=pod, container_id=case.new_id(), env={"CNI_COMMAND": value})
        error_code(output, f"CNI_COMMAND {'unset' if value is None else repr(value)}", {4}, ["CNI_COMMAND"])


REQUIRED = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
}


@rule(
    "env.required",
    "§2 ADD/DEL/CHECK Input; §5 Error (code 4)",
    MUST,
    "a required variable unset or empty fails with code 4 naming it",
    group=GROUP,
)
def env_required(case: Case) -> None:
    pod = case.pod()
    verbs = ["ADD", "DEL"] + (["CHECK"] if has_check(case.version) else [])
    for verb in verbs:
        for variable in REQUIRED[verb]:
            for value in (None, ""):
                output = case.call(verb, pod=pod, container_id=case.new_id(), env={variable: value})
                state = "unset" if value is None else "empty"
                error_code(output, f"{verb} with {variable} {state}", {4}, [variable])


@rule(
    "config.malformed",
    "§5 Error (code 6)",
    SHOULD,
    "stdin that is not JSON fails with code 6",
    group=GROUP,
)
def config_malformed(case: Case) -> None:
    pod = case.pod()
    for stdin in (b"{", b"not json"):
        output = case.call("ADD", stdin, pod=pod, container_id=case.new_id())
        error_code(output, f"ADD with stdin {stdin.decode()!r}", {6})


@rule(
    "error.fields",
    "§5 Error",
    SHOULD,
    "an error object carries the protocol version in use, a code and a msg",
    group=GROUP,
)
def error_fields(case: Case) -> None:
    output = case.call("ADD", pod=case.pod(), container_id=case.new_id(), env={"CNI_COMMAND": "FROB"})
    answer = failure(output, "CNI_COMMAND FROB with a valid config")
    if answer.get("cniVersion") != case.version:
        raise Broken(f"the error's cniVersion is {answer.get('cniVersion')!r}, the request's {case.version!r}")
