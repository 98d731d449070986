"""krafty.testing.vm's boot files, built from a kernel made here, read back with the real tools.

No VM boots and nothing is downloaded: each test writes a small kernel tree the way
`dpkg-deb -x` leaves a linux-image package (a bzImage at ``boot/vmlinuz-<kver>``, its config,
and ``lib/modules/<kver>/`` with hand-made ELF modules whose symbols give the dependencies
depmod finds), then checks what `prepare` caches: the ELF kernel QEMU boots, the module index,
and an initramfs that the real `cpio` lists, holding busybox, the init and the modules that
mounting 9p, overlay and ext2 needs, dependencies first.
"""

from __future__ import annotations

import gzip
import lzma
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from krafty.testing import vm

KVER = "6.1.0-99-amd64"
# The linux-image package's vmlinux, as far as QEMU's loader cares: an ELF image.
VMLINUX = b"\x7fELF\x02\x01\x01" + bytes(9) + b"a kernel that boots with a PVH note " * 40
PVH_CONFIG = "CONFIG_64BIT=y\nCONFIG_PVH=y\nCONFIG_9P_FS=m\n"
# Who exports what and who needs what, like 9p, 9pnet and netfs in Debian's 6.1 kernel.
MODULES = {
    "virtio_pci": ((), ()),
    "9pnet": (("p9_client_create",), ()),
    "9pnet_virtio": ((), ("p9_client_create",)),
    "netfs": (("netfs_read_folio",), ()),
    "9p": ((), ("p9_client_create", "netfs_read_folio")),
    "overlay": ((), ()),
    "virtio_blk": ((), ()),
    "jbd2": (("jbd2_journal_start",), ()),
    "ext4": ((), ("jbd2_journal_start",)),  # mounts the Python trees' ext2 disks
    "vrf": ((), ()),  # not needed to mount the root: stays out of the initramfs
}
BOOT_SET = {"virtio_pci", "9pnet", "9pnet_virtio", "netfs", "9p", "overlay", "virtio_blk", "jbd2", "ext4"}
MODULE_DEPS = {"9pnet_virtio": {"9pnet"}, "9p": {"9pnet", "netfs"}, "ext4": {"jbd2"}}
# Distributions that compress modules with zstd ship the zstd tool; where it is missing, so is that case.
ZSTD = pytest.param("zstd", marks=pytest.mark.skipif(not shutil.which("zstd"), reason="no zstd here"), id="zstd")


def elf_module(name: str, exports: tuple[str, ...] = (), needs: tuple[str, ...] = ()) -> bytes:
    """A relocatable ELF64 that kmod reads as module `name`: exports in __ksymtab_strings, needs undefined."""
    strtab = b"\0" + b"".join(s.encode() + b"\0" for s in needs)
    symbols, at = [bytes(24)], 1
    for symbol in needs:  # st_name, STB_GLOBAL|STT_NOTYPE, other, SHN_UNDEF, value, size
        symbols.append(struct.pack("<IBBHQQ", at, 0x10, 0, 0, 0, 0))
        at += len(symbol) + 1
    names = ["", ".modinfo", "__ksymtab_strings", ".symtab", ".strtab", ".shstrtab"]
    shstrtab = b"".join(n.encode() + b"\0" for n in names)
    contents = [
        b"",
        f"license=GPL\0name={name}\0".encode(),
        b"".join(s.encode() + b"\0" for s in exports),
        b"".join(symbols),
        strtab,
        shstrtab,
    ]
    body, offsets = bytearray(64), []
    for content in contents:
        body += bytes(-len(body) % 8)
        offsets.append(len(body))
        body += content
    body += bytes(-len(body) % 8)
    section_headers = len(body)
    types = [0, 1, 1, 2, 3, 3]  # NULL, PROGBITS, PROGBITS, SYMTAB, STRTAB, STRTAB
    for i, content in enumerate(contents):
        name_at = sum(len(n) + 1 for n in names[:i])
        symtab = i == 3
        flags = 2 if i in (1, 2) else 0  # SHF_ALLOC
        link, info, align, entsize = (4, 1, 8, 24) if symtab else (0, 0, 1, 0)
        fields = (name_at, types[i], flags, 0, offsets[i] if i else 0, len(content), link, info, align, entsize)
        body += struct.pack("<IIQQQQIIQQ", *fields)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, version 1
    header = struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, section_headers, 0, 64, 0, 0, 64, len(contents), 5)
    body[:64] = ident + header  # ET_REL, EM_X86_64
    return bytes(body)


