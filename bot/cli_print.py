"""How the command line prints: one-line errors (token redacted), notices, item lines, JSON
documents (and the `--json` option that asks for them). Shared by bot.cli and the commands split
out of it (bot.cli_pages, bot.cli_store, bot.cli_sources)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.logs import redact

if TYPE_CHECKING:
    from bot.model import Item


def error(message: str) -> None:
    # A mistyped config can put the bot token into an error message: never print it.
    print(f"newsbot: error: {redact(' '.join(message.split()))}", file=sys.stderr)


def notice(message: str) -> None:
    print(f"newsbot: {message}", file=sys.stderr)


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON document on stdout")


def print_items(items: Sequence[Item]) -> None:
    for item in items:
        date = item.published_at.isoformat(timespec="minutes") if item.published_at else "-"
        print(f"  {date:<25} {short(item.title, 70):<70}  id={item.item_id}")
        print(f"  {'':<25} {item.url}")


def short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def item_json(item: Item) -> dict[str, Any]:
    return {
        "feed_id": item.feed_id,
        "item_id": item.item_id,
        "title": item.title,
        "url": item.url,
        "summary": item.summary,
        "published_at": jsonable(item.published_at),
        "image": item.image,
        "first_seen_at": jsonable(item.first_seen_at),
    }


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: jsonable(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def print_json(document: dict[str, Any]) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
    print()
