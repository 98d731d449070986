"""Run one command as root inside a throwaway QEMU VM whose kernel has what a test needs.

Root tests may need kernel features (VRF, ipvlan, ...) that the kernel this code runs on lacks.
This module boots Debian's stock kernel under QEMU (KVM where it really works, else TCG)
over the host's own root filesystem, shared read-only through 9p with a tmpfs overlay on
top, runs the command chrooted into that overlay and hands back its exit status. The
interpreter's standard library and the venv come in on read-only ext2 disks instead
(krafty.testing.treeimage): under TCG they are read about twice as fast as over 9p. Writes
vanish at power-off except in the directories passed as ``rw_dirs``, which are shared
read-write at the same paths. Boot once per test session, not per test: a boot costs a few
seconds and code runs 20-30x slower under TCG.

    python -m krafty.testing.vm [--rw DIR]... [--cwd DIR] [--module M]... -- CMD ARGS...
    python -m krafty.testing.vm --prepare

The kernel comes from Debian's archive through apt. Elsewhere, set KRAFTY_VM_KERNEL to a
kernel unpacked as `dpkg-deb -x` leaves a linux-image package: ``boot/vmlinuz-<kver>`` and
``lib/modules/<kver>/`` with 9p, overlay and the needed modules. It is copied into the
cache once per path; remove ``~/.cache/krafty/vm/custom-*`` after changing what it holds.
"""

import argparse
import collections
import ctypes
import dataclasses
import fcntl
import gzip
import hashlib
import lzma
import os
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import typing
from collections.abc import Sequence
from pathlib import Path
from subprocess import DEVNULL, PIPE, STDOUT

from krafty.testing.treeimage import python_trees, tree_image

BOOT_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "overlay", "virtio_blk", "ext4"]
DEFAULT_MODULES = ("vrf", "bridge", "veth", "dummy")
NINEP = "trans=virtio,version=9p2000.L,msize=524288"

# /tmp is left on the overlay, whose upper layer is a tmpfs: writable, volatile and fine for
# unix sockets, while what the host keeps under /tmp (a venv, say) stays visible.
INIT = f"""#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in /mods/*.ko; do insmod "$m"; done
mount -t 9p -o {NINEP},cache=loose,ro hostroot /ro
mount -t 9p -o {NINEP},cache=none ctl /ctl
echo >/ctl/booted
mount -t tmpfs tmpfs /rw
mkdir /rw/upper /rw/work
mount -t overlay -o lowerdir=/ro,upperdir=/rw/upper,workdir=/rw/work overlay /newroot
r=/newroot
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t cgroup2 cgroup2 $r/sys/fs/cgroup
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o ptmxmode=0666 devpts $r/dev/pts
mount -t tmpfs tmpfs $r/dev/shm
mount -t tmpfs tmpfs $r/run
. /ctl/setup.sh
echo /sbin/modprobe-chroot >/proc/sys/kernel/modprobe
ip link set lo up
cp /ctl/cmd.sh $r/run/krafty-cmd.sh
chroot $r /bin/sh /run/krafty-cmd.sh
rc=$?
sync
echo $rc >/ctl/status
poweroff -f
"""

QEMU = shlex.split(
    "qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot -M q35"
    " -append 'console=ttyS0 quiet panic=-1 rdinit=/init' -chardev stdio,id=con,signal=off -serial chardev:con"
)
SHARE = "security_model=none,multidevs=remap"  # QEMU -fsdev options of every 9p share
ACCELERATORS = {"kvm": ["-accel", "kvm", "-cpu", "host"], "tcg": ["-accel", "tcg", "-cpu", "max"]}
BOOT_DEADLINE = 30.0  # seconds a KVM guest gets to reach its init (it needs about one); then TCG