def bzimage(payload: bytes, setup_sects: int = 27, payload_offset: int = 0x3A0) -> bytes:
    """A bzImage as Linux's boot protocol lays it out: setup, then the protected-mode part with the payload.

    setup_sects lives at 0x1F1 (0 means 4); payload_offset and payload_length at 0x248, counted
    from the protected-mode code, which starts (setup_sects + 1) * 512 bytes in.
    """
    setup = bytearray(((setup_sects or 4) + 1) * 512)
    setup[0x1F1] = setup_sects
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<II", setup, 0x248, payload_offset, len(payload))
    protected = b"\x90" * payload_offset + payload + b"decompressor code after the payload"
    return bytes(setup) + protected


def xz_payload(data: bytes) -> bytes:
    """What kbuild puts in a bzImage for CONFIG_KERNEL_XZ: an xz stream, then the size (4 bytes)."""
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32) + struct.pack("<I", len(data))


def compress(path: Path, tool: str) -> Path:
    """Compress a module as the distribution would (xz or zstd), removing the original."""
    subprocess.run([tool, "-q", *(["--rm"] if tool == "zstd" else []), str(path)], check=True)
    return path.with_name(path.name + (".xz" if tool == "xz" else ".zst"))


def kernel_tree(
    where: Path, kver: str = KVER, compress_with: str = "", modules_under: str = "lib/modules", config: str = PVH_CONFIG
) -> Path:
    """A linux-image package unpacked as dpkg-deb -x leaves it."""
    (where / "boot").mkdir(parents=True)
    (where / "boot" / f"vmlinuz-{kver}").write_bytes(bzimage(xz_payload(VMLINUX)))
    (where / "boot" / f"config-{kver}").write_text(config)
    kernel = where / modules_under / kver / "kernel"
    kernel.mkdir(parents=True)
    for name, (exports, needs) in MODULES.items():
        path = kernel / f"{name}.ko"
        path.write_bytes(elf_module(name, exports, needs))
        if compress_with:
            compress(path, compress_with)
    return where


def deb_of(tree: Path, package: str, where: Path) -> Path:
    """The tree as a real .deb, for a stand-in `apt-get download`."""
    (tree / "DEBIAN").mkdir()
    control = f"Package: {package}\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: t\n"
    (tree / "DEBIAN" / "control").write_text(control)
    deb = where / f"{package}_1_amd64.deb"
    subprocess.run(["dpkg-deb", "--build", "-Zgzip", str(tree), str(deb)], check=True, capture_output=True)
    return deb


def read_initrd(initrd: Path, where: Path) -> tuple[dict[str, str], Path]:
    """The archive's `cpio -tv` lines by name, and its regular files and directories unpacked under where."""
    archive = gzip.decompress(initrd.read_bytes())
    listing = subprocess.run(["cpio", "-t", "-v", "--quiet"], input=archive, capture_output=True, check=True)
    lines = {line.split()[-1]: line for line in listing.stdout.decode().splitlines()}
    where.mkdir()
    unpack = ["cpio", "-i", "-d", "--quiet", "--no-absolute-filenames", "-f", "dev/console"]
    subprocess.run(unpack, input=archive, cwd=where, capture_output=True, check=True)
    return lines, where


def module_name(elf: bytes) -> str:
    found = re.search(rb"name=([^\0]+)\0", elf)
    assert found, "not one of this test's modules"
    return found.group(1).decode()


@pytest.fixture
def given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Set KRAFTY_VM_KERNEL to a tree made by kernel_tree(**kw); returns prepare's Image and the cache."""

    def make(tree: Path | None = None, **kw: str) -> tuple[vm.Image, Path]:
        tree = tree or kernel_tree(tmp_path / "given", **kw)
        monkeypatch.setenv(vm.KERNEL_ENV, str(tree))
        cache = tmp_path / "cache"
        return vm.prepare(cache), cache

    return make


# --- the newc archive ---------------------------------------------------------------------------


