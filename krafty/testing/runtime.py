"""Run CNI plugins exactly as libcni does, and check every answer against the spec.

A network config is one plugin's config or a conflist (`plugins: [...]`). Each plugin runs
by `type` from CNI_PATH, in the node namespace, with the list's `name` and `cniVersion`.
ADD runs the plugins in order, chaining `prevResult`; CHECK and DEL pass the cached result
of the whole list (DEL in reverse order); `runtimeConfig` carries only the capabilities a
plugin declares; GC passes `cni.dev/valid-attachments`. Results are cached per attachment
in libcni's format (`<cache>/results/<network>-<container>-<ifname>`).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from krafty.testing.mounts import PrivateMounts
from krafty.testing.netns import Netns
from krafty.types import error_violations, result_violations, version_tuple, version_violations

DEFAULT_CNI_PATH = ("/opt/cni/bin", "/usr/lib/cni")
CACHE_KIND = "cniCacheV1"


class CniSpecViolation(AssertionError):
    """A plugin answered outside the spec: the test fails, naming the plugin and the rule."""


class CniCallError(Exception):
    """A plugin answered with a CNI error object (or died): `.code`, `.msg`, `.details`."""

    def __init__(
        self,
        plugin: str,
        command: str,
        code: int,
        msg: str,
        details: str = "",
        stderr: str = "",
        attachment: Attachment | None = None,
    ) -> None:
        super().__init__(f"{plugin} {command}: code {code}: {msg}" + (f" ({details})" if details else ""))
        self.plugin = plugin
        self.command = command
        self.code = code
        self.msg = msg
        self.details = details
        self.stderr = stderr
        self.attachment = attachment


@dataclass(frozen=True)
class CallOutput:
    """One plugin process: exit status, stdout and stderr as text, nothing checked."""

    status: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout) if self.stdout.strip() else None


@dataclass
class Attachment:
    """One network attached to one container interface, as the runtime remembers it."""

    config: dict[str, Any]
    container_id: str
    ifname: str
    netns: Netns | str
    result: dict[str, Any] | None = None
    args: Mapping[str, str] | None = None
    capability_args: Mapping[str, Any] | None = None

    @property
    def netns_path(self) -> str:
        return self.netns.path if isinstance(self.netns, Netns) else str(self.netns)

    @property
    def network(self) -> str:
        return self.config["name"]


def as_list(config: Mapping[str, Any]) -> dict[str, Any]:
    """A conflist for any config: a single plugin's config becomes a list of one, as libcni does."""
    if "plugins" in config:
        return copy.deepcopy(dict(config))
    plugin = {k: v for k, v in config.items() if k not in ("name", "cniVersion")}
    return {"cniVersion": config.get("cniVersion"), "name": config.get("name"), "plugins": [plugin]}


