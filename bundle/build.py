"""Build the plugin for nodes without Python: a relocatable copy of Debian's Python runtime with krafty in it.

kind's node image has no Python, and Multus (thick) runs delegates chrooted into the node's
root, so `/opt/cni/bin/krafty` must carry its own interpreter. The bundle is Debian's
`python3.11` (libpython is linked into it), its standard library less what krafty can never
need, krafty and pyroute2 installed beside it, and the shared libraries the interpreter and
the kept extension modules load that glibc does not provide. The interpreter finds its
standard library relative to its own location (the landmark `lib/python3.11/os.py`), so the
directory works wherever it is put. Every module is compiled ahead into unchecked-hash .pyc
files: nothing is compiled, checked against its source or written at run time (/opt may be
read-only). A POSIX sh launcher starts it with `-I -S`, so a call costs what `python -I -S`
costs plus krafty's imports; nothing is unpacked. The interpreter uses the node's glibc, so
it is built on the node image's Debian release: lab.mk runs this script inside a
`debian:<release>` container when a Docker engine is there, and natively otherwise, which
this script refuses on any other release.

    python3 bundle/build.py [--release bookworm] [--out bundle-output] [--venv build/bundle-venv]

Output: OUT/krafty (the launcher), OUT/krafty.d/ (the runtime), OUT/build-info.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = "krafty"
PYTHON = "/usr/bin/python3.11"  # Debian's; its version is the bundle's (bin/python3.11, lib/python3.11)
VERSION = "python3.11"
CACHE_TAG = "cpython-311"

# Standard library entries krafty can never need: tests, GUIs, build and packaging support,
# docs; sitecustomize.py is Debian's link to /etc and only `site` reads it.
STDLIB_DROP = {
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "turtle.py",
    "ensurepip",
    "venv",
    "lib2to3",
    "pydoc_data",
    "distutils",
    "curses",
    "sitecustomize.py",
    "EXTERNALLY-MANAGED",
    "__pycache__",  # Debian's are timestamp-checked: compile_all() writes unchecked ones instead
}
STDLIB_DROP_PATTERNS = ("config-*",)  # config-3.11-x86_64-linux-gnu: libpython.a and the Makefile, 25 MB
# Extension modules krafty never imports, some with libraries of their own (ncurses, readline,
# Berkeley DB, libxcrypt, libnsl and Kerberos). pyroute2 imports ssl and, through NDB, sqlite3:
# those stay, with libssl, libcrypto and libsqlite3.
DYNLOAD_DROP = re.compile(
    r"^(_test\w*|_ctypes_test|_xxtestfuzz|xxlimited\w*|_xxsubinterpreters"
    r"|_curses\w*|readline|_dbm|_gdbm|_crypt|nis|ossaudiodev|audioop)\."
)
# What glibc provides (every node has it): never copied into the bundle.
GLIBC = re.compile(
    r"^(linux-vdso|ld-linux[\w-]*|lib(c|m|dl|pthread|rt|util|resolv|anl|mvec|BrokenLocale|thread_db|nss_\w+))\.so\.\d+$"
)

LAUNCHER = """#!/bin/sh
# krafty, run by the Python runtime in its bundle directory (bundle/build.py). Shell built-ins only:
# a runtime may run this chrooted into a node's root. The bundle is krafty.d beside this file
# (lab/nodes.py installs a copy naming it by absolute path). -I -S: no PYTHON* variables, no site;
# -B: nothing is ever written into the bundle.
# The interpreter finds its libraries through LD_LIBRARY_PATH, which Python takes off again, so
# the IPAM plugin and other children get the environment the runtime passed.
bundle=${0%"${0##*/}"}krafty.d
LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH+:$LD_LIBRARY_PATH}" exec "$bundle/bin/python3.11" -I -S -B -c '
import os, sys
_, rest, original = os.environ.pop("LD_LIBRARY_PATH", "").partition(":")
if rest:
    os.environ["LD_LIBRARY_PATH"] = original
sys.argv[0] = "krafty"
sys.path.append(sys.prefix + "/lib/python3.11/site-packages")
from krafty.entry import main
sys.exit(main())
' "$@"
"""


def os_release() -> dict[str, str]:
    lines = Path("/etc/os-release").read_text().splitlines()
    return {key: value.strip('"') for key, _, value in (line.partition("=") for line in lines) if value}


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def interpreter(python: str) -> dict[str, str]:
    """Where the distro interpreter keeps its standard library and extension modules."""
    code = (
        "import json, sys, sysconfig; print(json.dumps({**sysconfig.get_paths(), 'version': sys.version.split()[0]}))"
    )
    paths = json.loads(subprocess.run([python, "-I", "-c", code], capture_output=True, check=True).stdout)
    if Path(paths["stdlib"]).name != VERSION:
        raise SystemExit(f"bundle: {python} is not {VERSION} ({paths['stdlib']})")
    return paths


def copy_stdlib(stdlib: Path, target: Path) -> None:
    """The standard library less STDLIB_DROP, and lib-dynload less DYNLOAD_DROP."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        dropped = {name for name in names if name in STDLIB_DROP}
        dropped |= {name for name in names for pattern in STDLIB_DROP_PATTERNS if Path(name).match(pattern)}
        if Path(directory) == stdlib / "lib-dynload":
            dropped |= {name for name in names if DYNLOAD_DROP.match(name)}
        return dropped

    shutil.copytree(stdlib, target, ignore=ignore)  # links followed: _sysconfigdata__linux_*.py is one


