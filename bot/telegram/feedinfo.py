"""The one type the Telegram wing knows a feed by: replies, item messages and delivery share it.

Why not a type in bot.model shared with publishing: bot.publish.feedmeta.FeedMeta describes a
published feed file (its description, and "this is section X's own feed"), which a chat never
sees; Telegram needs the public feed address (/feeds links, /export) next to the site's. Both
are built from the recipe, so neither can drift from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.model import DEFAULT_TIMEZONE, Recipe


@dataclass(frozen=True)
class FeedInfo:
    """What the bot shows about a feed."""

    feed_id: str
    title: str
    timezone: str = DEFAULT_TIMEZONE
    url: str = ""  # where its title links to in replies: the public feed, else the site
    sections: tuple[tuple[str, str], ...] = ()  # (section id, name), in the recipe's order
    site_url: str = ""  # the site it mirrors: the "See all" link of a fold message

    @property
    def see_all_url(self) -> str:
        """Where "… and N more" sends the reader: the site, else the feed."""
        return self.site_url or self.url


def feed_info(recipe: Recipe, public_url: str = "") -> FeedInfo:
    """A recipe as the bot shows it; with `public_url`, titles link to the published feed."""
    site = recipe.urls[0] if recipe.urls else ""
    feed_url = f"{public_url.rstrip('/')}/feeds/{recipe.feed_id}.xml" if public_url else site
    return FeedInfo(
        recipe.feed_id,
        recipe.title,
        recipe.timezone,
        feed_url,
        sections=tuple((s.section_id, s.name) for s in recipe.sections),
        site_url=site,
    )


def feed_infos(recipes: Mapping[str, Recipe], public_url: str = "") -> dict[str, FeedInfo]:
    """Every recipe as the bot shows it, in the configured order."""
    return {feed_id: feed_info(recipe, public_url) for feed_id, recipe in recipes.items()}


def feed_or_id(feeds: Mapping[str, FeedInfo], feed_id: str) -> FeedInfo:
    """The feed, or a stand-in titled with its id when the config no longer has it."""
    return feeds.get(feed_id) or FeedInfo(feed_id, feed_id)