def test_the_archive_is_newc_that_cpio_reads_back_with_names_modes_data_and_devices(tmp_path: Path):
    entries = [
        ("dir", 0o040755, b""),
        ("dir/script", 0o100755, b"#!/bin/sh\necho hi\n"),
        ("odd", 0o100600, b"12345"),  # sizes that need padding to 4 bytes
        ("even", 0o100644, b"1234"),
        ("dev/null-ish", 0o020620, b"1:3"),
    ]
    archive = vm._cpio(entries)
    listing = subprocess.run(["cpio", "-t", "-v"], input=archive, capture_output=True, check=True)
    warnings = [w for w in listing.stderr.decode().splitlines() if not re.fullmatch(r"\d+ blocks?", w)]
    assert warnings == [], "cpio has no warning (junk, bad header) to give"
    lines = listing.stdout.decode().splitlines()
    assert [line.split()[-1] for line in lines] == [name for name, _, _ in entries]
    modes = [line.split()[0] for line in lines]
    assert modes == ["drwxr-xr-x", "-rwxr-xr-x", "-rw-------", "-rw-r--r--", "crw--w----"], lines
    assert re.search(r"\b1,\s*3\b", lines[4]), f"character device 1:3 expected: {lines[4]}"
    unpacked = tmp_path / "out"
    unpacked.mkdir()
    only_files = ["cpio", "-i", "-d", "--quiet", "-f", "dev/*"]
    subprocess.run(only_files, input=archive, cwd=unpacked, capture_output=True, check=True)
    assert (unpacked / "dir/script").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert (unpacked / "odd").read_bytes() == b"12345"
    assert (unpacked / "even").read_bytes() == b"1234"


