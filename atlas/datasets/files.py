"""A dataset's files as bytes by relative path: read safely from a folder or an archive, written
to a folder or an archive, and checked against the SHA-256 manifest in `dataset.json`.

Reading never trusts a name or a size: paths must be plain relative POSIX paths inside the
dataset (no `..`, no absolute paths, no links or devices), and member counts and uncompressed
sizes are capped before anything is decompressed, so an archive can neither write outside its
folder nor exhaust memory. Nothing here unpickles: a dataset is JSON and safetensors only.
"""

from __future__ import annotations

import hashlib
import io
import stat
import tarfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from atlas.errors import InvalidError

DESCRIPTION_FILE = "dataset.json"
ARCHIVE_FORMATS = ("zip", "tar", "tar.gz")


class DatasetError(InvalidError):
    """A dataset that cannot be read or imported; the message names the file and the problem.
    An import that meets one writes nothing (it is one transaction)."""

    slug = "invalid-dataset"

    @property
    def detail(self) -> str:
        return f"{self}; nothing was imported"


@dataclass(frozen=True)
class Limits:
    """How much a dataset may hold once unpacked (an upload's bytes are capped separately),
    and how much work its import may be asked to check: networks, and units per network."""

    max_files: int = 20_000
    max_total_bytes: int = 512 * 2**20
    max_file_bytes: int = 128 * 2**20
    max_networks: int = 10_000
    max_units: int | None = None


def sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def manifest(files: Mapping[str, bytes]) -> dict[str, dict[str, int | str]]:
    """{path: {sha256, bytes}} of every file, sorted by path."""
    return {
        path: {"sha256": sha256(files[path]), "bytes": len(files[path])} for path in sorted(files)
    }


def check_manifest(files: Mapping[str, bytes], listed: object) -> None:
    """Every file is listed with its hash and size, and every listed file is there."""
    if not isinstance(listed, dict) or not listed:
        raise DatasetError(f"{DESCRIPTION_FILE} has no manifest of files ('files')")
    present = set(files) - {DESCRIPTION_FILE}
    unlisted = sorted(present - set(listed))
    if unlisted:
        raise DatasetError(f"files not in the manifest (added or renamed?): {unlisted[:5]}")
    missing = sorted(set(listed) - present)
    if missing:
        raise DatasetError(f"files in the manifest are missing: {missing[:5]}")
    for path in sorted(listed):
        entry = listed[path]
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise DatasetError(f"manifest entry for {path} has no sha256")
        if entry["sha256"] != sha256(files[path]) or entry.get("bytes") != len(files[path]):
            raise DatasetError(f"{path} does not match its SHA-256 in the manifest (tampered?)")


def safe_path(name: str) -> str:
    """`name` as a relative POSIX path inside the dataset, or a DatasetError."""
    path = PurePosixPath(name.replace("\\", "/"))
    if (
        not name
        or path.is_absolute()
        or ".." in path.parts
        or any(part in ("", ".") for part in name.replace("\\", "/").rstrip("/").split("/"))
        or ":" in path.parts[0]
    ):
        raise DatasetError(f"unsafe path in dataset: {name!r}")
    return str(path)


class _Budget:
    """Counts files and bytes against the limits as they are read."""

    def __init__(self, limits: Limits):
        self.limits, self.files, self.total = limits, 0, 0

    def take(self, name: str, size: int) -> None:
        self.files += 1
        self.total += size
        if self.files > self.limits.max_files:
            raise DatasetError(f"more than {self.limits.max_files} files in the dataset")
        if size > self.limits.max_file_bytes:
            raise DatasetError(f"{name} is larger than {self.limits.max_file_bytes} bytes")
        if self.total > self.limits.max_total_bytes:
            raise DatasetError(
                f"the dataset unpacks to more than {self.limits.max_total_bytes} bytes"
            )


def read_folder(root: Path, limits: Limits = Limits()) -> dict[str, bytes]:
    """Every regular file under `root`; a link (which could point anywhere) is refused."""
    budget, files = _Budget(limits), {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            continue
        if not stat.S_ISREG(mode):
            raise DatasetError(f"{relative} is a link or special file; datasets hold plain files")
        budget.take(relative, path.stat().st_size)
        files[safe_path(relative)] = path.read_bytes()
    return files


def read_zip(payload: bytes, limits: Limits) -> dict[str, bytes]:
    budget, files = _Budget(limits), {}
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind not in (0, stat.S_IFREG):
                raise DatasetError(f"{info.filename} is a link or special file in the archive")
            budget.take(info.filename, info.file_size)
            with archive.open(info) as member:
                data = member.read(info.file_size + 1)
            if len(data) != info.file_size:
                raise DatasetError(f"{info.filename} is not the size the archive declares")
            files[safe_path(info.filename)] = data
    return files


def read_tar(payload: bytes, limits: Limits) -> dict[str, bytes]:
    budget, files = _Budget(limits), {}
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:*") as archive:
        for member in archive:
            if member.isdir():
                continue
            if not member.isfile():
                raise DatasetError(f"{member.name} is a link or special file in the archive")
            budget.take(member.name, member.size)
            extracted = archive.extractfile(member)
            files[safe_path(member.name)] = extracted.read() if extracted else b""
    return files


def read_archive(payload: bytes, limits: Limits = Limits()) -> dict[str, bytes]:
    """The files of a .zip, .tar or .tar.gz archive (told apart by content), with the one
    top-level folder an archive of a dataset folder has taken off their paths."""
    try:
        if zipfile.is_zipfile(io.BytesIO(payload)):
            files = read_zip(payload, limits)
        else:
            files = read_tar(payload, limits)
    except DatasetError:
        raise
    except Exception as exc:  # arbitrary bytes: any parser failure is the archive's fault
        raise DatasetError(f"not a readable .zip, .tar or .tar.gz archive: {exc!r}") from exc
    return _strip_top_folder(files)


def _strip_top_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    if DESCRIPTION_FILE in files or not files:
        return files
    tops = {path.split("/", 1)[0] for path in files}
    if len(tops) == 1 and all("/" in path for path in files):
        return {path.split("/", 1)[1]: data for path, data in files.items()}
    return files


def read_files(source: Path | bytes, limits: Limits = Limits()) -> dict[str, bytes]:
    """A dataset folder, an archive file, or an archive's bytes, as {path: bytes}."""
    if isinstance(source, bytes):
        return read_archive(source, limits)
    if source.is_dir():
        return read_folder(source, limits)
    if not source.is_file():
        raise DatasetError(f"no dataset at {source}")
    if source.stat().st_size > limits.max_total_bytes:
        raise DatasetError(f"{source} is larger than {limits.max_total_bytes} bytes")
    return read_archive(source.read_bytes(), limits)


def write_folder(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write the files under `folder` (created; it must be empty or new)."""
    if folder.exists() and any(folder.iterdir()):
        raise DatasetError(f"{folder} exists and is not empty")
    for path, data in files.items():
        target = folder / safe_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def archive_bytes(files: Mapping[str, bytes], top: str, kind: str = "zip") -> bytes:
    """The files in one archive under the folder name `top`, deterministic (fixed times)."""
    buffer = io.BytesIO()
    names = sorted(files)
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for name in names:
                info = zipfile.ZipInfo(f"{top}/{name}", date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                archive.writestr(info, files[name])
        return buffer.getvalue()
    if kind not in ARCHIVE_FORMATS:
        raise DatasetError(f"unknown archive format {kind!r}; choose one of {ARCHIVE_FORMATS}")
    mode = "w:gz" if kind == "tar.gz" else "w"
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name in names:
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            archive.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()
