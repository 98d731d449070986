"""Run CNI plugins as libcni does, and check every answer against the spec.

A network config is one plugin's config or a conflist (`plugins: [...]`). Each plugin runs
by `type` from CNI_PATH, in the node namespace, with the list's `name` and `cniVersion`
(picked from `cniVersions` as libcni picks it), the caller's environment plus the CNI
variables. ADD runs the plugins in order, chaining `prevResult`; CHECK and DEL pass the
cached result of the whole list (DEL in reverse order); `runtimeConfig` carries only the
capabilities a plugin declares; GC first DELs the network's cached attachments that are
not valid, then passes `cni.dev/valid-attachments`. Results are cached per attachment in
libcni's format (`<cache>/results/<network>-<container>-<ifname>`). Where the harness
differs from libcni on purpose, docs/harness/runtime.md lists it.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import re
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from krafty.testing import verify
from krafty.testing.mounts import PrivateMounts
from krafty.testing.netns import Netns
from krafty.testing.versions import has_check, has_gc, has_status
from krafty.types import SPEC_VERSION, error_violations, result_violations, version_violations

DEFAULT_CNI_PATH = ("/opt/cni/bin", "/usr/lib/cni")
# Seconds a plugin call may take. Generous: in a TCG VM one Python plugin call costs seconds,
# and a concurrency test runs eight of them at once beside the other tests.
DEFAULT_TIMEOUT = 300.0
CACHE_KIND = "cniCacheV1"
Env = Mapping[str, str | None]


class CniSpecViolation(AssertionError):
    """A plugin answered outside the spec: the test fails, naming the plugin and the rule."""

    attachment: Attachment | None = None

    def __init__(self, message: str, *, plugin: str = "", command: str = "", rule: str = "") -> None:
        super().__init__(message)
        self.plugin = plugin
        self.command = command
        self.rule = rule


class CniCallError(Exception):
    """A plugin answered with a CNI error object: `.code`, `.msg`, `.details`."""

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


class CniExecError(Exception):
    """The harness could not run the plugin (no `type`, not found, not executable): the plugin
    never answered, so this is not a CniCallError."""

    attachment: Attachment | None = None

    def __init__(self, message: str, *, plugin: str = "", command: str = "") -> None:
        super().__init__(message)
        self.plugin = plugin
        self.command = command


class CniTimeout(Exception):
    """The plugin did not finish in time; its whole process group was killed."""

    attachment: Attachment | None = None

    def __init__(
        self, plugin: str, command: str, seconds: float, running: Sequence[str] = (), stderr: str = ""
    ) -> None:
        message = f"{plugin} {command} did not finish within {seconds:g} s: its process group was killed"
        message += "".join(f"\n  still running: {process}" for process in running)
        message += f"\n  its stderr until then:\n{stderr.rstrip()}" if stderr.strip() else ""
        super().__init__(message)
        self.plugin = plugin
        self.command = command
        self.seconds = seconds
        self.running = list(running)  # pid, command line and kernel wait of each process of its group
        self.stderr = stderr


class CniRuntimeError(Exception):
    """The runtime refuses the call, as libcni would (CHECK below 0.4.0, a bad cniVersion, ...)."""

    attachment: Attachment | None = None


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
    skip_checks: Mapping[str, str] = field(default_factory=dict)  # rule id -> why it is off for this ADD

    @property
    def netns_path(self) -> str:
        return self.netns.path if isinstance(self.netns, Netns) else str(self.netns)

    @property
    def network(self) -> str:
        return self.config["name"]


# --- the network config, loaded as libcni loads it ----------------------------------------


def parse_version(version: str) -> tuple[int, int, int]:
    """libcni's ParseVersion: one to three integer parts ("1", "1.0", "1.0.0")."""
    parts = version.split(".")
    if len(parts) > 3 or not all(re.fullmatch(r"[+-]?[0-9]+", part) for part in parts):
        raise CniRuntimeError(f"malformed cniVersion {version!r}: libcni reads one to three integer parts")
    numbers = [int(part) for part in parts] + [0, 0]
    return numbers[0], numbers[1], numbers[2]