def newc_records(archive: bytes) -> list[tuple[str, list[int], bytes]]:
    """A strict newc reader (man 5 cpio): 070701, 13 hex fields, the name with its NUL, 4-byte alignment."""
    records, at = [], 0
    while True:
        assert archive[at : at + 6] == b"070701", f"no newc header at {at}"
        fields = [int(archive[at + 6 + 8 * i : at + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize, check = fields[11], fields[6], fields[12]
        name = archive[at + 110 : at + 110 + namesize]
        assert name.endswith(b"\0") and b"\0" not in name[:-1], f"namesize counts the name and one NUL: {name!r}"
        assert check == 0, "070701 carries no checksum"
        at += 110 + namesize
        assert not archive[at : at + (-at % 4)].strip(b"\0"), "padding is NULs"
        at += -at % 4
        data = archive[at : at + filesize]
        at += filesize
        assert not archive[at : at + (-at % 4)].strip(b"\0"), "padding is NULs"
        at += -at % 4
        records.append((name[:-1].decode(), fields, data))
        if name == b"TRAILER!!!\0":
            assert at == len(archive), "nothing after the trailer"
            return records


def test_the_archive_is_strict_newc_as_the_kernels_gen_init_cpio_writes_it():
    entries = [("d", 0o040755, b""), ("d/f", 0o100644, b"12345"), ("console", 0o020600, b"5:1"), ("g", 0o100755, b"")]
    records = newc_records(vm._cpio(entries))
    assert [(name, fields[1], data) for name, fields, data in records[:-1]] == [
        ("d", 0o040755, b""),
        ("d/f", 0o100644, b"12345"),
        ("console", 0o020600, b""),
        ("g", 0o100755, b""),
    ]
    # rdevmajor, rdevminor: the device's numbers, 0 for anything else (as usr/gen_init_cpio.c writes them).
    assert [fields[9:11] for _, fields, _ in records[:-1]] == [[0, 0], [0, 0], [5, 1], [0, 0]]
    assert [fields[6] for _, fields, _ in records] == [0, 5, 0, 0, 0], "only regular files carry data"
    trailer = records[-1]
    assert trailer[0] == "TRAILER!!!" and trailer[1][1] == 0 and trailer[2] == b""
    assert len({fields[0] for _, fields, _ in records[:-1]}) == len(entries), "no two entries share an inode"
    assert [name for name, _, _ in newc_records(vm._cpio([]))] == ["TRAILER!!!"], "an empty archive is the trailer"


# --- the kernel QEMU boots ----------------------------------------------------------------------


@pytest.mark.parametrize("setup_sects", [27, 0], ids=["setup_sects=27", "setup_sects=0-means-4"])
def test_a_bzimage_with_an_xz_payload_and_pvh_gives_its_elf_vmlinux(tmp_path: Path, setup_sects: int):
    (tmp_path / "vmlinuz").write_bytes(bzimage(xz_payload(VMLINUX), setup_sects=setup_sects))
    (tmp_path / "config").write_text(PVH_CONFIG)
    assert vm._unpack_kernel(tmp_path / "vmlinuz", tmp_path / "config") == VMLINUX


@pytest.mark.parametrize(
    "config",
    [None, "CONFIG_64BIT=y\n# CONFIG_PVH is not set\n", "CONFIG_PVH=m\n", "CONFIG_PVH=yes\n"],
    ids=["no-config", "pvh-not-set", "pvh-m", "pvh-not-exactly-y"],
)
def test_without_pvh_the_bzimage_itself_is_booted(tmp_path: Path, config: str | None):
    image = bzimage(xz_payload(VMLINUX))
    (tmp_path / "vmlinuz").write_bytes(image)
    if config is not None:
        (tmp_path / "config").write_text(config)
    assert vm._unpack_kernel(tmp_path / "vmlinuz", tmp_path / "config") == image


def test_a_payload_that_is_not_xz_leaves_the_bzimage(tmp_path: Path):
    image = bzimage(gzip.compress(VMLINUX))
    (tmp_path / "vmlinuz").write_bytes(image)
    (tmp_path / "config").write_text(PVH_CONFIG)
    assert vm._unpack_kernel(tmp_path / "vmlinuz", tmp_path / "config") == image


# --- modules as busybox insmod needs them -------------------------------------------------------


@pytest.mark.parametrize("tool", [pytest.param("", id="plain"), "xz", ZSTD])
def test_a_module_is_handed_to_insmod_as_plain_elf_whatever_its_compression(tmp_path: Path, tool: str):
    elf = elf_module("bridge")
    path = tmp_path / "bridge.ko"
    path.write_bytes(elf)
    if tool:
        path = compress(path, tool)
    assert vm._module_bytes(path) == elf


@pytest.mark.skipif(not shutil.which("zstd"), reason="no zstd here")
def test_a_module_zstd_cannot_read_fails_instead_of_going_in_empty(tmp_path: Path):
    path = tmp_path / "bridge.ko.zst"
    path.write_bytes(b"(\xb5/\xfd not really zstd")
    with pytest.raises(subprocess.CalledProcessError):
        vm._module_bytes(path)


def test_a_zstd_module_without_zstd_names_the_module_and_the_package(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no zstd on it
    with pytest.raises(vm.MissingTools, match=r"^missing zstd to unpack bridge\.ko\.zst: install zstd$"):
        vm._module_bytes(tmp_path / "bridge.ko.zst")


# --- prepare: the cache, from a kernel given in KRAFTY_VM_KERNEL ----------------------------------


def test_a_given_kernel_is_cached_with_its_elf_vmlinux_and_indexed_modules(given):
    image, cache = given()
    assert image.kver == KVER
    assert image.kernel.read_bytes() == VMLINUX
    assert image.kernel.is_relative_to(cache) and image.initrd.is_relative_to(cache)
    assert image.modules_dir.is_relative_to(cache) and image.modules_dir.name == KVER
    dep = (image.modules_dir / "modules.dep").read_text()
    assert "kernel/9p.ko:" in dep and "kernel/9pnet.ko" in dep.split("kernel/9p.ko:")[1].splitlines()[0]
    given_tree = Path(os.environ[vm.KERNEL_ENV])
    assert not (given_tree / "lib/modules" / KVER / "modules.dep").exists(), "the given tree is left as it was"
    assert (given_tree / "boot" / f"vmlinuz-{KVER}").exists()


def test_the_initramfs_holds_busybox_the_init_and_the_modules_to_mount_9p_and_overlay_in_load_order(
    given, tmp_path: Path
):
    image, _ = given()
    listing, root = read_initrd(image.initrd, tmp_path / "initrd")
    init = (root / "init").read_text()
    assert init.startswith("#!/bin/busybox sh\n") and listing["init"].startswith("-rwx")
    assert (root / "bin/busybox").read_bytes() == Path("/bin/busybox").read_bytes()
    assert listing["bin/busybox"].startswith("-rwx")
    assert listing["dev/console"].startswith("c") and re.search(r"\b5,\s*1\b", listing["dev/console"])
    # Owners and modes as in the kernel's own default initramfs (usr/default_cpio_list) and
    # modules_install: root's, nothing writable by others, the console for root alone.
    for line in listing.values():
        assert line.split()[2:4] == ["root", "root"], line
        assert line.startswith("d") or line.split()[1] == "1", f"one name, one link: {line}"
    assert listing["dev/console"].startswith("crw------- ")
    assert {listing[name].split()[0] for name in listing if name.startswith("mods/")} == {"-rw-r--r--"}
    assert {
        listing[name].split()[0] for name in listing if listing[name][0] in "d-" and not name.startswith("mods/")
    } == {
        "drwxr-xr-x",
        "-rwxr-xr-x",
    }
    assert {line.split()[4] for line in listing.values() if line.startswith("d")} == {"0"}, "newc: no data in a dir"
    # The kernel's unpacker creates no missing parent: each entry's directory comes before it.
    seen: set[str] = set()
    for name, line in listing.items():
        parent = os.path.dirname(name)
        assert not parent or parent in seen, f"{name} comes before its directory {parent}"
        if line.startswith("d"):
            seen.add(name)
    # Every directory the init mounts on, and where busybox --install puts its links, is there.
    mount_points = {m for m in re.findall(r"^mount .* (/\S+)$", init, re.M)}
    for directory in {*mount_points, "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/mods"}:
        assert listing.get(directory.lstrip("/"), "").startswith("d"), f"{directory} missing: {sorted(listing)}"
    helper = re.search(r"echo (\S+) >/proc/sys/kernel/modprobe", init)
    assert helper and listing[helper.group(1).lstrip("/")].startswith("-rwx"), "the modprobe helper the init names"
    assert "/newroot" in (root / helper.group(1).lstrip("/")).read_text()
    # The init loads /mods/*.ko in the shell's (sorted) order: dependencies must come first.
    loaded = [module_name((root / "mods" / ko).read_bytes()) for ko in sorted(os.listdir(root / "mods"))]
    assert set(loaded) == BOOT_SET and len(loaded) == len(BOOT_SET), loaded
    for module, deps in MODULE_DEPS.items():
        assert all(loaded.index(dep) < loaded.index(module) for dep in deps), loaded
    assert not [p for p in image.initrd.parent.iterdir() if p.suffix == ".partial"]


@pytest.mark.parametrize("tool", ["xz", ZSTD])
def test_compressed_modules_go_into_the_initramfs_as_plain_elf(given, tmp_path: Path, tool: str):
    image, _ = given(compress_with=tool)
    _, root = read_initrd(image.initrd, tmp_path / "initrd")
    kos = [(root / "mods" / ko).read_bytes() for ko in sorted(os.listdir(root / "mods"))]
    assert {module_name(ko) for ko in kos} == BOOT_SET
    assert all(ko == elf_module(module_name(ko), *MODULES[module_name(ko)]) for ko in kos)


def test_links_in_a_given_tree_stay_links_in_the_cache(given, tmp_path: Path):
    """`make modules_install` leaves lib/modules/<kver>/build pointing into the kernel's sources."""
    sources = tmp_path / "linux-sources"
    sources.mkdir()
    (sources / "Makefile").write_text("# the whole kernel source tree would be copied\n")
    tree = kernel_tree(tmp_path / "given")
    (tree / "lib/modules" / KVER / "build").symlink_to(sources)
    image, _ = given(tree=tree)
    build = image.modules_dir / "build"
    assert build.is_symlink() and build.readlink() == sources


def test_a_merged_usr_kernel_package_is_found_under_usr_lib_modules(given):
    image, _ = given(modules_under="usr/lib/modules")
    assert image.kver == KVER and image.kernel.read_bytes() == VMLINUX
    assert (image.modules_dir / "kernel/9p.ko").exists() and (image.modules_dir / "modules.dep").exists()


def test_a_kernel_without_pvh_is_cached_as_its_bzimage(given):
    image, _ = given(config="# CONFIG_PVH is not set\n")
    vmlinuz = Path(os.environ[vm.KERNEL_ENV]) / "boot" / f"vmlinuz-{KVER}"
    assert image.kernel.read_bytes() == vmlinuz.read_bytes()


def test_the_given_kernel_is_copied_once_per_path(given, tmp_path: Path):
    first, cache = given()
    vmlinuz = tmp_path / "given" / "boot" / f"vmlinuz-{KVER}"
    vmlinuz.write_bytes(bzimage(xz_payload(b"\x7fELF another build")))
    assert vm.prepare(cache) == first and first.kernel.read_bytes() == VMLINUX, "the cached copy is reused"
    other = kernel_tree(tmp_path / "other")
    os.environ[vm.KERNEL_ENV] = str(other)
    second = vm.prepare(cache)
    assert second.kernel.parent != first.kernel.parent, "another path is another cache entry"
    assert {p.name for p in cache.iterdir() if p.is_dir()} == {first.kernel.parent.name, second.kernel.parent.name}
    # What the module's docstring tells a user to remove after changing a given tree.
    assert all(p.name.startswith(f"custom-{KVER}-") for p in (first.kernel.parent, second.kernel.parent))


def test_a_removed_initramfs_is_built_again_and_a_half_built_kernel_is_thrown_away(given, tmp_path: Path):
    first, cache = given()
    first.initrd.unlink()
    assert vm.prepare(cache) == first and first.initrd.is_file()
    entry = first.kernel.parent
    partial = entry.with_name(entry.name + ".partial")
    entry.rename(partial)  # as an interrupted build leaves it
    (partial / "junk").write_text("from the interrupted build")
    again = vm.prepare(cache)
    assert again == first and again.kernel.read_bytes() == VMLINUX and again.initrd.is_file()
    assert not partial.exists() and not (entry / "junk").exists()


@pytest.mark.parametrize("script", ["INIT", "MODPROBE"])
def test_editing_the_init_scripts_builds_a_new_initramfs_next_to_the_old(
    given, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str
):
    first, cache = given()
    edited = getattr(vm, script).replace("busybox", "busybox ", 1)
    monkeypatch.setattr(vm, script, edited)
    second = vm.prepare(cache)
    assert second.initrd != first.initrd and first.initrd.is_file() and second.kernel == first.kernel
    _, root = read_initrd(second.initrd, tmp_path / "initrd")
    held = (root / ("init" if script == "INIT" else "sbin/modprobe-chroot")).read_text()
    assert held == edited


@pytest.mark.parametrize("kvers", [["6.1.0-1-amd64", "6.1.0-2-amd64"], []], ids=["two-kernels", "none"])
def test_a_given_tree_without_exactly_one_kernel_is_refused_with_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kvers: list[str]
):
    tree = tmp_path / "tree"
    for kver in kvers:
        kernel_tree(tree / kver, kver=kver)
        shutil.copytree(tree / kver, tree, dirs_exist_ok=True)
        shutil.rmtree(tree / kver)
    (tree / "lib/modules/6.1.0-3-amd64").mkdir(parents=True)  # modules without their vmlinuz do not count
    monkeypatch.setenv(vm.KERNEL_ENV, str(tree))
    with pytest.raises(vm.NoKernel) as raised:
        vm.prepare(tmp_path / "cache")
    assert f"{vm.KERNEL_ENV}={tree}" in str(raised.value) and "boot/vmlinuz-<kver>" in str(raised.value)
    assert not (tmp_path / "cache" / "custom").exists()


def test_a_relative_given_path_names_the_same_cache_entry_as_the_absolute_one(
    given, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    first, cache = given()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(vm.KERNEL_ENV, "given")
    assert vm.prepare(cache) == first


@pytest.mark.parametrize("xdg", [True, False], ids=["XDG_CACHE_HOME", "home"])
def test_the_cache_is_under_xdg_cache_home_or_home_dot_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xdg: bool
):
    kernel_tree(tmp_path / "given")
    monkeypatch.setenv(vm.KERNEL_ENV, str(tmp_path / "given"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if xdg:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", "")  # empty counts as unset
    image = vm.prepare()
    expected = tmp_path / ("xdg" if xdg else "home/.cache") / "krafty" / "vm"
    assert image.kernel.parent.parent == expected and image.kernel.is_file()


# --- prepare: Debian's kernel through apt ---------------------------------------------------------


def stand_in(bin_dir: Path, name: str, script: str) -> None:
    (bin_dir / name).write_text("#!/bin/sh\n" + script)
    (bin_dir / name).chmod(0o755)


APT_CACHE_DEPENDS = """\
linux-image-amd64
 |Depends: linux-image-6.1.0-99-cloud-amd64
  Depends: linux-image-6.1.0-99-amd64
  Recommends: firmware-linux-free
"""


@pytest.fixture
def apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """apt-cache and apt-get stand-ins first on PATH, the real dpkg-deb, depmod and modprobe after them."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.delenv(vm.KERNEL_ENV, raising=False)
    return bin_dir


def test_debians_kernel_package_is_downloaded_unpacked_and_cached_without_the_deb(apt: Path, tmp_path: Path):
    package = f"linux-image-{KVER}"
    deb = deb_of(kernel_tree(tmp_path / "pkg"), package, tmp_path)
    stand_in(apt, "apt-cache", f"cat <<'EOF'\n{APT_CACHE_DEPENDS.replace('6.1.0-99-amd64', KVER)}EOF\n")
    stand_in(
        apt, "apt-get", f'[ "$*" = "download {package}" ] || {{ echo "E: wrong: $*" >&2; exit 100; }}\ncp {deb} .\n'
    )
    image = vm.prepare(tmp_path / "cache")
    assert image.kernel.parent == tmp_path / "cache" / package
    assert image.kver == KVER and image.kernel.read_bytes() == VMLINUX and image.initrd.is_file()
    assert not list(image.kernel.parent.glob("*.deb")), "the download is not kept"
    assert not (image.kernel.parent / "boot").exists(), "the bzImage and config are not kept either"


def test_a_failing_download_says_which_command_failed_and_what_it_said(apt: Path, tmp_path: Path):
    stand_in(apt, "apt-cache", f"echo '  Depends: linux-image-{KVER}'\n")
    stand_in(apt, "apt-get", "echo 'E: Unable to locate package' >&2\nexit 100\n")
    with pytest.raises(RuntimeError) as raised:
        vm.prepare(tmp_path / "cache")
    assert str(raised.value) == f"apt-get download linux-image-{KVER} failed:\nE: Unable to locate package"
    assert not (tmp_path / "cache" / f"linux-image-{KVER}").exists(), "no half-built entry to reuse later"


@pytest.mark.parametrize(
    "answer, package",
    [
        (APT_CACHE_DEPENDS, "linux-image-6.1.0-99-amd64"),
        ("linux-image-amd64\n  PreDepends: linux-image-6.1.0-7-amd64\n", "linux-image-6.1.0-7-amd64"),
        (
            "linux-image-amd64\n  Depends: linux-image-6.1.0-7-cloud-amd64\n  Depends: linux-image-6.1.0-7-rt-amd64\n",
            "linux-image-6.1.0-7-rt-amd64",
        ),
    ],
    ids=["alternatives", "predepends", "cloud-skipped"],
)
def test_the_package_is_the_regular_image_debians_metapackage_depends_on(apt: Path, answer: str, package: str):
    stand_in(apt, "apt-cache", f'[ "$*" = "depends linux-image-amd64" ] || exit 100\ncat <<\'EOF\'\n{answer}EOF\n')
    assert vm._kernel_package() == package


@pytest.mark.parametrize(
    "answer",
    [
        "linux-image-amd64\n  Depends: linux-image-6.1.0-7-cloud-amd64\n",
        "linux-image-amd64\n  Recommends: linux-image-6.1.0-7-amd64\n  Depends: firmware-linux\n",
        "linux-image-amd64\n  Depends: xlinux-image-6.1.0-7-amd64\n",
    ],
    ids=["only-cloud", "not-a-dependency", "not-an-image"],
)
def test_without_a_regular_image_package_the_message_says_what_to_do(apt: Path, answer: str):
    stand_in(apt, "apt-cache", f"cat <<'EOF'\n{answer}EOF\necho 'W: one' >&2\necho 'W: the last line' >&2\n")
    with pytest.raises(vm.NoKernel) as raised:
        vm._kernel_package()
    message = str(raised.value)
    assert message == (
        "the VM boots Debian's kernel and `apt-cache depends linux-image-amd64` finds none (W: the last line): "
        + vm.WHAT_TO_DO
    )


def test_apt_cache_failing_as_on_ubuntu_is_no_kernel_with_its_message(apt: Path):
    stand_in(apt, "apt-cache", "echo 'E: No packages found' >&2\nexit 100\n")
    with pytest.raises(vm.NoKernel, match=r"linux-image-amd64` finds none \(E: No packages found\): install"):
        vm._kernel_package()


def test_an_apt_cache_that_says_nothing_is_reported_as_no_kernel_image_package(apt: Path):
    stand_in(apt, "apt-cache", "exit 0\n")
    with pytest.raises(vm.NoKernel, match=r"finds none \(no kernel image package\): install"):
        vm._kernel_package()


def test_without_apt_cache_the_message_says_so_and_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(vm.NoKernel) as raised:
        vm._kernel_package()
    assert str(raised.value) == ("the VM boots Debian's kernel and there is no apt-cache to find it: " + vm.WHAT_TO_DO)
