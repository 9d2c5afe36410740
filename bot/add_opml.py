"""`newsbot import FILE.opml`: a feed reader's OPML export read, and each feed in it added as
`newsbot add` would (bot.add), several at a time. (Writing OPML is bot.opml's.)
"""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot import urls
from bot.add import Fetch, Proposal, Sources, propose, save
from bot.errors import NewsbotError, RecipeError
from bot.source import dom

IMPORT_AT_ONCE = 8  # OPML feeds fetched at a time (one host is still paced by the fetcher)


@dataclass(frozen=True)
class Outline:
    """One feed of an OPML file."""

    url: str
    title: str


@dataclass(frozen=True)
class Imported:
    """What an import did: files written, feeds already followed, feeds that failed."""

    added: tuple[Proposal, ...]
    skipped: tuple[tuple[Outline, str], ...]  # (outline, id of the recipe that follows it)
    failed: tuple[tuple[Outline, str], ...]  # (outline, the one-line reason)


def read_opml(data: bytes, where: str) -> list[Outline]:
    """Every outline with an xmlUrl, in file order (nested ones too); RecipeError if unreadable."""
    # No DTDs: an entity could expand to gigabytes (what defusedxml refuses, in one check).
    if re.search(rb"<!(?:DOCTYPE|ENTITY)", data, re.IGNORECASE):
        raise RecipeError(f"{where}: OPML with a DOCTYPE or entities is not read",
                          hint="export the OPML again, or remove its <!DOCTYPE …> line")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise RecipeError(f"{where}: not valid OPML ({exc})",
                          hint="is it the file your reader exported?") from None
    outlines = []
    for node in root.iter("outline"):
        attributes = {key.lower(): value.strip() for key, value in node.attrib.items()}
        url = attributes.get("xmlurl", "")
        if url.startswith(("http://", "https://")):
            title = attributes.get("title") or attributes.get("text") or ""
            outlines.append(Outline(url, dom.normalize_text(title)))
    if not outlines:
        raise RecipeError(f"{where}: no outline with an xmlUrl",
                          hint="an OPML feed list has <outline xmlUrl=\"https://…\"> entries")
    return outlines


async def import_opml(
    outlines: Sequence[Outline], fetch: Fetch, sources: Sources, *, now: datetime
) -> Imported:
    """Add each outline's feed as `propose` + `save` would, skipping the ones already followed
    (before fetching: a re-run after a partial import fetches only what is missing)."""
    skipped: list[tuple[Outline, str]] = []
    todo: list[Outline] = []
    seen: set[str] = set()
    for outline in outlines:
        canonical = urls.canonical_url(outline.url)
        already = sources.following(outline.url)
        if already or canonical in seen:
            skipped.append((outline, already or "an earlier outline"))
        else:
            seen.add(canonical)
            todo.append(outline)
    slots = asyncio.Semaphore(IMPORT_AT_ONCE)

    async def one(outline: Outline) -> Proposal | str:
        async with slots:
            try:
                proposal = await propose(outline.url, fetch, sources, now=now,
                                         title=outline.title or None, must_be_feed=True)
                save(proposal, sources)  # no wait between choosing the id and taking it
            except NewsbotError as exc:
                return str(exc)
            return proposal

    results = await asyncio.gather(*(one(outline) for outline in todo))
    return Imported(
        added=tuple(r for r in results if isinstance(r, Proposal)),
        skipped=tuple(skipped),
        failed=tuple((o, r) for o, r in zip(todo, results, strict=True) if isinstance(r, str)),
    )
