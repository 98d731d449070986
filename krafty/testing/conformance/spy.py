"""A recording stand-in for a delegating plugin's IPAM plugin, put first on CNI_PATH under its name.

It logs every call (command, the CNI variables, stdin) as a JSON line and answers a verb with a
chosen error object when told to. Otherwise it answers VERSION, GC and STATUS itself (it speaks
every version up to 1.1.0, so a plugin that forwards GC and STATUS only to delegates that speak
1.1.0 does forward them), and runs the real IPAM plugin (found further on CNI_PATH) for ADD, CHECK
and DEL with the same stdin and environment, passing its answer through; a request of a 1.x
version the real plugin does not list goes to it at the newest 1.x it lists (the abbreviated IPAM
result is the same in every 1.x). So the delegation rules see what the plugin under test sends its
delegate, while the delegate still works.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SPOKEN = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]

_SCRIPT = r"""#!{python} -IS
import json, os, subprocess, sys
LOG, CONTROL, REAL, REAL_VERSIONS, SPOKEN = {log!r}, {control!r}, {real!r}, {real_versions!r}, {spoken!r}
data = sys.stdin.buffer.read()
command = os.environ.get("CNI_COMMAND", "")
entry = {{"command": command, "env": {{k: v for k, v in os.environ.items() if k.startswith("CNI_")}},
         "stdin": data.decode(errors="replace")}}
with open(LOG, "a") as log:
    log.write(json.dumps(entry) + "\n")
try:
    request = json.loads(data)
    version = request.get("cniVersion", "")
except (ValueError, AttributeError):
    request, version = None, ""
try:
    with open(CONTROL) as f:
        answers = json.load(f)
except FileNotFoundError:
    answers = {{}}
if command in answers:
    sys.stdout.write(json.dumps({{"cniVersion": version, **answers[command]}}))
    sys.exit(1)
if command == "VERSION":
    sys.stdout.write(json.dumps({{"cniVersion": version or SPOKEN[-1], "supportedVersions": SPOKEN}}))
    sys.exit(0)
if command in ("GC", "STATUS"):
    sys.exit(0)
if REAL is None:
    answer = {{"cniVersion": version, "code": 999, "msg": "conformance spy: no IPAM plugin to run"}}
    sys.stdout.write(json.dumps(answer))
    sys.exit(1)
newest_1x = [v for v in REAL_VERSIONS if v.startswith("1.")][-1:]
if isinstance(request, dict) and version.startswith("1.") and version not in REAL_VERSIONS and newest_1x:
    request["cniVersion"] = newest_1x[0]
    done = subprocess.run([REAL], input=json.dumps(request).encode(), stdout=subprocess.PIPE)
    out = done.stdout
    try:
        answer = json.loads(out)
        if isinstance(answer, dict) and "cniVersion" in answer:
            answer["cniVersion"] = version
            out = json.dumps(answer).encode()
    except ValueError:
        pass
    sys.stdout.buffer.write(out)
    sys.exit(done.returncode)
sys.exit(subprocess.run([REAL], input=data).returncode)
"""


class Spy:
    """The stand-in installed as `name` in `bin_dir`; `real` is the plugin it forwards to."""

    def __init__(self, bin_dir: Path, name: str, real: Path | None, real_versions: Sequence[str] = ()) -> None:
        self.log = bin_dir / f".{name}.calls.jsonl"
        self.control = bin_dir / f".{name}.answers.json"
        self.path = bin_dir / name
        text = _SCRIPT.format(
            python=sys.executable,
            log=str(self.log),
            control=str(self.control),
            real=str(real) if real else None,
            real_versions=list(real_versions),
            spoken=SPOKEN,
        )
        self.path.write_text(text)
        self.path.chmod(0o755)

    def calls(self, command: str | None = None) -> list[dict[str, Any]]:
        """Every call so far (of one command), oldest first; `stdin` parsed where it is JSON."""
        if not self.log.exists():
            return []
        found = []
        for line in self.log.read_text().splitlines():
            entry = json.loads(line)
            try:
                entry["config"] = json.loads(entry["stdin"])
            except ValueError:
                entry["config"] = None
            if command is None or entry["command"] == command:
                found.append(entry)
        return found

    def fail(self, command: str, code: int, msg: str = "conformance spy: told to fail") -> None:
        """Answer `command` from now on with this error object (exit 1)."""
        answers = json.loads(self.control.read_text()) if self.control.exists() else {}
        answers[command] = {"code": code, "msg": msg}
        self.control.write_text(json.dumps(answers))
