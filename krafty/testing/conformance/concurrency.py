"""Parallel calls for different containers (SPEC.md §3 Lifecycle & Ordering)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from krafty.testing.conformance.case import Case
from krafty.testing.conformance.expect import blame
from krafty.testing.conformance.rules import MUST, Broken, rule
from krafty.testing.runtime import Attachment

PARALLEL = 8  # enough to race first-use set-up; each ADD is one process per plugin
# A bridge without a MAC of its own takes its lowest port's: another pod's ADD may change it between
# one ADD's answer and the check of that answer. `add.result` holds MACs against the kernel alone.
SHARED_MAC = {"kernel.mac": "parallel ADDs may change a shared device's MAC between an answer and its check"}


@rule(
    "parallel.add-del",
    "§3 Lifecycle & Ordering",
    MUST,
    f"{PARALLEL} ADDs at once from a clean node, then ADDs beside DELs, then DELs: all succeed, no address twice",
    group="concurrency",
)
def parallel_add_del(case: Case) -> None:
    case.needs_several()
    pods = [case.pod() for _ in range(PARALLEL)]
    with ThreadPoolExecutor(PARALLEL) as pool:
        added = list(pool.map(lambda pod: _try(lambda: case.attach(pod, skip_checks=SHARED_MAC)), pods))
    failed = [a for a in added if not isinstance(a, Attachment)]
    if failed:
        raise blame(case.plugin, failed[0], f"{len(failed)} of {PARALLEL} parallel ADDs failed, the first")
    addresses = [ip["address"] for a in added for ip in (a.result or {}).get("ips", [])]  # type: ignore[union-attr]
    if len(addresses) != len(set(addresses)):
        raise Broken(f"parallel ADDs handed out one address twice: {sorted(addresses)}")
    # Mixed: half of them go while as many new ones come, then everything goes at once.
    half = PARALLEL // 2
    new_pods = [case.pod() for _ in range(half)]
    with ThreadPoolExecutor(PARALLEL) as pool:
        gone = [pool.submit(_try, lambda a=a: case.runtime.delete(a)) for a in added[:half]]
        came = [pool.submit(_try, lambda p=p: case.attach(p, skip_checks=SHARED_MAC)) for p in new_pods]
        mixed_del, mixed_add = [f.result() for f in gone], [f.result() for f in came]
    _judge(
        case, [e for e in mixed_del if e is not None] + [a for a in mixed_add if not isinstance(a, Attachment)], "mixed"
    )
    live = added[half:] + mixed_add
    addresses = [ip["address"] for a in live for ip in (a.result or {}).get("ips", [])]  # type: ignore[union-attr]
    if len(addresses) != len(set(addresses)):
        raise Broken(f"ADDs beside DELs handed out one address twice: {sorted(addresses)}")
    with ThreadPoolExecutor(PARALLEL) as pool:
        deleted = list(pool.map(lambda a: _try(lambda: case.runtime.delete(a)), live))
    _judge(case, [d for d in deleted if d is not None], "DEL")


def _judge(case: Case, errors: list, what: str) -> None:  # type: ignore[type-arg]
    if errors:
        raise blame(case.plugin, errors[0], f"{len(errors)} parallel calls ({what}) failed, the first")


def _try(call):  # type: ignore[no-untyped-def]
    """The call's value, or the exception it raised (threads report, the rule judges)."""
    try:
        return call()
    except Exception as err:  # noqa: BLE001
        return err
