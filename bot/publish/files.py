"""Feed files under the public directory: written atomically and only when their bytes change,
checked whole after a crash, removed with their feed."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bot.model import Item
from bot.publish.feedmeta import EXTENSIONS, FORMATS, FeedMeta, Format
from bot.publish.render import render_feeds


def write_feeds(
    public_dir: Path, meta: FeedMeta, items: Sequence[Item], public_url: str
) -> list[Path]:
    """Write feeds/<id>.xml|.atom|.json under public_dir (a section's feed: feeds/<id>/<section>.xml
    and so on); returns the files whose bytes changed."""
    changed: list[Path] = []
    for fmt, data in render_feeds(meta, items, public_url).items():
        path = feed_path(public_dir, meta, fmt)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.read_bytes() == data:
            continue  # untouched: mtime-based caches and rsync stay quiet
        write_atomic(path, data)
        changed.append(path)
    return changed


def feed_path(public_dir: Path, meta: FeedMeta, fmt: Format) -> Path:
    """public_dir/feeds/<id>.<ext>, or feeds/<id>/<section>.<ext> for a section's feed."""
    for name in (meta.feed_id, meta.section or "x"):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise ValueError(f"feed id {name!r} cannot be a file name (use a-z, 0-9, . _ -)")
    feeds_dir = public_dir / "feeds"
    if meta.section is not None:
        return feeds_dir / meta.feed_id / f"{meta.section}.{EXTENSIONS[fmt]}"
    return feeds_dir / f"{meta.feed_id}.{EXTENSIONS[fmt]}"


def remove_feed_files(public_dir: Path, feed_id: str) -> list[Path]:
    """Delete a feed's files and its sections' (a forgotten feed); the paths removed."""
    feeds_dir = public_dir / "feeds"
    paths = [feeds_dir / f"{feed_id}.{EXTENSIONS[fmt]}" for fmt in FORMATS]
    sections = feeds_dir / feed_id
    if sections.is_dir():
        paths += [path for path in sections.iterdir() if path.is_file()]
    removed = []
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    with contextlib.suppress(OSError):  # not there, or holding something newsbot did not write
        sections.rmdir()
    return removed


def write_atomic(path: Path, data: bytes) -> None:
    """Replace path with data so readers see the old file or the new one, never half of one.

    No fsync: feed files are derived from the store, which keeps its own. After a power cut the
    rename may reach the disk before the data (an empty or torn file); `is_whole` tells, and the
    daemon rewrites such files from the store when it starts. An fsync per file cost more than
    rendering the feed (6 per changed poll, ~1 ms each here), on every poll, for that rare case.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
        os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; a web server must be able to read it
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


_ENDINGS: dict[Format, bytes] = {"rss": b"</rss>\n", "atom": b"</feed>\n", "json": b"}\n"}


def is_whole(path: Path, fmt: Format) -> bool:
    """Whether a feed file written by `write_feeds` is all there: it exists and ends as the
    format ends, with no NUL bytes in its tail (what a torn write leaves)."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - 64))
            tail = file.read()
    except OSError:
        return False
    return tail.endswith(_ENDINGS[fmt]) and b"\0" not in tail