def _pick_version(conflist: Mapping[str, Any]) -> str:
    """libcni's NetworkConfFromBytes: the highest of `cniVersions` (and `cniVersion`) that
    libcni implements (1.1.0), else `cniVersion` as given."""
    version = conflist.get("cniVersion")
    version = "" if version is None else version
    if not isinstance(version, str):
        raise CniRuntimeError(f"cniVersion must be a string, not {json.dumps(version)}")
    if "cniVersions" in conflist:
        listed = conflist["cniVersions"]
        if not isinstance(listed, list) or not all(isinstance(v, str) for v in listed):
            raise CniRuntimeError(f"cniVersions must be a list of strings, not {json.dumps(listed)}")
        current = parse_version(SPEC_VERSION)
        usable = [v for v in [*listed, *([version] if version else [])] if parse_version(v) <= current]
        if usable:
            version = max(usable, key=parse_version)
    if not version:
        raise CniRuntimeError("the config has no cniVersion (libcni would run it as 0.1.0; the harness refuses)")
    parse_version(version)
    return version


def _read_bool(conflist: Mapping[str, Any], key: str) -> bool:
    """libcni's readBool: true/false, or the strings "true"/"false" in any case."""
    value = conflist.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise CniRuntimeError(f"invalid value {json.dumps(value)} for {key}")


def as_list(config: Mapping[str, Any]) -> dict[str, Any]:
    """A conflist for any config: a single plugin's config becomes a list of one, as libcni does."""
    if "plugins" in config:
        return copy.deepcopy(dict(config))
    plugin = copy.deepcopy({k: v for k, v in config.items() if k not in ("name", "cniVersion")})
    return {"cniVersion": config.get("cniVersion"), "name": config.get("name"), "plugins": [plugin]}


def network_list(config: Mapping[str, Any]) -> dict[str, Any]:
    """The conflist libcni would run for `config` (its version picked, its flags read), or the
    error libcni gives before any plugin runs."""
    if not isinstance(config, Mapping):
        raise CniRuntimeError(f"a network config is a JSON object (a dict), not {type(config).__name__}")
    conflist = as_list(config)
    if not isinstance(conflist.get("name"), str) or not conflist["name"]:
        raise CniRuntimeError("the config has no `name` (a non-empty string)")
    conflist["cniVersion"] = _pick_version(conflist)
    conflist["disableCheck"] = _read_bool(conflist, "disableCheck")
    conflist["disableGC"] = _read_bool(conflist, "disableGC")
    plugins = conflist.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        raise CniRuntimeError("`plugins` must be a non-empty list")
    for index, plugin in enumerate(plugins):
        where = f"plugins[{index}]: " if "plugins" in config else ""
        if not isinstance(plugin, dict):
            raise CniRuntimeError(f"{where}a plugin's config is a JSON object")
        if not isinstance(plugin.get("type"), str) or not plugin["type"]:
            raise CniExecError(f"{where}the config has no `type` (the plugin's file name)")
    return conflist


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


# --- the plugin process (shared with kill.py) ---------------------------------------------


def start(argv: list[str], env: Mapping[str, str], stdout: IO[bytes], stderr: IO[bytes]) -> subprocess.Popen[bytes]:
    """The plugin in a process group of its own, so that a kill reaches the IPAM children it starts.

    stdout and stderr go to files, not pipes: a child left running cannot block the reader.
    """
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, env=env, start_new_session=True)