def accelerator(kvm: str = "/dev/kvm", cpuinfo: str = "/proc/cpuinfo") -> tuple[str, str]:
    """("kvm", "") where KVM is worth a try, else ("tcg", why). The device node proves nothing:
    a paravirtual hypervisor offers /dev/kvm without hardware virtualisation, and a stock kernel
    hangs under it. So the CPU must show vmx or svm too, and run() still gives a KVM guest
    BOOT_DEADLINE to boot before it starts over under TCG."""
    if not os.access(kvm, os.R_OK | os.W_OK):
        return "tcg", f"no usable {kvm}"
    lines = Path(cpuinfo).read_text().splitlines()
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    if not {"vmx", "svm"} & set(flags):
        return "tcg", f"{kvm} but no vmx or svm in {cpuinfo}"
    return "kvm", ""


# The kernel runs its module helper in the initramfs' root; the modules live in the chroot.
MODPROBE = '#!/bin/busybox sh\nexec /bin/busybox chroot /newroot /sbin/modprobe "$@"\n'


class VmDied(RuntimeError):
    """The VM ended without writing an exit status: the command's result is unknown."""


KERNEL_ENV = "KRAFTY_VM_KERNEL"
# In the command's environment: what modprobe said when a module asked for did not load (else empty).
MODPROBE_FAILED = "KRAFTY_VM_MODPROBE_FAILED"
NOTE = "krafty.testing.vm: "  # starts every line of this module's own: --quiet leaves them out
BOOTED_IN = "booted in "  # the note that says where a run's time went: "booted in 31 s; the command took 540 s"
_MODPROBE_ERRORS = "/run/krafty-modprobe.err"  # in the guest's root
WHAT_TO_DO = (
    "install your distribution's module for the missing feature (Ubuntu: sudo apt-get install"
    f" linux-modules-extra-$(uname -r)), or set {KERNEL_ENV} to a kernel unpacked as dpkg-deb -x leaves a Debian"
    " linux-image package (boot/vmlinuz-<kver>, lib/modules/<kver>/)"
)


class NoKernel(RuntimeError):
    """No kernel to boot: one line saying what is missing and what to do, for the caller to print."""


class MissingTools(NoKernel):
    """A host tool the VM needs is missing: one line naming each, and its Debian package."""


BUSYBOX = "/bin/busybox"  # static: the initramfs holds a copy of it


def missing_tools() -> str | None:
    """Why the VM cannot be built or booted here (checked before anything is downloaded), or None.
    apt finds the kernel (NoKernel says what to do without it); zstd is asked for only by
    modules that need it."""
    tools = {QEMU[0]: "qemu-system-x86", BUSYBOX: "busybox-static", "depmod": "kmod", "modprobe": "kmod"}
    missing = {tool: package for tool, package in tools.items() if not shutil.which(tool)}
    if not missing:
        return None
    return f"missing {', '.join(missing)}: install {' '.join(dict.fromkeys(missing.values()))}"


@dataclasses.dataclass(frozen=True)
class Image:
    """The cached boot files; modules_dir is bind-mounted at /lib/modules/<kver> in the guest."""

    kernel: Path
    initrd: Path
    kver: str
    modules_dir: Path


