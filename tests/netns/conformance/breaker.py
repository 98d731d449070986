#!/usr/bin/env python3
"""`bridge` with one deliberate break: proves each conformance rule can fail.

Runs Debian's `bridge` (the first on CNI_PATH), except for what `BREAKER_BREAK` names (the
environment reaches every call a runtime makes): a rule id, whose behaviour this wrapper then
gets wrong in the smallest way. It speaks 1.1.0 as well, so that the rules of 1.1.0 can be
broken too: a 1.1.0 request goes to bridge (which stops at 1.0.0) as 1.0.0 and its answer comes
back as 1.1.0 (the two differ in nothing bridge uses), and GC and STATUS, which bridge lacks,
are forwarded to the IPAM plugin when it speaks 1.1.0, as krafty does, and succeed otherwise. The pinned tests
(tests/netns/test_conformance.py) judge it once per break and expect that rule to flip.
"""

import json
import os
import subprocess
import sys
import time


def bridge() -> str:
    for directory in os.environ.get("CNI_PATH", "").split(":"):
        path = os.path.join(directory, "bridge")
        if directory and os.path.isfile(path):
            return path
    return "/usr/lib/cni/bridge"  # VERSION gets CNI_PATH=dummy, as libcni sends it


def answer(obj: dict, status: int = 0) -> None:
    sys.stdout.write(json.dumps(obj))
    sys.exit(status)


VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


def run(data: bytes, env: dict, version: str) -> None:
    """bridge with this stdin and environment; its answer passed through (1.1.0: see above)."""
    if version != "1.1.0":
        sys.exit(subprocess.run([bridge()], input=data, env=env).returncode)
    config = json.loads(data)
    config["cniVersion"] = "1.0.0"
    if isinstance(config.get("prevResult"), dict):
        config["prevResult"] = {**config["prevResult"], "cniVersion": "1.0.0"}
    done = subprocess.run([bridge()], input=json.dumps(config).encode(), env=env, stdout=subprocess.PIPE)
    try:
        out = json.loads(done.stdout)
        out["cniVersion"] = version
        sys.stdout.write(json.dumps(out))
    except (ValueError, TypeError):
        sys.stdout.buffer.write(done.stdout)
    sys.exit(done.returncode)


def gc_or_status(command: str, config: dict, data: bytes, env: dict, broken: str) -> None:
    """GC and STATUS of 1.1.0, forwarded to an IPAM plugin that speaks 1.1.0."""
    if (broken, command) in (("gc.keeps-valid", "GC"), ("status.ready", "STATUS")):
        answer({"cniVersion": "1.1.0", "code": 50 if command == "STATUS" else 999, "msg": "broken"}, 1)
    if (broken, command) in (("delegate.gc", "GC"), ("delegate.status", "STATUS")):
        sys.exit(0)
    ipam = (config.get("ipam") or {}).get("type", "")
    for directory in env.get("CNI_PATH", "").split(":"):
        path = os.path.join(directory, ipam)
        if ipam and directory and os.path.isfile(path):
            asked = subprocess.run([path], input=b'{"cniVersion": "1.1.0"}', env={**env, "CNI_COMMAND": "VERSION"},
                                   capture_output=True)  # fmt: skip
            if asked.returncode == 0 and "1.1.0" in json.loads(asked.stdout).get("supportedVersions", []):
                sys.exit(subprocess.run([path], input=data, env=env).returncode)
            break
    sys.exit(0)


def main() -> None:
    data = sys.stdin.buffer.read()
    env = dict(os.environ)
    command = env.get("CNI_COMMAND", "")
    broken = env.get("BREAKER_BREAK", "")
    try:
        config = json.loads(data)
    except ValueError:
        config = None
        if broken == "config.malformed":
            answer({"code": 7, "msg": "invalid config"}, 1)
    version = config.get("cniVersion", "") if isinstance(config, dict) else ""
    ifname, netns = env.get("CNI_IFNAME", ""), env.get("CNI_NETNS", "")
    has_ifname = (
        bool(netns)
        and subprocess.run(["nsenter", f"--net={netns}", "ip", "link", "show", ifname], capture_output=True).returncode
        == 0
    )

    if command == "VERSION":
        if broken == "version.answer":
            answer({"cniVersion": version})
        if broken == "version.echo":
            answer({"cniVersion": "0.4.0", "supportedVersions": VERSIONS})
        answer({"cniVersion": version, "supportedVersions": VERSIONS})
    if command in ("GC", "STATUS") and version == "1.1.0":
        gc_or_status(command, config, data, env, broken)
    if broken == "env.required" and not env.get("CNI_IFNAME"):
        env["CNI_IFNAME"] = "eth0"
    if broken == "version.unsupported" and version not in ("0.3.0", "0.3.1", "0.4.0", "1.0.0"):
        config["cniVersion"] = "1.0.0"
        data = json.dumps(config).encode()
    if broken == "parallel.add-del" and command in ("ADD", "DEL"):
        # An ADD after a DEL has begun fails: only the round of ADDs beside DELs has one. An ADD
        # waits up to 3 s for a DEL to begin, so the break does not hang on which starts first.
        began = os.path.join(os.path.dirname(sys.argv[0]), "a-del-began")
        if command == "DEL":
            open(began, "w").close()
        else:
            deadline = time.monotonic() + 3
            while not os.path.exists(began) and time.monotonic() < deadline:
                time.sleep(0.05)
            if os.path.exists(began):
                answer({"cniVersion": version, "code": 11, "msg": "an ADD after a DEL began"}, 1)
    if command == "ADD":
        if broken == "add.ifname":
            env["CNI_IFNAME"] = "wrong0"
        if broken == "add.existing-ifname" and has_ifname:
            subprocess.run(["nsenter", f"--net={netns}", "ip", "link", "delete", ifname], check=True)
        if broken == "attach.twice" and ifname != "eth0":
            answer({"cniVersion": version, "code": 101, "msg": "one attachment per container"}, 1)
        if broken == "id.legal" and len(env.get("CNI_CONTAINERID", "")) > 64:
            answer({"cniVersion": version, "code": 4, "msg": "CNI_CONTAINERID too long"}, 1)
        if broken == "delegate.env":
            env["CNI_ARGS"] = ""
        if broken == "delegate.config":
            data = json.dumps({**config, "addedOnTheWay": True}).encode()
        if broken == "add.result":
            done = subprocess.run([bridge()], input=data, env=env, stdout=subprocess.PIPE)
            result = json.loads(done.stdout)
            result["cniVersion"] = "0.3.1" if version != "0.3.1" else "1.0.0"
            answer(result, done.returncode)
    if command == "DEL":
        if broken == "del.idempotent" and config.get("prevResult") and not has_ifname:
            answer({"cniVersion": version, "code": 999, "msg": "nothing to delete"}, 1)
        if broken == "del.unknown" and not config.get("prevResult") and not has_ifname:
            answer({"cniVersion": version, "code": 999, "msg": "nothing to delete"}, 1)
        if broken == "delegate.del":
            sys.exit(0)
    if command == "CHECK":
        if broken == "check.after-add":
            answer({"cniVersion": version, "code": 102, "msg": "drift"}, 1)
        if broken in ("check.detects-missing", "delegate.check"):
            sys.exit(0)
    run(data, env, version)


main()
