"""Rules of an attachment's life: ADD, CHECK, DEL, GC and STATUS (SPEC.md §2, §3, §5)."""

from __future__ import annotations

from typing import Any

from krafty.testing.conformance.case import Case
from krafty.testing.conformance.expect import blame, clean, failure, shown, success
from krafty.testing.conformance.rules import INTERFACE, MUST, SHOULD, Broken, NotApplicable, Unchecked, rule
from krafty.testing.runtime import Attachment, CniCallError, CniSpecViolation, plugin_config
from krafty.testing.versions import has_check

GROUP = "lifecycle"


def _attach(case: Case, what: str, *, judged: bool = False, **options: Any) -> Attachment:
    """ADD through the runtime. When it fails, or answers outside the spec, that is the evidence of
    a rule about ADD (`judged`), and for any other rule the reason it could not be checked."""
    try:
        return case.attach(**options)
    except (CniCallError, CniSpecViolation) as err:
        raise (blame(case.plugin, err, what) if judged else Unchecked(f"{what}: {err}")) from None


def _delete_each(case: Case, attachment: Attachment, prev_result: dict[str, Any] | None, what: str) -> None:
    """DEL of every plugin of the list in reverse order, unchecked by the runtime, each of which
    must succeed silently: the runtime's own DEL would stop at the first failure or use its cache."""
    for plugin in reversed(case.config["plugins"]):
        conf = plugin_config(case.config, plugin, prev_result)
        output = case.runtime.call(
            "DEL", conf, container_id=attachment.container_id, netns=attachment.netns_path, ifname=attachment.ifname
        )
        success(output, f"{plugin['type']} {what}", empty=True)


@rule(
    "add.result",
    "§2 ADD; §5 ADD Success",
    MUST,
    "ADD succeeds with a result of the request's version that matches the kernel",
    group=GROUP,
)
def add_result(case: Case) -> None:
    _attach(case, "ADD", judged=True)


@rule(
    "add.ifname",
    "§2 Parameters (CNI_IFNAME)",
    MUST,
    "the interface gets exactly the name CNI_IFNAME asks for",
    applies=INTERFACE,
    group=GROUP,
)
def add_ifname(case: Case) -> None:
    for ifname in ("net1", "abcdefghijklmno"):  # 15 bytes, the kernel's longest
        pod = case.pod()
        attachment = _attach(case, f"ADD with CNI_IFNAME {ifname!r}", judged=True, pod=pod, ifname=ifname)
        if ifname not in pod.links():
            raise Broken(f"ADD with CNI_IFNAME {ifname!r}: the pod has {sorted(pod.links())}")
        case.runtime.delete(attachment)


@rule(
    "add.existing-ifname",
    "§2 ADD",
    MUST,
    "ADD fails when CNI_IFNAME already exists in the pod, and leaves that device alone",
    applies=INTERFACE,
    since="1.0.0",
    group=GROUP,
)
def add_existing_ifname(case: Case) -> None:
    pod = case.pod()
    pod.run("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer")
    before = pod.link("eth0")
    output = case.call("ADD", case.request(case.prev_result(pod, "c-existing")), pod=pod, container_id="c-existing")
    failure(output, "ADD onto an existing eth0")
    after = pod.links().get("eth0")
    if after is None or (after.index, after.mac) != (before.index, before.mac):
        raise Broken(f"the pod's own eth0 was changed by the failed ADD: {before} -> {after}")


@rule(
    "del.idempotent",
    "§2 DEL",
    MUST,
    "DEL succeeds again and again, with and without prevResult, once the attachment is gone",
    group=GROUP,
)
def del_idempotent(case: Case) -> None:
    attachment = _attach(case, "ADD")
    case.runtime.delete(attachment)
    if has_check(case.version):  # DEL has no prevResult before 0.4.0
        _delete_each(case, attachment, attachment.result, "DEL again with prevResult")
    _delete_each(case, attachment, None, "DEL again without prevResult")


@rule(
    "del.unknown",
    "§2 DEL",
    MUST,
    "DEL of an attachment never added succeeds",
    group=GROUP,
)
def del_unknown(case: Case) -> None:
    pod = case.pod()
    output = case.call("DEL", pod=pod, container_id=case.new_id())
    success(output, "DEL of a container never added", empty=True)


@rule(
    "del.clean",
    "§2 DEL",
    SHOULD,
    "after ADD and DEL nothing is left: devices, addresses, routes, rules, netfilter, sysctls, files",
    group=GROUP,
)
def del_clean(case: Case) -> None:
    attachment = _attach(case, "ADD")
    case.runtime.delete(attachment)
    clean(case.leftovers(), "after ADD and DEL")


@rule(
    "del.no-netns",
    "§2 DEL",
    SHOULD,
    "DEL after the pod's namespace is gone succeeds and removes what the plugin made on the node",
    group=GROUP,
)
def del_no_netns(case: Case) -> None:
    attachment = _attach(case, "ADD")
    pod = attachment.netns
    pod.remove()  # type: ignore[union-attr]
    try:
        case.runtime.delete(attachment)
    except (CniCallError, CniSpecViolation) as err:
        raise blame(case.plugin, err, "DEL with the pod's namespace gone") from None
    clean(case.leftovers(settle=3.0), "after DEL with the namespace gone")