def group_members(pgid: int) -> list[Path]:
    """The /proc directories of the group's processes that still run. A zombie has finished:
    where init reaps orphans late or never (a container without an init), the group's exited
    children linger as zombies, and kill(-pgid, 0) would still find them."""
    members = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            state, _ppid, group = (proc / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except OSError:
            continue  # gone while we looked
        if int(group) == pgid and state not in ("Z", "X"):
            members.append(proc)
    return members


def doing(proc: Path) -> str:
    """What a process is: its pid and command line, and the kernel function it waits in (a
    lock, a pipe, a child, or none while it runs), so that a timeout says where it hung."""
    try:
        argv = (proc / "cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
        wchan = (proc / "wchan").read_text()
    except OSError:
        return f"{proc.name} (gone)"
    return f"{proc.name} `{argv}` " + (f"waiting in {wchan}" if wchan not in ("", "0") else "running")


def kill_group(pgid: int) -> None:
    """SIGKILL a plugin's whole process group (nothing to do when it is already gone)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


# nsenter (or unshare) reports that it could not exec the plugin: 126 not executable, 127 not found.
_EXEC_FAILED = re.compile(r"(?:nsenter|unshare): failed to execute (.*)")


class Runtime:
    """A container runtime for tests: plugins run in `node`, found on `cni_path`."""

    def __init__(
        self,
        node: Netns,
        cni_path: Sequence[str | Path],
        cache_dir: Path,
        *,
        plugin_dir: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        mounts: PrivateMounts | None = None,
    ) -> None:
        self.node = node
        self.mounts = mounts  # plugins run in this private mount namespace (krafty.testing.mounts)
        self.plugin_dir = plugin_dir
        self.cni_path = [str(p) for p in ([plugin_dir] if plugin_dir else []) + list(cni_path)]
        self.cache_dir = cache_dir
        self.timeout = timeout
        self.attachments: list[Attachment] = []
        self.checks_off: list[tuple[str, str]] = []  # (rule, reason) of every skip_checks, for the report

    # --- the plugins ----------------------------------------------------------------------

    def install(self, type_name: str, plugin: str | Path) -> Path:
        """Put an executable first on CNI_PATH: a file (a Path, linked) or a script's text (a str)."""
        if self.plugin_dir is None:
            raise RuntimeError("this runtime has no per-test plugin directory")
        if isinstance(plugin, str) and os.path.isfile(plugin):
            raise TypeError(
                f"install({type_name!r}, {plugin!r}): a str is a script's text, and this one names a file; "
                f"pass Path({plugin!r}) to install that file"
            )
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
        """libcni's FindInPath: the first regular file named `type` on CNI_PATH, which must
        then be executable; else CniExecError."""
        if not isinstance(type_name, str) or not type_name:
            raise CniExecError("the config has no `type` (the plugin's file name)")
        if "/" in type_name:
            raise CniExecError(f"invalid plugin name {type_name!r}: a `type` is a file name", plugin=type_name)
        for directory in self.cni_path:
            candidate = Path(directory, type_name)
            if candidate.is_file():
                if not os.access(candidate, os.X_OK):
                    raise CniExecError(f"plugin {type_name!r} is not executable: {candidate}", plugin=type_name)
                return candidate
        raise CniExecError(f"failed to find plugin {type_name!r} in path {self.cni_path}", plugin=type_name)

    def environment(self, command: str, container_id: str, netns: str, ifname: str, args: str = "") -> dict[str, str]:
        """The caller's environment plus the six CNI variables, as libcni's invoke.Args.AsEnv;
        VERSION gets libcni's dummy values (for plugins built on an old skel)."""
        path = ":".join(self.cni_path)
        if command == "VERSION":
            container_id, netns, ifname, args, path = "", "dummy", "dummy", "", "dummy"
        return {
            **os.environ,
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": container_id,
            "CNI_NETNS": netns,
            "CNI_ARGS": args,
            "CNI_IFNAME": ifname,
            "CNI_PATH": path,
        }

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
        env: Env | None = None,
    ) -> CallOutput:
        """Run one plugin once, unchecked: for tests of malformed input.

        `config` goes to stdin as given (bytes) or as JSON; `plugin` defaults to its `type`.
        `env` entries override the environment (None removes a variable). A plugin that
        cannot be run raises CniExecError; one that outlives the timeout, CniTimeout.
        """
        raw = config if isinstance(config, bytes) else json.dumps(config or {}).encode()
        if plugin is None:
            if not isinstance(config, Mapping):
                raise ValueError("call() needs plugin= when the config is not a mapping")
            plugin = config.get("type")  # type: ignore[assignment]
        try:
            argv = self.argv(self.find(plugin))  # type: ignore[arg-type]
        except CniExecError as err:
            err.command = command
            raise
        path = netns.path if isinstance(netns, Netns) else netns
        environ = self.environment(command, container_id, path, ifname)
        for key, value in (env or {}).items():
            if value is None:
                environ.pop(key, None)
            else:
                environ[key] = value
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                proc = start(argv, environ, out, err)
            except OSError as exc:
                message = f"{plugin} {command}: cannot execute {argv[-1]}: {exc}"
                raise CniExecError(message, plugin=plugin, command=command) from None
            running = None  # what was still running when the plugin outlived the timeout
            try:
                proc.communicate(raw, timeout=self.timeout)
            except subprocess.TimeoutExpired:
                running = [doing(member) for member in group_members(proc.pid)]
                kill_group(proc.pid)
                proc.communicate()
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        if running is not None:
            raise CniTimeout(plugin, command, self.timeout, running, stderr)
        output = CallOutput(proc.returncode, stdout, stderr)
        failed = _EXEC_FAILED.match(output.stderr) if output.status in (126, 127) and not output.stdout else None
        if failed:
            raise CniExecError(f"{plugin} {command}: cannot execute {failed.group(1)}", plugin=plugin, command=command)
        return output

    def _exec(
        self,
        command: str,
        conf: dict[str, Any],
        attachment: Attachment | None = None,
        env: Env | None = None,
    ) -> dict[str, Any] | None:
        """One checked call: a result for ADD, nothing for the rest, else an exception."""
        plugin = conf["type"]
        environ: dict[str, str | None] = {"CNI_ARGS": cni_args(attachment.args)} if attachment else {}
        environ.update(env or {})
        output = self.call(
            command,
            conf,
            plugin=plugin,
            container_id=attachment.container_id if attachment else "",
            netns=attachment.netns_path if attachment else "",
            ifname=attachment.ifname if attachment else "",
            env=environ,
        )
        return check_answer(plugin, command, conf["cniVersion"], output, attachment)

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
        env: Env | None = None,
        skip_checks: Mapping[str, str] | None = None,
    ) -> Attachment:
        """ADD every plugin of the list in order; the last result is the attachment's.

        Each result is held against the kernel (krafty.testing.verify); `skip_checks`
        turns rules off for this call, rule id -> the reason, which the test report shows.
        Whatever a failure raises carries `.attachment`, and the attachment stays in
        `self.attachments` for the DEL a runtime sends after a failed ADD (unless its first
        plugin could not even be run: then nothing was made).
        """
        conflist = network_list(config)
        attachment = new_attachment(config, netns, container_id, ifname, args, capability_args)
        attachment.skip_checks = verify.skips(skip_checks)
        result: dict[str, Any] | None = None
        try:
            for plugin in conflist["plugins"]:
                conf = plugin_config(conflist, plugin, result, capability_args)
                result = self._exec("ADD", conf, attachment, env)
                self._verify(attachment, conf, result, final=plugin is conflist["plugins"][-1])
        except Exception as err:
            err.attachment = attachment  # type: ignore[attr-defined]
            if not (isinstance(err, CniExecError) and result is None):
                self.attachments.append(attachment)
            raise
        attachment.result = result
        self._cache_write(attachment)
        self.attachments.append(attachment)
        return attachment

    def _verify(self, attachment: Attachment, conf: Mapping[str, Any], result: Any, *, final: bool) -> None:
        """The result against the kernel, right after the plugin answered (before the next runs)."""
        self.checks_off += [off for off in attachment.skip_checks.items() if off not in self.checks_off]
        found = verify.check(result, attachment.netns_path, attachment.ifname, self.node.path, final=final)
        broken = [b for b in found if b.rule not in attachment.skip_checks]
        if broken:
            plugin = conf["type"]
            raise CniSpecViolation(  # add() gives it the attachment
                f"{plugin} ADD: the result does not match the kernel: " + "; ".join(map(str, broken)),
                plugin=plugin,
                command="ADD",
                rule=broken[0].rule,
            )

    def check(
        self,
        attachment_or_config: Attachment | Mapping[str, Any],
        netns: Netns | str = "",
        *,
        container_id: str | None = None,
        ifname: str = "eth0",
        args: Mapping[str, str] | None = None,
        capability_args: Mapping[str, Any] | None = None,
        env: Env | None = None,
    ) -> bool:
        """CHECK every plugin in order with the cached result: True when CHECK ran, False
        when the list's `disableCheck` skipped it. Below 0.4.0: CniRuntimeError, as libcni."""
        attachment = _attachment("check", attachment_or_config, netns, container_id, ifname, args, capability_args)
        conflist = network_list(attachment.config)
        if not has_check(conflist["cniVersion"]):
            version = conflist["cniVersion"]
            raise CniRuntimeError(f"configuration version {json.dumps(version)} does not support the CHECK command")
        if conflist["disableCheck"]:
            return False
        try:
            cached = self._cached_result(attachment)
        except CniRuntimeError as err:
            raise CniRuntimeError(f"failed to get network {attachment.network!r} cached result: {err}") from None
        for plugin in conflist["plugins"]:
            self._exec("CHECK", plugin_config(conflist, plugin, cached, attachment.capability_args), attachment, env)
        return True

    def delete(
        self,
        attachment_or_config: Attachment | Mapping[str, Any],
        netns: Netns | str = "",
        *,
        container_id: str | None = None,
        ifname: str = "eth0",
        args: Mapping[str, str] | None = None,
        capability_args: Mapping[str, Any] | None = None,
        env: Env | None = None,
    ) -> None:
        """DEL every plugin in reverse order with the cached result, then drop the cache.

        Stops at the first error, as libcni does (the attachment stays, for a retry). A
        cache that cannot be read is dropped and DEL runs without `prevResult`, as libcni.
        """
        attachment = _attachment("delete", attachment_or_config, netns, container_id, ifname, args, capability_args)
        conflist = network_list(attachment.config)
        cached = None
        if parse_version(conflist["cniVersion"]) >= (0, 4, 0):
            try:
                cached = self._cached_result(attachment)
            except CniRuntimeError:
                self._cache_path(attachment).unlink(missing_ok=True)
        for plugin in reversed(conflist["plugins"]):
            conf = plugin_config(conflist, plugin, cached, attachment.capability_args)
            self._exec("DEL", conf, attachment, env)
        self._cache_path(attachment).unlink(missing_ok=True)
        self.forget(attachment)

    def forget(self, attachment: Attachment) -> None:
        """Stop tracking an attachment, so teardown sends it no DEL: for a plugin whose DEL
        is known to fail for good (the test has seen it fail and says so)."""
        key = (attachment.network, attachment.container_id, attachment.ifname)
        self.attachments = [a for a in self.attachments if (a.network, a.container_id, a.ifname) != key]

    def gc(
        self,
        config: Mapping[str, Any],
        valid: Iterable[Attachment | tuple[str, str]] | None = (),
        *,
        env: Env | None = None,
    ) -> None:
        """libcni's GCNetworkList: DEL every cached attachment of this network not in `valid`
        (any version), then GC every plugin (1.1.0 and later) with `cni.dev/valid-attachments`
        and `cni.dev/attachments`; `disableGC` skips both. Every failure is collected and
        raised together as one ExceptionGroup. `valid=None` sends no list (libcni's nil args).
        """
        conflist = network_list(config)
        if conflist["disableGC"]:
            return
        keep = None if valid is None else [_gc_key(item) for item in valid]
        errors: list[Exception] = []
        for stale in self._cached_attachments(conflist["name"]):
            if keep is not None and (stale.container_id, stale.ifname) in keep:
                continue
            stale.config = copy.deepcopy(dict(config))
            try:
                self.delete(stale, env=env)
            except Exception as err:  # noqa: BLE001 - libcni collects every error
                err.add_note(f"failed to delete stale attachment {stale.container_id} {stale.ifname}")
                errors.append(err)
        if has_gc(conflist["cniVersion"]):
            listed = None if keep is None else [{"containerID": cid, "ifname": ifname} for cid, ifname in keep]
            for plugin in conflist["plugins"]:
                conf = plugin_config(conflist, plugin)
                if listed is not None:
                    conf["cni.dev/valid-attachments"] = listed
                    conf["cni.dev/attachments"] = listed  # the spec's older name (CNI issue #1101)
                try:
                    self._exec("GC", conf, None, env)
                except Exception as err:  # noqa: BLE001 - libcni collects every error
                    err.add_note(f"failed to GC plugin {plugin['type']}")
                    errors.append(err)
        if errors:
            raise ExceptionGroup(f"GC of network {conflist['name']!r}: {len(errors)} error(s)", errors)

    def status(self, config: Mapping[str, Any], *, env: Env | None = None) -> None:
        """STATUS every plugin in order; the first not ready raises (50/51, or its code).
        Below 1.1.0 nothing runs, as libcni."""
        conflist = network_list(config)
        if not has_status(conflist["cniVersion"]):
            return
        for plugin in conflist["plugins"]:
            self._exec("STATUS", plugin_config(conflist, plugin), None, env)

    def version(self, plugin_type: str, cni_version: str = SPEC_VERSION) -> dict[str, Any]:
        """VERSION's answer, checked: `{"cniVersion", "supportedVersions"}`."""
        output = self.call("VERSION", {"cniVersion": cni_version}, plugin=plugin_type)
        answer = _parse_stdout(plugin_type, "VERSION", output)
        if output.status != 0:
            raise _call_error(plugin_type, "VERSION", answer, output)
        _fail_on(plugin_type, "VERSION", "version.shape", version_violations(answer))
        return answer

    # --- libcni's result cache -----------------------------------------------------------

    def _cache_path(self, attachment: Attachment) -> Path:
        name = f"{attachment.network}-{attachment.container_id}-{attachment.ifname}"
        return self.cache_dir / "results" / name

    def _cache_write(self, attachment: Attachment) -> None:
        """libcni's cacheAdd: the empty fields left out (Go's omitempty), 0600 in a 0700 dir."""
        path = self._cache_path(attachment)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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
        path.write_text(json.dumps({k: v for k, v in entry.items() if v}))
        path.chmod(0o600)

    def _cached_result(self, attachment: Attachment) -> dict[str, Any] | None:
        """libcni's getCachedResult: None without a cache file; an older libcni's file (the
        result alone) is read too; anything else is a CniRuntimeError."""
        try:
            text = self._cache_path(attachment).read_bytes()
        except OSError:
            return None
        try:
            entry = json.loads(text)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            raise CniRuntimeError(f"{self._cache_path(attachment)} does not hold a cached result")
        result = entry.get("result") if entry.get("kind") == CACHE_KIND else entry
        if result is not None and not isinstance(result, dict):
            raise CniRuntimeError(f"{self._cache_path(attachment)} does not hold a cached result")
        return result

    def _cached_attachments(self, network: str) -> list[Attachment]:
        """libcni's GetCachedAttachments for one network: unreadable entries are passed over."""
        results = self.cache_dir / "results"
        found = []
        for path in sorted(results.iterdir()) if results.is_dir() else []:
            try:
                entry = json.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
            if not isinstance(entry, dict) or entry.get("kind") != CACHE_KIND:
                continue
            if not entry.get("ifName") or entry.get("networkName") != network:
                continue
            args = {str(k): str(v) for k, v in entry.get("cniArgs") or []}
            found.append(
                Attachment(
                    {"name": network},
                    str(entry.get("containerId", "")),
                    entry["ifName"],
                    str(entry.get("netns", "")),
                    None,
                    args,
                    entry.get("capabilityArgs") or {},
                )
            )
        return found