def _sh(*argv: str | Path, cwd: Path | None = None) -> str:
    """Run a build step; fail with its stderr rather than a bare CalledProcessError."""
    done = subprocess.run(argv, check=False, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{shlex.join(map(str, argv))} failed:\n{done.stderr.strip()}")
    return done.stdout


def _kernel_package() -> str:
    """The regular (not -cloud-, which lacks 9p) image package Debian's metapackage points to."""
    query = ["apt-cache", "depends", "linux-image-amd64"]
    try:
        done = subprocess.run(query, check=False, capture_output=True, text=True)
    except FileNotFoundError:
        raise NoKernel(f"the VM boots Debian's kernel and there is no apt-cache to find it: {WHAT_TO_DO}") from None
    for line in done.stdout.splitlines():
        kind, _, name = line.strip().partition(": ")
        if kind.endswith("Depends") and name.startswith("linux-image-") and "cloud" not in name:
            return name
    said = (done.stderr.strip().splitlines() or ["no kernel image package"])[-1]
    raise NoKernel(f"the VM boots Debian's kernel and `{shlex.join(query)}` finds none ({said}): {WHAT_TO_DO}")


def _given_kernel(tree: Path) -> str:
    """The cache entry for a kernel tree given in KRAFTY_VM_KERNEL: its version and path."""
    modules = [d for m in ("lib/modules", "usr/lib/modules") for d in (tree / m).glob("*")]
    kvers = [d.name for d in modules if (tree / f"boot/vmlinuz-{d.name}").is_file()]
    if len(kvers) != 1:
        raise NoKernel(f"{KERNEL_ENV}={tree} holds no single boot/vmlinuz-<kver> with lib/modules/<kver>/")
    return f"custom-{kvers[0]}-{hashlib.sha256(str(tree).encode()).hexdigest()[:8]}"


def _image(root: Path) -> Image:
    modules_dir = next((root / "lib/modules").iterdir())
    digest = hashlib.sha256((INIT + MODPROBE + " ".join(BOOT_MODULES)).encode()).hexdigest()[:12]
    initrd = root / f"initrd-{digest}.img"
    return Image(root / "vmlinux", initrd, modules_dir.name, modules_dir)


def _unpack_kernel(bzimage: Path, config: Path) -> bytes:
    """The ELF vmlinux inside a bzImage: TCG boots it ~2.5 s faster (no self-decompression).

    QEMU can only boot an ELF with a PVH entry note; otherwise keep the bzImage.
    """
    data = bzimage.read_bytes()
    setup_sects = data[0x1F1] or 4
    offset, length = struct.unpack_from("<II", data, 0x248)
    payload = data[(setup_sects + 1) * 512 + offset :][:length]
    pvh = config.is_file() and "CONFIG_PVH=y" in config.read_text().split()
    if payload.startswith(b"\xfd7zXZ\0") and pvh:
        return lzma.LZMADecompressor().decompress(payload)
    return data


def _module_bytes(path: Path) -> bytes:
    """busybox insmod wants plain ELF, whatever compression the distribution uses."""
    if path.suffix == ".xz":
        return lzma.decompress(path.read_bytes())
    if path.suffix == ".zst":
        if not shutil.which("zstd"):
            raise MissingTools(f"missing zstd to unpack {path.name}: install zstd")
        return subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    return path.read_bytes()


def _cpio(entries: list[tuple[str, int, bytes]]) -> bytes:
    """A newc archive of (name, mode, data); a character device's data is b'major:minor'."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], 1):
        rdev = [0, 0]
        if mode & 0o170000 == 0o020000:
            rdev, data = [int(n) for n in data.split(b":")], b""
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, *rdev, len(name) + 1, 0]
        out += b"070701" + b"".join(b"%08x" % f for f in fields) + name.encode() + b"\0"
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def _build_kernel(root: Path, package: str, tree: Path | None) -> None:
    """Copy the given kernel tree, or download and unpack the package, into root; index its modules, unwrap vmlinux."""
    if tree is not None:
        shutil.copytree(tree, root, symlinks=True, dirs_exist_ok=True)
    else:
        _sh("apt-get", "download", package, cwd=root)
        deb = next(root.glob("*.deb"))
        _sh("dpkg-deb", "-x", deb, root)
        deb.unlink()
    if not (root / "lib").exists():  # packages built for a merged /usr
        (root / "lib").symlink_to("usr/lib")
    image = _image(root)
    _sh("depmod", "-b", root, image.kver)
    boot = root / "boot"
    config = boot / f"config-{image.kver}"
    image.kernel.write_bytes(_unpack_kernel(boot / f"vmlinuz-{image.kver}", config))
    shutil.rmtree(boot)


def _build_initrd(image: Image, root: Path) -> None:
    """busybox, /init and the modules that mounting 9p and overlay needs, in load order."""
    args = ["-d", root, "-S", image.kver, "-a", "--show-depends", *BOOT_MODULES]
    shown = [line.split() for line in _sh("modprobe", *args).splitlines()]
    kos = dict.fromkeys(Path(w[1]) for w in shown if w[0] == "insmod")
    dirs = ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "mods"]
    entries = [(d, 0o040755, b"") for d in [*dirs, "ro", "rw", "ctl", "newroot"]]
    entries += [
        ("dev/console", 0o020600, b"5:1"),
        ("init", 0o100755, INIT.encode()),
        ("sbin/modprobe-chroot", 0o100755, MODPROBE.encode()),
        ("bin/busybox", 0o100755, Path(BUSYBOX).read_bytes()),
    ]
    entries += [(f"mods/{i:02}.ko", 0o100644, _module_bytes(ko)) for i, ko in enumerate(kos)]
    partial = image.initrd.with_suffix(".partial")
    partial.write_bytes(gzip.compress(_cpio(entries), compresslevel=1))
    partial.rename(image.initrd)


def _cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "krafty/vm"


def _tree_images(console: typing.TextIO) -> list[tuple[Path, Path]]:
    """(tree, image) for the Python trees served from disk images; a tree whose image cannot be
    made is read over 9p, as before, and the console says why."""
    cache_dir = _cache_dir()
    served = []
    with open(cache_dir / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for tree in python_trees():
            try:
                served.append((tree, tree_image(tree, cache_dir)))
            except (OSError, RuntimeError) as err:
                console.write(f"{NOTE}{tree} is read over 9p: {err}\n")
    return served


def prepare(cache_dir: Path | None = None) -> Image:
    """Fetch Debian's kernel and build the initramfs once; later calls reuse them.

    The initramfs is keyed by a hash of the init script, so editing it rebuilds it.
    """
    if why := missing_tools():
        raise MissingTools(why)
    cache_dir = cache_dir or _cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    given = os.environ.get(KERNEL_ENV)
    tree = Path(given).resolve() if given else None
    package = _given_kernel(tree) if tree else _kernel_package()
    root = cache_dir / package
    with open(cache_dir / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not root.exists():
            partial = root.with_name(root.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            _build_kernel(partial, package, tree)
            partial.rename(root)
        image = _image(root)
        if not image.initrd.exists():
            _build_initrd(image, root)
    return image


def _die_with_parent() -> None:
    """Runs in the QEMU child: a SIGKILLed caller runs no finally, so let the kernel end QEMU."""
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _pump(stream: typing.IO[bytes], console: typing.TextIO, tail: collections.deque[str]) -> None:
    """Copy the VM console line by line as it arrives, keeping the tail for VmDied."""
    for raw in stream:
        line = raw.decode(errors="replace").rstrip("\r\n")
        tail.append(line)
        console.write(line + "\n")
        console.flush()


def _scripts(
    image: Image,
    argv: Sequence[str],
    cwd: Path,
    rw_dirs: Sequence[Path],
    env: dict[str, str],
    modules: Sequence[str],
    trees: Sequence[Path] = (),
) -> tuple[str, str, list[tuple[str, str]]]:
    """The init's per-run script (mounts, modules), the command script and QEMU's share options.
    `trees` are on the disks /dev/vda, /dev/vdb, ... in order: each goes over its 9p copy, with a
    tmpfs on top as for the root (a module compiled in the VM is written there)."""
    q = shlex.quote
    modules_at = Path(os.path.realpath("/lib/modules")) / image.kver
    src, dst = q(f"/newroot{image.modules_dir.resolve()}"), q(f"/newroot{modules_at}")
    setup = [f"mkdir -p {dst}", f"mount -o bind {src} {dst}"]
    for i, tree in enumerate(trees):
        disk, layer = f"/dev/vd{chr(ord('a') + i)}", f"/rw/tree{i}"
        options = f"lowerdir=/tree{i},upperdir={layer}/upper,workdir={layer}/work"
        setup.append(
            f"mkdir -p /tree{i} {layer}/upper {layer}/work && mount -t ext2 -o ro {disk} /tree{i}"
            f" && mount -t overlay -o {options} overlay {q(f'/newroot{tree}')}"
            f" || echo {q(f'{NOTE}{tree} is read over 9p: its disk did not mount')}"
        )
    shares = []
    for i, path in enumerate(sorted({p.resolve() for p in rw_dirs})):  # a parent sorts before its subdirectories
        target = q(f"/newroot{path}")
        setup += [f"mkdir -p {target}", f"mount -t 9p -o {NINEP},cache=loose rw{i} {target}"]
        shares.append((f"path={str(path).replace(',', ',,')},{SHARE}", f"rw{i}"))
    if modules:
        setup.append("echo /sbin/modprobe-chroot >/proc/sys/kernel/modprobe")
        setup.append(f"chroot $r modprobe -a {shlex.join(modules)} 2>$r{_MODPROBE_ERRORS} || cat $r{_MODPROBE_ERRORS}")
    assignments = " ".join(q(f"{k}={v}") for k, v in env.items())
    failed = f'${{failed:+"{MODPROBE_FAILED}=$failed"}}'
    cmd = f"failed=$(cat {_MODPROBE_ERRORS} 2>/dev/null)\n"
    cmd += f"cd -- {q(str(cwd))} && exec env -i -- {assignments} {failed} {shlex.join(argv)} </dev/null\n"
    return "\n".join(setup) + "\n", cmd, shares


_NOT_BOOTED = "not booted"


def _boot(
    qemu: list[str],
    ctl: Path,
    console: typing.TextIO,
    tail: collections.deque[str],
    deadline: float,
    watch_boot: bool,
    started: typing.Callable[[subprocess.Popen], None] | None,
) -> str:
    """Run QEMU until it ends or the deadline; "" when it had to be killed at the deadline,
    _NOT_BOOTED when watch_boot and its init did not start in BOOT_DEADLINE, else why it ended."""
    proc = subprocess.Popen(qemu, stdin=DEVNULL, stdout=PIPE, stderr=STDOUT, preexec_fn=_die_with_parent)
    assert proc.stdout is not None
    if started is not None:
        started(proc)
    pump = threading.Thread(target=_pump, args=(proc.stdout, console, tail))
    pump.start()
    reason = "the VM stopped without writing the command's exit status"
    try:
        if watch_boot:
            booted_by = time.monotonic() + BOOT_DEADLINE
            while not (ctl / "booted").exists() and proc.poll() is None:
                if time.monotonic() > booted_by:
                    return _NOT_BOOTED
                time.sleep(0.1)
        proc.wait(max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        reason = ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        pump.join()
    return reason


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    rw_dirs: Sequence[Path] = (),
    env: dict[str, str] | None = None,
    timeout: float = 3000,
    console: typing.TextIO | None = None,
    memory_mb: int = 2048,
    modules: Sequence[str] = DEFAULT_MODULES,
    started: typing.Callable[[subprocess.Popen], None] | None = None,
) -> int:
    """Run argv as root in a fresh VM and return its exit status.

    `modules` are loaded before the command runs; `started` gets the QEMU process (to
    kill it early: the caller was interrupted). Raises VmDied when the VM stopped (panic,
    timeout, QEMU error) before the command's status came back: a missing result must
    never read as a pass.
    """
    for path in [cwd, *rw_dirs]:
        if not path.is_absolute() or not path.is_dir():
            raise NotADirectoryError(f"not an existing absolute directory: {path}")
    console = console or sys.stderr
    env = dict(os.environ if env is None else env)
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    image = prepare()
    served = _tree_images(console)
    ctl = Path(tempfile.mkdtemp(prefix="krafty-vm-"))
    try:
        setup, cmd, shares = _scripts(image, argv, cwd, rw_dirs, env, modules, [tree for tree, _ in served])
        (ctl / "setup.sh").write_text(setup)
        (ctl / "cmd.sh").write_text(cmd)
        qemu = [*QEMU, "-m", str(memory_mb), "-smp", str(os.cpu_count() or 1)]
        qemu += ["-kernel", str(image.kernel), "-initrd", str(image.initrd)]
        for fsdev, tag in [(f"path=/,{SHARE},readonly=on", "hostroot"), (f"path={ctl},{SHARE}", "ctl"), *shares]:
            qemu += ["-fsdev", f"local,id={tag},{fsdev}", "-device", f"virtio-9p-pci,fsdev={tag},mount_tag={tag}"]
        for _, disk in served:
            qemu += ["-drive", f"file={str(disk).replace(',', ',,')},format=raw,if=virtio,readonly=on"]
        tail: collections.deque[str] = collections.deque(maxlen=40)
        deadline = time.monotonic() + timeout
        accel, why = accelerator()
        console.write(f"{NOTE}{accel}{f' ({why})' if why else ''}\n")
        launched = time.time()
        reason = _boot([*qemu, *ACCELERATORS[accel]], ctl, console, tail, deadline, accel == "kvm", started)
        if reason == _NOT_BOOTED:
            console.write(f"{NOTE}the KVM guest did not boot in {BOOT_DEADLINE:g} s: TCG then\n")
            launched = time.time()
            reason = _boot([*qemu, *ACCELERATORS["tcg"]], ctl, console, tail, deadline, False, started)
        reason = reason or f"the VM timed out after {timeout:g} s and was killed"
        status = ctl / "status"
        if not status.exists():
            raise VmDied(f"{reason}\nlast console lines:\n" + "\n".join(tail))
        # The guest's marks are written through the control share: their times are this host's clock.
        booted = (ctl / "booted").stat().st_mtime
        console.write(
            f"{NOTE}{BOOTED_IN}{booted - launched:.0f} s; the command took {status.stat().st_mtime - booted:.0f} s\n"
        )
        return int(status.read_text())
    finally:
        shutil.rmtree(ctl, ignore_errors=True)


class CommandLines:
    """A console showing the command's lines only: not the kernel's (`[    1.234567] ...`),
    nor this module's own notes. A VmDied still carries the whole console's tail."""

    def __init__(self, out: typing.TextIO) -> None:
        self.out = out

    def write(self, text: str) -> None:
        for line in text.splitlines(keepends=True):
            if not _KERNEL_LINE.match(line) and not line.startswith(NOTE):
                self.out.write(line)

    def flush(self) -> None:
        self.out.flush()


_KERNEL_LINE = re.compile(r"\[ *\d+\.\d+\] ")


def main(args: Sequence[str]) -> int:
    split = args.index("--") if "--" in args else len(args)
    opts, cmd = args[:split], args[split + 1 :]
    parser = argparse.ArgumentParser(
        usage="%(prog)s [--rw DIR]... [--cwd DIR] [--timeout S] [--module M]... [--quiet]"  # pragma: no mutate
        " -- CMD ARGS...\n"  # pragma: no mutate
        "       %(prog)s --prepare",  # pragma: no mutate
        description=__doc__.splitlines()[0],  # pragma: no mutate
    )
    parser.add_argument(
        "--rw",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",  # pragma: no mutate
        help="share DIR read-write",  # pragma: no mutate
    )
    parser.add_argument(
        "--cwd",
        type=Path,
        default=Path.cwd(),
        metavar="DIR",  # pragma: no mutate
        help="default: the current directory",  # pragma: no mutate
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3000,
        metavar="S",  # pragma: no mutate
        help="kill the VM after S seconds",  # pragma: no mutate
    )
    parser.add_argument(
        "--module",
        action="append",
        dest="modules",
        metavar="M",  # pragma: no mutate
        help=f"load M first (default: {DEFAULT_MODULES})",  # pragma: no mutate
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="show the command's lines only, not the kernel's or the VM's",  # pragma: no mutate
    )
    parser.add_argument(
        "--prepare",
        action="store_true",
        help="only fetch and build the boot files, print their paths",  # pragma: no mutate
    )
    ns = parser.parse_args(opts)
    if not ns.prepare and not cmd:
        parser.error("no command given after --")
    try:
        if ns.prepare:
            for field, value in dataclasses.asdict(prepare()).items():
                print(f"{field}: {value}")
            return 0
        modules = ns.modules or DEFAULT_MODULES
        console = CommandLines(sys.stderr) if ns.quiet else sys.stderr
        return run(cmd, cwd=ns.cwd.absolute(), rw_dirs=ns.rw, timeout=ns.timeout, modules=modules, console=console)
    except (VmDied, NoKernel) as err:
        # A VM's console was shown already, unless --quiet hid it: then its tail says why.
        told = str(err) if ns.quiet and isinstance(err, VmDied) else str(err).splitlines()[0]
        print(f"{NOTE}{told}", file=sys.stderr)
        return 125


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
