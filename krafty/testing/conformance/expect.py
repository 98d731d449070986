"""What the rules expect of one raw answer, as `Broken` with the evidence when it is not so."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from krafty.testing.conformance.rules import Broken, Unchecked
from krafty.testing.runtime import CallOutput
from krafty.types import error_violations


def shown(output: CallOutput) -> str:
    """The answer as evidence: exit status, stdout, the end of stderr."""
    err = output.stderr.strip().splitlines()[-1:] if output.stderr.strip() else []
    return f"exit {output.status}, stdout {output.stdout.strip()[:300]!r}" + (
        f", stderr ends {err[0][:200]!r}" if err else ""
    )


def failure(output: CallOutput, what: str) -> dict[str, Any]:
    """A call that must fail: a non-zero exit with an error object on stdout."""
    if output.status == 0:
        raise Broken(f"{what}: the plugin succeeded ({shown(output)})")
    try:
        answer = json.loads(output.stdout)
    except ValueError:
        raise Broken(f"{what}: no error object on stdout ({shown(output)})") from None
    broken = error_violations(answer)
    if broken:
        raise Broken(f"{what}: {'; '.join(broken)} ({shown(output)})")
    return answer


def error_code(output: CallOutput, what: str, codes: Collection[int], names: Collection[str] = ()) -> dict[str, Any]:
    """A failure with one of `codes`, whose msg or details name each of `names`."""
    answer = failure(output, what)
    if answer["code"] not in codes:
        wanted = " or ".join(map(str, codes))
        raise Broken(f"{what}: error code {answer['code']}, the spec's is {wanted} ({shown(output)})")
    text = f"{answer.get('msg', '')} {answer.get('details', '')}"
    missing = [name for name in names if name not in text]
    if missing:
        raise Broken(f"{what}: code {answer['code']} must name {', '.join(missing)} ({shown(output)})")
    return answer


def success(output: CallOutput, what: str, *, empty: bool = False) -> None:
    """A call that must succeed (exit 0), printing nothing when `empty`."""
    if output.status != 0:
        raise Broken(f"{what}: the plugin failed ({shown(output)})")
    if empty and output.stdout.strip():
        raise Broken(f"{what}: success must print nothing on stdout ({shown(output)})")


def blame(plugin: str, err: Exception, what: str) -> Exception:
    """The verdict an error of a call carries: Broken when the plugin under test answered it,
    Unchecked when another plugin of the list did (the rule could not reach the one judged)."""
    other = getattr(err, "plugin", "")
    if other and other != plugin:
        return Unchecked(f"{what}: {other}, before the plugin judged, failed: {err}")
    return Broken(f"{what}: {err}")


def clean(leftovers: list[str], what: str) -> None:
    """Nothing left; as evidence, a device left stands for its addresses and routes too."""
    gone_with = [line.split("links left: ", 1)[1].split()[0] for line in leftovers if "links left: " in line]
    leftovers = [line for line in leftovers if not any(f" dev {name} " in line + " " for name in gone_with)]
    if leftovers:
        raise Broken(f"{what}: left behind: " + "; ".join(leftovers[:8]) + (" ..." if len(leftovers) > 8 else ""))
