"""Files written whole or not at all: the reports, the fetch cache."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path


def write_atomic(
    path: Path, content: str | bytes | Iterable[str], durable: bool = True, mode: int | None = None
) -> None:
    """Write `content` (text, bytes, or pieces of text written as they come) to a temporary file beside
    `path`, then rename it into place (`durable`: on disk first). The file is readable as the umask allows
    (`mode`: as `readable_mode()` gave it, for a writer of many files that reads the umask once).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb" if isinstance(content, bytes) else "w", **_text_mode(content)) as file:
            if isinstance(content, str | bytes):
                file.write(content)
            else:
                file.writelines(content)
            file.flush()
            # mkstemp makes the file private; a report is for readers (a web server, colleagues) as the umask allows
            os.fchmod(file.fileno(), readable_mode() if mode is None else mode)
            if durable:
                os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _text_mode(content: object) -> dict[str, str]:
    return {} if isinstance(content, bytes) else {"encoding": "utf-8"}


def readable_mode() -> int:
    """The permissions of a new file under the process's umask now (rw for whom the umask lets read)."""
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (changing it is not thread-safe)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def link_atomic(source: Path, destination: Path) -> None:
    """Put file `source` at `destination` as a hard link (no second copy to write), else as a copy, in one
    rename: a reader sees the old file or the new one, never a part."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp")
    os.close(handle)
    os.unlink(temporary)
    try:
        os.link(source, temporary)
    except OSError:
        shutil.copy2(source, temporary)
    os.replace(temporary, destination)


def mirror(source: Path, target: Path) -> None:
    """Make folder `target` hold the files of `source`: hard links where the file system allows (no second
    copy to write), else copies, each put in place atomically, the deepest first (an index at the top never
    links to a page not yet there); the files of `target` that `source` lacks are then removed."""
    files = sorted((p.relative_to(source) for p in source.rglob("*") if p.is_file()), key=lambda p: -len(p.parts))
    for relative in files:
        link_atomic(source / relative, target / relative)
    kept = set(files)
    for stale in [p for p in target.rglob("*") if p.is_file() and p.relative_to(target) not in kept]:
        stale.unlink()
