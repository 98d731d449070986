"""Build the plugin for nodes without Python: a PyInstaller one-dir bundle of the `krafty` script.

kind's node image has no Python, and Multus (thick) runs delegates chrooted into the node's
root, so `/opt/cni/bin/krafty` must carry its own interpreter. A one-dir bundle starts that
interpreter in place; a one-file build would unpack itself into /tmp on every CNI call.
The bundle still uses the node's glibc, so it is built on the node image's Debian release:
lab.mk runs this script inside a `debian:<release>` container when a Docker engine is
there, and natively otherwise, which this script refuses on any other release.

    python3 bundle/build.py [--release bookworm] [--out bundle-output] [--venv build/bundle-venv]

Output: OUT/krafty.d/ (the bundle), OUT/krafty -> krafty.d/krafty, OUT/build-info.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = "krafty"


def os_release() -> dict[str, str]:
    lines = Path("/etc/os-release").read_text().splitlines()
    return {key: value.strip('"') for key, _, value in (line.partition("=") for line in lines) if value}


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirements() -> list[str]:
    """krafty's runtime dependencies plus the `bundle` extra, as pyproject.toml pins them."""
    return [*project()["dependencies"], *project()["optional-dependencies"]["bundle"]]


def build_venv(path: Path) -> Path:
    """A venv of this interpreter (the distro's: its libpython goes into the bundle)."""
    python = path / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(path)
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *requirements()], check=True)
    return python


def entry_script(work: Path) -> Path:
    """The `krafty` console script as pyproject.toml declares it, as a script PyInstaller can freeze."""
    module, _, function = project()["scripts"][NAME].partition(":")
    work.mkdir(parents=True, exist_ok=True)
    script = work / "entry_point.py"
    script.write_text(f"from {module} import {function}\n\n{function}()\n")
    return script


def pyinstaller(python: Path, work: Path) -> Path:
    """Run PyInstaller (bundle/krafty.spec) over the source tree; krafty itself is not installed in the venv."""
    subprocess.run(
        [
            python,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--distpath",
            work / "dist",
            "--workpath",
            work,
            ROOT / "bundle" / "krafty.spec",
            "--",
            entry_script(work),
            ROOT,
        ],
        check=True,
    )
    return work / "dist" / NAME


def place(built: Path, out: Path) -> Path:
    """OUT/krafty.d is the bundle; OUT/krafty links into it, as /opt/cni/bin does on a node."""
    out.mkdir(parents=True, exist_ok=True)
    bundle = out / f"{NAME}.d"
    shutil.rmtree(bundle, ignore_errors=True)
    shutil.move(built, bundle)
    link = out / NAME
    link.unlink(missing_ok=True)
    link.symlink_to(f"{NAME}.d/{NAME}")
    return link


def call(executable: Path, config: dict, **env: str) -> tuple[int, dict]:
    """One CNI call with nothing but the CNI variables set: no PATH, no PYTHON*, as `env -i` would run it."""
    proc = subprocess.run(
        [executable], input=json.dumps(config).encode(), env=env, capture_output=True, timeout=30, check=False
    )
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError:
        raise SystemExit(f"{executable}: no JSON on stdout (exit {proc.returncode}): {proc.stderr}") from None


def smoke(executable: Path) -> None:
    """VERSION answers, and an ADD gets as far as the pod's netns: the plugin and pyroute2 are in the bundle."""
    _, version = call(executable, {}, CNI_COMMAND="VERSION")
    if "1.1.0" not in version.get("supportedVersions", ()):
        raise SystemExit(f"VERSION answered {version}")
    config = {"cniVersion": "1.1.0", "name": "smoke", "type": NAME, "subnet": "10.9.0.0/24", "gateway": "10.9.0.1"}
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "smoke", "CNI_IFNAME": "net1", "CNI_NETNS": "/nonexistent"}
    status, error = call(executable, {**config, "ipam": {"type": "host-local"}}, **env)
    if status == 0 or error.get("code") != 4:  # 4: CNI_NETNS is not a netns; 999 would be a missing module
        raise SystemExit(f"ADD into a missing netns answered {error}")
    print(f"{executable}: VERSION {version['supportedVersions']}; ADD: {error['msg']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--release", default="bookworm", help="Debian release of the node image")
    parser.add_argument("--out", type=Path, default=ROOT / "bundle-output")
    parser.add_argument("--venv", type=Path, default=ROOT / "build" / "bundle-venv")
    args = parser.parse_args()
    release = os_release()
    if release.get("ID") != "debian" or release.get("VERSION_CODENAME") != args.release:
        raise SystemExit(
            f"bundle: this host is {release.get('PRETTY_NAME', 'unknown')}, the nodes run Debian {args.release}: "
            f"build in a debian:{args.release} container (needs a Docker engine) so the bundle matches their glibc"
        )
    python = build_venv(args.venv)
    executable = place(pyinstaller(python, ROOT / "build" / "pyinstaller"), args.out)
    info = {
        "krafty": project()["version"],
        "python": platform.python_version(),
        "debian": args.release,
        "glibc": platform.libc_ver()[1],
    }
    smoke(executable)
    (args.out / "build-info.json").write_text(json.dumps(info, indent=2) + "\n")  # last: make's target
    print(f"built {executable} ({info})", file=sys.stderr)


if __name__ == "__main__":
    main()
