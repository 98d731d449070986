"""Rules of delegation to the IPAM plugin (SPEC.md §2 CHECK/GC/STATUS, §4), seen by the spy."""

from __future__ import annotations

from krafty.testing.conformance.case import Case
from krafty.testing.conformance.expect import clean, failure, shown
from krafty.testing.conformance.lifecycle import _attach
from krafty.testing.conformance.rules import DELEGATING, MUST, SHOULD, Broken, rule
from krafty.testing.conformance.spy import Spy
from krafty.testing.runtime import Attachment, CniCallError, CniSpecViolation, cni_args, plugin_config

GROUP = "delegation"
CNI_VARIABLES = ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH")


def _spied(case: Case) -> tuple[Spy, Attachment]:
    spy = case.spy()
    return spy, _attach(case, "ADD", args={"K8S_POD_NAME": "spied", "IgnoreUnknown": "1"})


def _one_call(spy: Spy, command: str, what: str) -> dict:  # type: ignore[type-arg]
    calls = spy.calls(command)
    if not calls:
        seen = [c["command"] for c in spy.calls()] or "nothing"
        raise Broken(f"{what}: the IPAM plugin got no {command} (it got {seen})")
    return calls[-1]


@rule(
    "delegate.env",
    "§4 Delegated Plugin protocol",
    MUST,
    "the IPAM plugin gets the same CNI variables the plugin got",
    applies=DELEGATING,
    group=GROUP,
)
def delegate_env(case: Case) -> None:
    spy, attachment = _spied(case)
    sent = case.runtime.environment(
        "ADD", attachment.container_id, attachment.netns_path, attachment.ifname, cni_args(attachment.args)
    )
    got = _one_call(spy, "ADD", "ADD")["env"]
    wrong = [f"{k}={got.get(k)!r} (sent {sent[k]!r})" for k in ("CNI_COMMAND", *CNI_VARIABLES) if got.get(k) != sent[k]]
    if wrong:
        raise Broken("the IPAM plugin's ADD environment differs: " + ", ".join(wrong))


@rule(
    "delegate.config",
    "§4 Delegated Plugin protocol",
    MUST,
    "the IPAM plugin gets the complete network configuration, not only `ipam`",
    applies=DELEGATING,
    group=GROUP,
)
def delegate_config(case: Case) -> None:
    spy, _ = _spied(case)
    sent = plugin_config(case.config, case.subject.plugin_conf, None)
    got = _one_call(spy, "ADD", "ADD")["config"]
    if got != sent:
        got = got if isinstance(got, dict) else {}
        missing, added = sorted(set(sent) - set(got)), sorted(set(got) - set(sent))
        changed = sorted(k for k in set(sent) & set(got) if sent[k] != got[k])
        raise Broken(f"the IPAM plugin's ADD config differs: missing {missing}, added {added}, changed {changed}")


@rule(
    "delegate.del",
    "§4 Delegated plugin execution procedure",
    MUST,
    "DEL runs the IPAM plugin's DEL",
    applies=DELEGATING,
    group=GROUP,
)
def delegate_del(case: Case) -> None:
    spy, attachment = _spied(case)
    case.runtime.delete(attachment)
    _one_call(spy, "DEL", "DEL")


@rule(
    "delegate.check",
    "§2 CHECK; §4 Delegated plugin execution procedure",
    MUST,
    "CHECK runs the IPAM plugin's CHECK, and fails when it fails",
    applies=DELEGATING,
    since="0.4.0",
    group=GROUP,
)
def delegate_check(case: Case) -> None:
    spy, attachment = _spied(case)
    conf = case.request(attachment.result)
    output = case.call("CHECK", conf, pod=attachment.netns, container_id=attachment.container_id)
    if output.status != 0:
        raise Broken(f"CHECK right after ADD failed ({shown(output)})")
    _one_call(spy, "CHECK", "CHECK")
    spy.fail("CHECK", 11)
    failure(case.call("CHECK", conf, pod=attachment.netns, container_id=attachment.container_id), "CHECK, IPAM failing")


@rule(
    "delegate.gc",
    "§2 GC; §4 Delegated plugin execution procedure",
    MUST,
    "GC runs the IPAM plugin's GC with the same valid attachments",
    applies=DELEGATING,
    since="1.1.0",
    group=GROUP,
)
def delegate_gc(case: Case) -> None:
    spy, attachment = _spied(case)
    listed = [{"containerID": attachment.container_id, "ifname": attachment.ifname}]
    conf = case.request(**{"cni.dev/valid-attachments": listed, "cni.dev/attachments": listed})
    output = case.call("GC", conf, ifname="")
    if output.status != 0:
        raise Broken(f"GC failed ({shown(output)})")
    got = _one_call(spy, "GC", "GC")["config"] or {}
    if got.get("cni.dev/valid-attachments") != listed:
        raise Broken(f"the IPAM plugin's GC got valid-attachments {got.get('cni.dev/valid-attachments')!r}")


@rule(
    "delegate.status",
    "§2 STATUS",
    MUST,
    "STATUS runs the IPAM plugin's STATUS, and fails when it is not ready",
    applies=DELEGATING,
    since="1.1.0",
    group=GROUP,
)
def delegate_status(case: Case) -> None:
    spy = case.spy()
    output = case.call("STATUS", ifname="")
    if output.status != 0:
        raise Broken(f"STATUS failed with the IPAM plugin ready ({shown(output)})")
    _one_call(spy, "STATUS", "STATUS")
    spy.fail("STATUS", 50, "conformance spy: not ready")
    failure(case.call("STATUS", ifname=""), "STATUS with the IPAM plugin answering 50")


@rule(
    "delegate.add-failure",
    "§3 Lifecycle & Ordering; §4 Delegated plugin execution procedure",
    SHOULD,
    "when the IPAM plugin's ADD fails, ADD fails, and after the runtime's DEL nothing is left",
    applies=DELEGATING,
    group=GROUP,
)
def delegate_add_failure(case: Case) -> None:
    spy = case.spy()
    spy.fail("ADD", 11, "conformance spy: try again later")
    pod = case.pod()
    try:
        case.attach(pod)
    except CniCallError:
        pass
    except CniSpecViolation as err:
        raise Broken(f"ADD with the IPAM plugin failing: {err}") from None
    else:
        raise Broken("ADD succeeded although its IPAM plugin failed")
    clean(case.leftovers(delete_first=True), "after the failed ADD and the runtime's DEL")