def plugin_config(
    conflist: Mapping[str, Any],
    plugin: Mapping[str, Any],
    prev_result: Mapping[str, Any] | None = None,
    capability_args: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What one plugin gets on stdin: its own config with the list's name and version,
    `prevResult`, and a `runtimeConfig` of the capabilities it declares."""
    conf = copy.deepcopy(dict(plugin))
    conf["name"] = conflist["name"]
    conf["cniVersion"] = conflist["cniVersion"]
    if prev_result is not None:
        conf["prevResult"] = copy.deepcopy(dict(prev_result))
    wanted = {cap for cap, on in (plugin.get("capabilities") or {}).items() if on}
    runtime_config = {cap: value for cap, value in (capability_args or {}).items() if cap in wanted}
    if runtime_config:
        conf["runtimeConfig"] = runtime_config
    return conf


def cni_args(args: Mapping[str, str] | None) -> str:
    return ";".join(f"{key}={value}" for key, value in (args or {}).items())


class Runtime:
    """A container runtime for tests: plugins run in `node`, found on `cni_path`."""

    def __init__(
        self,
        node: Netns,
        cni_path: Sequence[str | Path],
        cache_dir: Path,
        *,
        plugin_dir: Path | None = None,
        timeout: float = 300,
        mounts: PrivateMounts | None = None,
    ) -> None:
        self.node = node
        self.mounts = mounts  # plugins run in this private mount namespace (krafty.testing.mounts)
        self.plugin_dir = plugin_dir
        self.cni_path = [str(p) for p in ([plugin_dir] if plugin_dir else []) + list(cni_path)]
        self.cache_dir = cache_dir
        self.timeout = timeout
        self.attachments: list[Attachment] = []

    # --- the plugins ----------------------------------------------------------------------

    def install(self, type_name: str, plugin: str | Path) -> Path:
        """Put an executable first on CNI_PATH: a file (linked) or a script's text."""
        if self.plugin_dir is None:
            raise RuntimeError("this runtime has no per-test plugin directory")
        target = self.plugin_dir / type_name
        target.unlink(missing_ok=True)
        if isinstance(plugin, Path):
            target.symlink_to(plugin.resolve())
        else:
            text = plugin if plugin.startswith("#!") else "#!/bin/sh\n" + plugin
            target.write_text(text)
            target.chmod(0o755)
        return target

    def find(self, type_name: str) -> Path:
        """The executable a runtime would run for `type`, or a CniCallError as libcni gives."""
        if "/" in type_name or not type_name:
            raise CniCallError(type_name, "exec", 7, f"plugin type {type_name!r} is not a file name")
        for directory in self.cni_path:
            candidate = Path(directory, type_name)
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
        raise CniCallError(type_name, "exec", 7, f"failed to find plugin {type_name!r} in path {self.cni_path}")

    def environment(
        self, command: str, container_id: str = "", netns: str = "", ifname: str = "", args: str = ""
    ) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command,
            "CNI_PATH": ":".join(self.cni_path),
        }
        if command != "VERSION":
            env.update(CNI_CONTAINERID=container_id, CNI_NETNS=netns, CNI_IFNAME=ifname)
            if args:
                env["CNI_ARGS"] = args
        return env

    def argv(self, executable: Path | str) -> list[str]:
        """The plugin entered into the node namespace (and the private mounts); nsenter execs it in place."""
        mounts = self.mounts.nsenter_args() if self.mounts else []
        return ["nsenter", *mounts, f"--net={self.node.path}", str(executable)]

    def call(
        self,
        command: str,
        config: Mapping[str, Any] | bytes | None = None,
        *,
        plugin: str | None = None,
        container_id: str = "",
        netns: Netns | str = "",
        ifname: str = "eth0",
        env: Mapping[str, str | None] | None = None,
    ) -> CallOutput:
        """Run one plugin once, unchecked: for tests of malformed input.

        `config` goes to stdin as given (bytes) or as JSON; `plugin` defaults to its `type`.
        `env` entries override the CNI variables (None removes one).
        """
        raw = config if isinstance(config, bytes) else json.dumps(config or {}).encode()
        if plugin is None:
            if not isinstance(config, Mapping):
                raise ValueError("call() needs plugin= when the config is not a mapping")
            plugin = config["type"]
        path = netns.path if isinstance(netns, Netns) else netns
        environ = self.environment(command, container_id, path, ifname)
        for key, value in (env or {}).items():
            if value is None:
                environ.pop(key, None)
            else:
                environ[key] = value
        done = subprocess.run(
            self.argv(self.find(plugin)),
            input=raw,
            env=environ,
            capture_output=True,
            timeout=self.timeout,
            check=False,
        )
        return CallOutput(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))

    def _exec(
        self,
        command: str,
        conf: dict[str, Any],
        attachment: Attachment | None = None,
    ) -> dict[str, Any] | None:
        """One checked call: a result for ADD, nothing for the rest, else CniCallError."""
        plugin = conf.get("type", "?")
        output = self.call(
            command,
            conf,
            plugin=plugin,
            container_id=attachment.container_id if attachment else "",
            netns=attachment.netns_path if attachment else "",
            ifname=attachment.ifname if attachment else "",
            env={"CNI_ARGS": cni_args(attachment.args) or None} if attachment else None,
        )
        return check_answer(plugin, command, conf.get("cniVersion", ""), output, attachment)

    # --- the verbs, as libcni runs a list ------------------------------------------------

    def add(
        self,
        config: Mapping[str, Any],
        netns: Netns | str,
        *,
        container_id: str | None = None,
        ifname: str = "eth0",
        args: Mapping[str, str] | None = None,
        capability_args: Mapping[str, Any] | None = None,
    ) -> Attachment:
        """ADD every plugin of the list in order; the last result is the attachment's.

        A failure raises CniCallError whose `.attachment` a test may DEL, as a runtime must.
        """
        conflist = as_list(config)
        attachment = Attachment(
            dict(config), container_id or new_container_id(), ifname, netns, None, args, capability_args
        )
        result: dict[str, Any] | None = None
        for plugin in conflist["plugins"]:
            conf = plugin_config(conflist, plugin, result, capability_args)
            result = self._exec("ADD", conf, attachment)
        attachment.result = result
        self._cache_write(attachment)
        self.attachments.append(attachment)
        return attachment

    def check(self, attachment: Attachment) -> None:
        """CHECK every plugin in order with the cached result (skipped: disableCheck)."""
        conflist = as_list(attachment.config)
        if conflist.get("disableCheck") or version_tuple(conflist["cniVersion"]) < (0, 4, 0):
            return
        cached = self._cache_read(attachment)
        if cached is None:
            raise CniSpecViolation(f"CHECK {attachment.container_id}: no cached result (was it added?)")
        for plugin in conflist["plugins"]:
            self._exec("CHECK", plugin_config(conflist, plugin, cached, attachment.capability_args), attachment)

    def delete(
        self,
        attachment_or_config: Attachment | Mapping[str, Any],
        netns: Netns | str = "",
        *,
        container_id: str | None = None,
        ifname: str = "eth0",
        args: Mapping[str, str] | None = None,
        capability_args: Mapping[str, Any] | None = None,
    ) -> None:
        """DEL every plugin in reverse order with the cached result, then drop the cache.

        Stops at the first error, as libcni does (the attachment stays, for a retry).
        """
        if isinstance(attachment_or_config, Attachment):
            attachment = attachment_or_config
        else:
            if container_id is None:
                raise ValueError("delete(config, ...) needs container_id=")
            attachment = Attachment(
                dict(attachment_or_config), container_id, ifname, netns, None, args, capability_args
            )
        conflist = as_list(attachment.config)
        cached = self._cache_read(attachment) if version_tuple(conflist["cniVersion"]) >= (0, 4, 0) else None
        for plugin in reversed(conflist["plugins"]):
            self._exec("DEL", plugin_config(conflist, plugin, cached, attachment.capability_args), attachment)
        self._cache_path(attachment).unlink(missing_ok=True)
        self.attachments = [
            a
            for a in self.attachments
            if (a.network, a.container_id, a.ifname) != (attachment.network, attachment.container_id, attachment.ifname)
        ]

    def gc(self, config: Mapping[str, Any], valid: Sequence[Attachment] = ()) -> None:
        """GC every plugin with `cni.dev/valid-attachments` (skipped: disableGC, < 1.1.0)."""
        conflist = as_list(config)
        if conflist.get("disableGC") or version_tuple(conflist["cniVersion"]) < (1, 1, 0):
            return
        attachments = [{"containerID": a.container_id, "ifname": a.ifname} for a in valid]
        errors: list[CniCallError] = []
        for plugin in conflist["plugins"]:
            conf = plugin_config(conflist, plugin)
            conf["cni.dev/valid-attachments"] = attachments
            try:
                self._exec("GC", conf)
            except CniCallError as err:
                errors.append(err)
        if errors:
            raise errors[0]

    def status(self, config: Mapping[str, Any]) -> None:
        """STATUS every plugin in order; the first not ready raises (50/51, or its code)."""
        conflist = as_list(config)
        if version_tuple(conflist["cniVersion"]) < (1, 1, 0):
            return
        for plugin in conflist["plugins"]:
            self._exec("STATUS", plugin_config(conflist, plugin))

    def version(self, plugin_type: str, cni_version: str = "1.1.0") -> dict[str, Any]:
        """VERSION's answer, checked: `{"cniVersion", "supportedVersions"}`."""
        output = self.call("VERSION", {"cniVersion": cni_version}, plugin=plugin_type)
        answer = _parse_stdout(plugin_type, "VERSION", output)
        if output.status != 0:
            raise _error(plugin_type, "VERSION", answer, output)
        _fail_on(plugin_type, "VERSION", version_violations(answer))
        return answer

    # --- libcni's result cache -----------------------------------------------------------

    def _cache_path(self, attachment: Attachment) -> Path:
        name = f"{attachment.network}-{attachment.container_id}-{attachment.ifname}"
        return self.cache_dir / "results" / name

    def _cache_write(self, attachment: Attachment) -> None:
        path = self._cache_path(attachment)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "kind": CACHE_KIND,
            "containerId": attachment.container_id,
            "config": base64.b64encode(json.dumps(as_list(attachment.config)).encode()).decode(),
            "ifName": attachment.ifname,
            "networkName": attachment.network,
            "netns": attachment.netns_path,
            "cniArgs": [[k, v] for k, v in (attachment.args or {}).items()],
            "capabilityArgs": dict(attachment.capability_args or {}),
            "result": attachment.result,
        }
        path.write_text(json.dumps(entry))

    def _cache_read(self, attachment: Attachment) -> dict[str, Any] | None:
        path = self._cache_path(attachment)
        if not path.exists():
            return None
        return json.loads(path.read_text()).get("result")