def pip(venv_dir: Path, python: str) -> list[str]:
    """pip, in a venv of the distro interpreter (Debian's own Python has no pip unless python3-pip is there)."""
    venv_python = venv_dir / "bin" / "python"
    if not venv_python.exists():
        subprocess.run([python, "-m", "venv", "--clear", venv_dir], check=True)
    return [str(venv_python), "-m", "pip", "--disable-pip-version-check", "--quiet"]


def install_packages(pip_command: list[str], site: Path) -> dict[str, str]:
    """krafty from this tree (not editable) and its dependencies as pyproject.toml pins them, no scripts."""
    dependencies = project()["dependencies"]
    subprocess.run(
        [*pip_command, "install", "--no-deps", "--no-compile", "--target", site, ROOT, *dependencies], check=True
    )
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts naming the build venv's python
    for direct_url in site.glob("*.dist-info/direct_url.json"):
        direct_url.unlink()  # the build tree's path
    return {
        name: version
        for name, version in (d.name.removesuffix(".dist-info").split("-") for d in site.glob("*.dist-info"))
    }


def needed_libraries(*elfs: Path) -> dict[str, Path]:
    """soname -> file of every library these ELF files load, transitively (ldd), glibc's included."""
    found: dict[str, Path] = {}
    for elf in elfs:
        env = {"PATH": os.environ.get("PATH", os.defpath)}  # no LD_LIBRARY_PATH: the system's copies
        out = subprocess.run(["ldd", elf], capture_output=True, text=True, check=True, env=env).stdout
        for line in out.splitlines():
            soname, arrow, rest = line.strip().partition(" => ")
            if not arrow:
                continue  # linux-vdso, the loader itself
            if rest.startswith("not found"):
                raise SystemExit(f"bundle: {elf} needs {soname}, which is not installed here")
            found[soname] = Path(rest.split(" (")[0])
    return found


def elf_files(bundle: Path) -> list[Path]:
    return [bundle / "bin" / VERSION, *sorted((bundle / "lib").rglob("*.so"))]


def copy_libraries(bundle: Path) -> list[str]:
    """OUT/krafty.d/lib: what the interpreter and the kept extension modules load, less glibc."""
    libraries = {name: path for name, path in needed_libraries(*elf_files(bundle)).items() if not GLIBC.match(name)}
    for name, path in libraries.items():
        shutil.copy2(path.resolve(), bundle / "lib" / name)
    return sorted(libraries)


def compile_all(bundle: Path) -> None:
    """One .pyc per module, for optimisation level 0, valid whatever the sources' mtimes (unchecked-hash).

    Compiled by the bundled interpreter itself. co_filename is recorded relative to the bundle
    (krafty.d/lib/...); the import system sets it to the real path when it loads a .pyc anyway.
    """
    python = [bundle / "bin" / VERSION, "-I", "-S", "-m", "compileall", "-q", "-f", "-j", "0"]
    options = ["-s", bundle, "-p", f"{NAME}.d", "--invalidation-mode", "unchecked-hash", bundle / "lib" / VERSION]
    subprocess.run([*python, *options], env={"LD_LIBRARY_PATH": str(bundle / "lib")}, check=True)
    missing = [
        source
        for source in (bundle / "lib" / VERSION).rglob("*.py")
        if not (source.parent / "__pycache__" / f"{source.stem}.{CACHE_TAG}.pyc").exists()
    ]
    if missing:
        raise SystemExit(f"bundle: no .pyc for {missing[:5]}")


def build(python: str, venv_dir: Path, stage: Path) -> dict:
    paths = interpreter(python)
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "bin").mkdir(parents=True)
    shutil.copy2(Path(python).resolve(), stage / "bin" / VERSION)
    lib = stage / "lib"
    copy_stdlib(Path(paths["stdlib"]), lib / VERSION)
    packages = install_packages(pip(venv_dir, python), lib / VERSION / "site-packages")
    libraries = copy_libraries(stage)
    compile_all(stage)
    return {"python": paths["version"], "packages": packages, "libraries": libraries}


def place(stage: Path, out: Path) -> Path:
    """OUT/krafty.d is the runtime, OUT/krafty the launcher that finds it beside itself."""
    bundle = out / f"{NAME}.d"
    shutil.rmtree(bundle, ignore_errors=True)
    stage.rename(bundle)
    launcher = out / NAME
    if launcher.is_symlink() or launcher.is_file():
        launcher.unlink()  # the PyInstaller layout had a link here
    launcher.write_text(LAUNCHER)
    launcher.chmod(0o755)
    return launcher