def new_attachment(
    config: Mapping[str, Any],
    netns: Netns | str,
    container_id: str | None,
    ifname: str,
    args: Mapping[str, str] | None,
    capability_args: Mapping[str, Any] | None,
) -> Attachment:
    """An attachment holding its own copies: a test that changes its dicts afterwards does not
    change what CHECK and DEL send. A random container ID when `container_id` is None."""
    return Attachment(
        copy.deepcopy(dict(config)),
        container_id or new_container_id(),
        ifname,
        netns,
        None,
        copy.deepcopy(args),
        copy.deepcopy(capability_args),
    )


def _attachment(
    verb: str,
    attachment_or_config: Attachment | Mapping[str, Any],
    netns: Netns | str,
    container_id: str | None,
    ifname: str,
    args: Mapping[str, str] | None,
    capability_args: Mapping[str, Any] | None,
) -> Attachment:
    """check() and delete() take an Attachment, or a config with netns, container_id= and ifname=."""
    if isinstance(attachment_or_config, Attachment):
        return attachment_or_config
    if not isinstance(attachment_or_config, Mapping):
        raise TypeError(f"{verb}() takes an Attachment or a network config, not {attachment_or_config!r}")
    if container_id is None:
        raise ValueError(f"{verb}(config, netns, ...) needs container_id=")
    return new_attachment(attachment_or_config, netns, container_id, ifname, args, capability_args)