def new_container_id() -> str:
    """64 hex characters, like containerd's."""
    return uuid.uuid4().hex + uuid.uuid4().hex


def _fail_on(plugin: str, command: str, broken: list[str]) -> None:
    if broken:
        raise CniSpecViolation(f"{plugin} {command} broke the spec: " + "; ".join(broken))


def _parse_stdout(plugin: str, command: str, output: CallOutput) -> Any:
    """stdout must hold one JSON value and nothing else (logs belong on stderr)."""
    if not output.stdout.strip():
        return None
    try:
        return json.loads(output.stdout)
    except ValueError as err:
        raise CniSpecViolation(
            f"{plugin} {command}: stdout must carry only JSON ({err}): {output.stdout[:300]!r}\n"
            f"stderr: {output.stderr[-2000:]}"
        ) from None


def _error(plugin: str, command: str, answer: Any, output: CallOutput) -> CniCallError:
    if answer is None:
        raise CniSpecViolation(
            f"{plugin} {command} exited {output.status} without an error object on stdout\n"
            f"stderr: {output.stderr[-2000:]}"
        )
    _fail_on(plugin, command, error_violations(answer))
    return CniCallError(plugin, command, answer["code"], answer["msg"], answer.get("details", ""), output.stderr)


def check_answer(
    plugin: str, command: str, cni_version: str, output: CallOutput, attachment: Attachment | None = None
) -> dict[str, Any] | None:
    """The spec's rules for an answer: a valid result (ADD) or nothing, else a valid error."""
    answer = _parse_stdout(plugin, command, output)
    if output.status != 0:
        err = _error(plugin, command, answer, output)
        err.attachment = attachment
        raise err
    if command == "ADD":
        if answer is None:
            raise CniSpecViolation(f"{plugin} ADD succeeded without a result on stdout")
        _fail_on(plugin, command, result_violations(answer, cni_version))
        return answer
    if answer is not None:
        raise CniSpecViolation(
            f"{plugin} {command} succeeded but printed {output.stdout[:300]!r}: it must print nothing"
        )
    return None