def call(argv: list[str], config: dict, **env: str) -> tuple[int, dict | list]:
    """One call with nothing but the given variables set: no PATH, no PYTHON*, as `env -i` would run it."""
    proc = subprocess.run(
        argv, input=json.dumps(config).encode(), env=env, capture_output=True, timeout=30, check=False
    )
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError:
        raise SystemExit(f"{argv}: no JSON on stdout (exit {proc.returncode}): {proc.stderr}") from None


def smoke(executable: str, prefix: list[str] | None = None) -> str:
    """VERSION answers, an ADD gets as far as the pod's netns (so pyroute2 imports), `inspect --json` runs."""
    argv = [*(prefix or []), executable]
    _, version = call(argv, {}, CNI_COMMAND="VERSION")
    if "1.1.0" not in version.get("supportedVersions", ()):
        raise SystemExit(f"{argv}: VERSION answered {version}")
    config = {"cniVersion": "1.1.0", "name": "smoke", "type": NAME, "subnet": "10.9.0.0/24", "gateway": "10.9.0.1"}
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "smoke", "CNI_IFNAME": "net1", "CNI_NETNS": "/nonexistent"}
    status, error = call(argv, {**config, "ipam": {"type": "host-local"}}, **env)
    if status == 0 or error.get("code") != 4:  # 4: CNI_NETNS is not a netns; 999 would be a missing module
        raise SystemExit(f"{argv}: ADD into a missing netns answered {error}")
    status, listed = call([*argv, "inspect", "--json"], {})
    if status != 0 or not isinstance(listed, list):
        raise SystemExit(f"{argv}: inspect --json answered {listed} (exit {status})")
    return f"VERSION {version['supportedVersions']}; ADD: {error['msg']}; inspect: {len(listed)} attachments"


def chroot_smoke(out: Path) -> str:
    """The smoke test chrooted into a root holding the bundle, /bin/sh and the glibc files they load: nothing else.

    Needs root (chroot(2)); the root has no /proc, /dev or /etc, which the runtime must not need.
    """
    with tempfile.TemporaryDirectory(prefix="krafty-chroot-") as tmp:
        root = Path(tmp)
        shutil.copytree(out / f"{NAME}.d", root / f"{NAME}.d", symlinks=True)
        shutil.copy2(out / NAME, root / NAME)
        (root / "bin").mkdir()
        shutil.copy2(Path("/bin/sh").resolve(), root / "bin" / "sh")
        glibc = needed_libraries(Path("/bin/sh"), *elf_files(out / f"{NAME}.d"))
        for name, path in glibc.items():
            if GLIBC.match(name):
                (root / path.parent.relative_to("/")).mkdir(parents=True, exist_ok=True)
                shutil.copy2(path.resolve(), root / path.relative_to("/"))
        loader = Path("/lib64/ld-linux-x86-64.so.2")
        (root / "lib64").mkdir(exist_ok=True)
        shutil.copy2(loader.resolve(), root / "lib64" / loader.name)
        return smoke(f"/{NAME}", [shutil.which("chroot") or "chroot", str(root)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--release", default="bookworm", help="Debian release of the node image")
    parser.add_argument("--out", type=Path, default=ROOT / "bundle-output")
    parser.add_argument("--venv", type=Path, default=ROOT / "build" / "bundle-venv", help="where pip runs from")
    parser.add_argument("--python", default=PYTHON, help="the distro interpreter to bundle")
    args = parser.parse_args()
    release = os_release()
    if release.get("ID") != "debian" or release.get("VERSION_CODENAME") != args.release:
        raise SystemExit(
            f"bundle: this host is {release.get('PRETTY_NAME', 'unknown')}, the nodes run Debian {args.release}: "
            f"build in a debian:{args.release} container (needs a Docker engine) so the bundle matches their glibc"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "build-info.json").unlink(missing_ok=True)
    stage = args.out / f".{NAME}.d.tmp"
    info = {"krafty": project()["version"], "debian": args.release, "glibc": platform.libc_ver()[1]}
    info |= build(args.python, args.venv, stage)
    launcher = place(stage, args.out)
    print(f"{launcher}: {smoke(str(launcher))}")
    if os.geteuid() == 0 and shutil.which("chroot"):
        print(f"{launcher}, chrooted: {chroot_smoke(args.out)}")
    else:
        print(f"{launcher}: chroot test skipped (needs root)")
    (args.out / "build-info.json").write_text(json.dumps(info, indent=2) + "\n")  # last: make's target
    print(f"built {launcher} ({info['python']}, {', '.join(f'{k} {v}' for k, v in info['packages'].items())})")


if __name__ == "__main__":
    main()