@rule(
    "del.no-prevresult",
    "§2 DEL",
    SHOULD,
    "DEL without prevResult succeeds and cleans up as DEL with it would",
    group=GROUP,
)
def del_no_prevresult(case: Case) -> None:
    attachment = _attach(case, "ADD")
    _delete_each(case, attachment, None, "DEL without prevResult")
    case.runtime.forget(attachment)
    clean(case.leftovers(), "after DEL without prevResult")


@rule(
    "check.after-add",
    "§2 CHECK",
    MUST,
    "CHECK right after ADD succeeds and prints nothing",
    since="0.4.0",
    group=GROUP,
)
def check_after_add(case: Case) -> None:
    attachment = _attach(case, "ADD")
    try:
        if not case.runtime.check(attachment):
            raise NotApplicable("the config sets disableCheck")
    except (CniCallError, CniSpecViolation) as err:
        raise blame(case.plugin, err, "CHECK right after ADD") from None


@rule(
    "check.detects-missing",
    "§2 CHECK",
    SHOULD,
    "CHECK fails when the interface of prevResult is gone from the pod",
    applies=INTERFACE,
    since="0.4.0",
    group=GROUP,
)
def check_detects_missing(case: Case) -> None:
    attachment = _attach(case, "ADD")
    pod = attachment.netns
    pod.run("ip", "link", "delete", "eth0")  # type: ignore[union-attr]
    conf = case.request(attachment.result)
    output = case.call("CHECK", conf, pod=pod, container_id=attachment.container_id)
    failure(output, "CHECK with eth0 deleted from the pod")


@rule(
    "attach.twice",
    "§2 ADD; §3 Attachment Parameters",
    SHOULD,
    "one container attached twice with two interface names: both work, DEL of one keeps the other",
    group=GROUP,
)
def attach_twice(case: Case) -> None:
    case.needs_several()
    pod = case.pod()
    container_id = case.new_id()
    first = _attach(case, "ADD eth0", pod=pod, container_id=container_id)
    second = _attach(
        case, "ADD net1 of the same container", judged=True, pod=pod, container_id=container_id, ifname="net1"
    )
    addresses = [[ip["address"] for ip in a.result.get("ips", [])] for a in (first, second)]  # type: ignore[union-attr]
    if set(addresses[0]) & set(addresses[1]):
        raise Broken(f"both attachments got {sorted(set(addresses[0]) & set(addresses[1]))}")
    case.runtime.delete(second)
    if has_check(case.version):
        try:
            case.runtime.check(first)
        except (CniCallError, CniSpecViolation) as err:
            raise blame(case.plugin, err, "CHECK of eth0 after DEL of net1") from None


@rule(
    "id.legal",
    "§2 Parameters (CNI_CONTAINERID)",
    MUST,
    "every container ID the spec allows works: one character, dots and dashes, 200 characters, two sharing 60",
    group=GROUP,
)
def id_legal(case: Case) -> None:
    for container_id in ("a", "A.b_c-d", "9" * 200):
        attachment = _attach(
            case, f"ADD with CNI_CONTAINERID {container_id[:70]!r}", judged=True, container_id=container_id
        )
        case.runtime.delete(attachment)
    if case.subject.one_at_a_time:
        return
    prefix = "a" * 60  # host-side names cut from the ID must not collide
    for container_id in (prefix + "1", prefix + "2"):
        _attach(
            case,
            f"ADD with CNI_CONTAINERID {container_id[:16]}...{container_id[-4:]}",
            judged=True,
            container_id=container_id,
        )
    failures = case.delete_all()
    if failures:
        raise Broken("; ".join(failures))


@rule(
    "gc.keeps-valid",
    "§2 GC",
    SHOULD,
    "GC that lists the live attachment succeeds, prints nothing and leaves it working",
    since="1.1.0",
    group=GROUP,
)
def gc_keeps_valid(case: Case) -> None:
    attachment = _attach(case, "ADD")
    for plugin in case.config["plugins"]:
        conf = plugin_config(case.config, plugin)
        listed = [{"containerID": attachment.container_id, "ifname": attachment.ifname}]
        conf["cni.dev/valid-attachments"] = conf["cni.dev/attachments"] = listed
        success(case.runtime.call("GC", conf, plugin=plugin["type"], ifname=""), f"{plugin['type']} GC", empty=True)
    try:
        case.runtime.check(attachment)
    except (CniCallError, CniSpecViolation) as err:
        raise blame(case.plugin, err, "CHECK after a GC that listed the attachment") from None


@rule(
    "status.ready",
    "§2 STATUS",
    MUST,
    "STATUS on a node that can take ADDs exits 0",
    since="1.1.0",
    group=GROUP,
)
def status_ready(case: Case) -> None:
    output = case.call("STATUS", ifname="")
    if output.status != 0:
        raise Broken(f"STATUS on a ready node failed ({shown(output)})")
    _attach(case, "ADD after STATUS")