def _gc_key(item: Attachment | tuple[str, str]) -> tuple[str, str]:
    if isinstance(item, Attachment):
        return item.container_id, item.ifname
    container_id, ifname = item
    return str(container_id), str(ifname)


def new_container_id() -> str:
    """64 hex characters, like containerd's."""
    return uuid.uuid4().hex + uuid.uuid4().hex


# --- the spec's rules for one answer ------------------------------------------------------


def _fail_on(plugin: str, command: str, rule: str, broken: list[str]) -> None:
    if broken:
        raise CniSpecViolation(
            f"{plugin} {command} broke the spec: " + "; ".join(broken), plugin=plugin, command=command, rule=rule
        )


def _parse_stdout(plugin: str, command: str, output: CallOutput) -> Any:
    """stdout must hold one JSON value and nothing else (logs belong on stderr)."""
    if not output.stdout.strip():
        return None
    try:
        return json.loads(output.stdout)
    except ValueError as err:
        raise CniSpecViolation(
            f"{plugin} {command}: stdout must carry only JSON ({err}): {output.stdout[:300]!r}\n"
            f"stderr: {output.stderr[-2000:]}",
            plugin=plugin,
            command=command,
            rule="stdout.json-only",
        ) from None


def _call_error(
    plugin: str, command: str, answer: Any, output: CallOutput, attachment: Attachment | None = None
) -> CniCallError:
    """The CniCallError for a failed call, once its error object is known to be one."""
    if answer is None:
        raise CniSpecViolation(
            f"{plugin} {command} exited {output.status} without an error object on stdout\n"
            f"stderr: {output.stderr[-2000:]}",
            plugin=plugin,
            command=command,
            rule="error.object",
        )
    _fail_on(plugin, command, "error.object", error_violations(answer))
    return CniCallError(
        plugin, command, answer["code"], answer["msg"], answer.get("details", ""), output.stderr, attachment
    )


def check_answer(
    plugin: str, command: str, cni_version: str, output: CallOutput, attachment: Attachment | None = None
) -> dict[str, Any] | None:
    """The spec's rules for an answer: a valid result (ADD) or nothing, else a valid error."""
    answer = _parse_stdout(plugin, command, output)
    if output.status != 0:
        raise _call_error(plugin, command, answer, output, attachment)
    if command == "ADD":
        if answer is None:
            message = f"{plugin} ADD succeeded without a result on stdout"
            raise CniSpecViolation(message, plugin=plugin, command=command, rule="result.shape")
        _fail_on(plugin, command, "result.shape", result_violations(answer, cni_version))
        return answer
    if answer is not None:
        raise CniSpecViolation(
            f"{plugin} {command} succeeded but printed {output.stdout[:300]!r}: it must print nothing",
            plugin=plugin,
            command=command,
            rule="stdout.empty",
        )
    return None
