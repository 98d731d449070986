"""What one rule runs in: the plugin under test (`Subject`) and a fresh node for one version (`Case`).

Every rule gets its own node namespace, its own libcni cache and its own private mounts (what
the plugin writes under /var/lib/cni, /run/cni or its IPAM `dataDir` stays in a tmpfs), so no
rule sees what another left, and nothing is left on the machine when the case closes.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from krafty.testing.clean import CleanChecker
from krafty.testing.conformance.rules import CHAINED, DELEGATING, INTERFACE, IPAM, NotApplicable
from krafty.testing.conformance.spy import Spy
from krafty.testing.mounts import DEFAULT_PATHS, PrivateMounts
from krafty.testing.netns import Netns, NetnsError
from krafty.testing.runtime import (
    DEFAULT_TIMEOUT,
    Attachment,
    CallOutput,
    CniCallError,
    CniSpecViolation,
    Env,
    Runtime,
    network_list,
    new_container_id,
    plugin_config,
)
from krafty.testing.versions import VersionLookupError, find_plugin, in_spec_order, listed_versions
from krafty.types import version_tuple

KERNEL_MADE = ("rules left: priority 1000 table 0 action to_tbl l3mdev 1",)
"""Left by the kernel, not by a plugin: it adds the l3mdev rule with a namespace's first VRF and
never removes it (drivers/net/vrf.c, vrf_add_fib_rules)."""

OLDEST_JUDGED = "0.3.0"
"""Results before 0.3.0 have another shape (ip4/ip6, no interfaces) and no chaining: no rule is written for them."""


class Subject:
    """The plugin under test: its network config, where plugins are found, and what it does.

    The plugin under test is the last of the list unless `plugin` names another; the plugins
    before it make its `prevResult`. `parent` names a device every node gets (the master of a
    macvlan, ipvlan or vlan config, the device of a host-device config); `one_at_a_time` says the
    config can serve one attachment at a time (host-device moves its one device into the pod), so
    rules that need two at once do not apply. `private` adds directories where the plugin keeps
    files on the node to the private mounts (libcni's and the IPAM `dataDir`s are there already).
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        cni_path: Sequence[str | Path],
        *,
        plugin: str | None = None,
        parent: str | None = None,
        one_at_a_time: bool = False,
        private: Sequence[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.config = network_list(config)
        self.cni_path = [str(p) for p in cni_path]
        types = [p["type"] for p in self.config["plugins"]]
        self.plugin = plugin or types[-1]
        if self.plugin not in types:
            raise ValueError(f"plugin {self.plugin!r} is not in the network config (it has {', '.join(types)})")
        self.index = types.index(self.plugin)
        self.parent = parent
        self.one_at_a_time = one_at_a_time
        self.private = list(private)
        self._prefix_left: set[str] | None = None
        self.classify_error = ""
        self.timeout = timeout
        self.kinds: set[str] = {CHAINED} if self.index else set()
        ipam = self.plugin_conf.get("ipam")
        if isinstance(ipam, dict) and ipam.get("type") and ipam["type"] != self.plugin:
            self.kinds.add(DELEGATING)
        listed = self._versions(types)
        self.versions = [v for v in listed if version_tuple(v) >= version_tuple(OLDEST_JUDGED)]
        self.unjudged = [v for v in listed if v not in self.versions]

    @classmethod
    def from_file(cls, path: str | Path, cni_path: Sequence[str | Path], **options: Any) -> Subject:
        return cls(json.loads(Path(path).read_text()), cni_path, **options)

    @property
    def plugin_conf(self) -> dict[str, Any]:
        return self.config["plugins"][self.index]

    @property
    def ipam_type(self) -> str:
        return self.plugin_conf["ipam"]["type"]

    def _versions(self, types: list[str]) -> list[str]:
        """The spec versions every plugin of the list lists in VERSION, oldest first."""
        common: set[str] | None = None
        for plugin_type in dict.fromkeys(types):
            listed = set(listed_versions(find_plugin(self.cni_path, plugin_type), self.cni_path, self.timeout))
            common = listed if common is None else common & listed
        return in_spec_order(sorted(common or ()))

    def config_at(self, version: str) -> dict[str, Any]:
        """The network config rewritten to one version (libcni would pick it from `cniVersions`)."""
        conflist = copy.deepcopy(self.config)
        conflist["cniVersion"] = version
        conflist.pop("cniVersions", None)
        return conflist

    def private_paths(self) -> list[str]:
        """Where plugins keep state on the host: libcni's defaults and the IPAM `dataDir`s."""
        paths = [*DEFAULT_PATHS, *(p for p in self.private if p not in DEFAULT_PATHS)]
        for plugin in self.config["plugins"]:
            ipam = plugin.get("ipam")
            data_dir = ipam.get("dataDir") if isinstance(ipam, dict) else None
            if isinstance(data_dir, str) and data_dir.startswith("/") and data_dir not in paths:
                paths.append(data_dir)
        return paths

    def prefix_leftovers(self, version: str) -> set[str]:
        """What the plugins before the judged one leave after their own ADD and DEL (a shared
        bridge, say), as `leftover_key`s: a chained plugin is not blamed for it. Found once."""
        if not self.index:
            return set()
        if self._prefix_left is None:
            with Case(self, version) as case:
                prefix = dict(case.config, plugins=case.config["plugins"][: self.index])
                attachment = case.runtime.add(prefix, case.pod())
                case.runtime.delete(attachment)
                self._prefix_left = {leftover_key(line) for line in case.leftovers(raw=True)}
        return self._prefix_left

    def classify(self, version: str | None = None) -> set[str]:
        """Add what a first ADD shows: an interface plugin (first in its list) lists CNI_IFNAME in
        CNI_NETNS, an IPAM plugin answers without `interfaces`. A failing ADD raises."""
        with Case(self, version or self.versions[-1]) as case:
            pod = case.pod()
            try:
                attachment = case.attach(pod)
            except (CniCallError, CniSpecViolation) as err:
                self.classify_error = f"the first ADD failed, so what the plugin makes is not known: {err}"
                return self.kinds
            result = attachment.result or {}
            if "interfaces" not in result:
                self.kinds.add(IPAM)
            elif not self.index and any(
                i.get("name") == "eth0" and i.get("sandbox") == pod.path for i in result["interfaces"]
            ):
                self.kinds.add(INTERFACE)  # a chained plugin passes on the interface an earlier one made
        return self.kinds


class Case:
    """One rule at one version: a node of its own, pods on demand, the runtime, the clean check."""

    def __init__(self, subject: Subject, version: str) -> None:
        self.subject = subject
        self.version = version
        self.config = subject.config_at(version)
        self.work = Path(tempfile.mkdtemp(prefix="cni-conformance-"))
        self.pods: list[Netns] = []
        self.node = Netns("node")
        try:
            self.node.up("lo")
            if subject.parent:
                self.node.add_parent(subject.parent)
            self.node.rebaseline()
            (self.work / "bin").mkdir()
            self.mounts = PrivateMounts(subject.private_paths(), self.work / "mounts")
        except BaseException:
            self.node.remove()
            shutil.rmtree(self.work, ignore_errors=True)
            raise
        self.runtime = Runtime(
            self.node,
            subject.cni_path,
            self.work / "cache",
            plugin_dir=self.work / "bin",
            timeout=subject.timeout,
            mounts=self.mounts,
        )

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def plugin(self) -> str:
        return self.subject.plugin

    def needs(self, kind: str, why: str = "") -> None:
        """NotApplicable unless the plugin is of this kind."""
        if kind not in self.subject.kinds:
            raise NotApplicable(why or f"applies to {kind_text(kind)} only")

    def needs_several(self) -> None:
        """NotApplicable when the config serves one attachment at a time."""
        if self.subject.one_at_a_time:
            raise NotApplicable("needs two attachments at once; this config serves one at a time")

    def pod(self) -> Netns:
        """A fresh pod namespace, lo up, baseline taken; removed when the case closes."""
        ns = Netns("pod")
        self.pods.append(ns)
        ns.up("lo")
        ns.rebaseline()
        return ns

    def attach(self, pod: Netns | None = None, **options: Any) -> Attachment:
        """ADD of the whole list through the runtime, every answer checked (`Runtime.add`)."""
        return self.runtime.add(self.config, pod or self.pod(), **options)

    def request(self, prev_result: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        """The plugin under test's request config, as libcni derives it."""
        conf = plugin_config(self.config, self.subject.plugin_conf, dict(prev_result) if prev_result else None)
        conf.update(extra)
        return conf

    def prev_result(self, pod: Netns, container_id: str, ifname: str = "eth0") -> dict[str, Any] | None:
        """For a chained plugin: ADD of the plugins before it (their DEL comes when the case closes)."""
        if not self.subject.index:
            return None
        prefix = dict(self.config, plugins=self.config["plugins"][: self.subject.index])
        return self.runtime.add(prefix, pod, container_id=container_id, ifname=ifname).result

    def call(
        self,
        command: str,
        config: Mapping[str, Any] | bytes | None = None,
        *,
        pod: Netns | str = "",
        container_id: str = "",
        ifname: str = "eth0",
        env: Env | None = None,
    ) -> CallOutput:
        """The plugin under test, once, unchecked (its request config unless `config` is given)."""
        return self.runtime.call(
            command,
            self.request() if config is None else config,
            plugin=self.plugin,
            container_id=container_id,
            netns=pod,
            ifname=ifname,
            env=env,
        )

    def spy(self) -> Spy:
        """The recording stand-in for the plugin's IPAM plugin, first on CNI_PATH (delegating plugins)."""
        self.needs(DELEGATING)
        try:
            real: Path | None = find_plugin(self.subject.cni_path, self.subject.ipam_type)
            versions = listed_versions(real, self.subject.cni_path, self.subject.timeout)  # type: ignore[arg-type]
        except VersionLookupError:
            real, versions = None, ()
        return Spy(self.work / "bin", self.subject.ipam_type, real, in_spec_order(versions))

    def new_id(self) -> str:
        return new_container_id()

    def leftovers(self, *, delete_first: bool = False, settle: float = 0.0, raw: bool = False) -> list[str]:
        """What changed since the baselines of the node and every pod (files under the private
        mounts included); `delete_first` sends the runtime's DELs before looking.

        The kernel dismantles a removed namespace later, in a work queue (the node's end of a veth
        into it goes then): after removing one, give `settle` seconds, and what is found is looked
        at again until then; only what is still there is returned."""
        if delete_first:
            self.delete_all()
        deadline = time.monotonic() + settle
        while True:
            found = CleanChecker(mounts=self.mounts).problems(self.node, *[p for p in self.pods if p.exists])
            found = [line for line in found if not any(made in line for made in KERNEL_MADE)]
            if not raw:
                found = _not_from(self.subject.prefix_leftovers(self.version), found)
            if not found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def delete_all(self) -> list[str]:
        """DEL of every attachment the runtime still holds, as CRI sends them; the failures."""
        failures = []
        for attachment in reversed(list(self.runtime.attachments)):
            if not any(held is attachment for held in self.runtime.attachments):
                continue
            try:
                self.runtime.delete(attachment)
            except Exception as err:  # noqa: BLE001 - every attachment gets its DEL
                self.runtime.forget(attachment)
                failures.append(f"DEL {attachment.container_id[:12]} {attachment.ifname}: {err}")
        return failures

    def close(self) -> None:
        """DEL what is left, end the private mounts, remove the namespaces and the work dir.
        A namespace that cannot be removed is an error: it would stay on the node for good."""
        failures = []
        try:
            self.delete_all()
        finally:
            self.mounts.stop()  # first: its mount namespace holds copies of the pods' /run/netns mounts
            for ns in [*reversed(self.pods), self.node]:
                try:
                    ns.remove()
                except NetnsError as err:
                    failures.append(str(err))
            shutil.rmtree(self.work, ignore_errors=True)
        if failures:
            raise NetnsError("; ".join(failures))


def leftover_key(line: str) -> str:
    """A leftover without the namespace it is in (each case has its own): `links left: cnfbr0 (bridge)`."""
    return line.split(": ", 1)[1] if line.startswith("cni-") else line


def _not_from(expected: set[str], found: list[str]) -> list[str]:
    """`found` without what is in `expected`, and without the addresses and routes of a device
    `expected` says is left (its link-local address differs from case to case)."""
    devices = [key.split("links left: ", 1)[1].split()[0] for key in expected if key.startswith("links left: ")]
    return [
        line
        for line in found
        if leftover_key(line) not in expected and not any(f" dev {d} " in line + " " for d in devices)
    ]


def kind_text(kind: str) -> str:
    return {
        INTERFACE: "interface plugins (whose ADD result lists CNI_IFNAME in CNI_NETNS)",
        DELEGATING: "delegating plugins (with `ipam.type` in their config)",
        IPAM: "IPAM plugins (whose ADD result has no `interfaces`)",
        CHAINED: "chained plugins (not first in their list)",
    }.get(kind, kind)
