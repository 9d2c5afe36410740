"""The message a planned job (bot.telegram.rounds) is sent as: its HTML text, and the photo and
caption that go first when the item has an image and the chat reads full messages.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.model import ChatSettings
from bot.telegram.feedinfo import FeedInfo, feed_or_id
from bot.telegram.messages import format_caption, format_item, format_more, safe_href
from bot.telegram.notices import format_edit
from bot.telegram.rounds import Job


def render_job(
    job: Job,
    feeds: Mapping[str, FeedInfo],
    language: str,
    settings: ChatSettings | None,
    *,
    photos: bool,
) -> tuple[str, str | None, str]:
    """(html text, photo URL or None, caption); `photos`: the bot sends item images at all."""
    row = job.rows[0]
    feed = feed_or_id(feeds, row.item.feed_id)
    if job.digest is not None:
        return job.digest, None, ""
    if job.fold:
        fold = format_more(len(job.rows), feed.title, feed.see_all_url, language)
        return fold, None, ""
    if row.kind == "edit":
        notice = format_edit(feed_title=feed.title, url=row.item.url, title=row.item.title,
                             summary=row.item.summary, previous_title=row.previous_title or "",
                             previous_summary=row.previous_summary or "",
                             language=language)
        return notice, None, ""
    item, matched = row.item, row.matched
    style = settings.format if settings else "full"
    section = dict(feed.sections).get(item.section or "")
    html_text = format_item(item, feed_title=feed.title, tz=feed.timezone, matched=matched,
                            language=language, section=section, style=style)
    photo = photos and item.image and style == "full"
    image = safe_href(item.image) if photo and item.image else None
    if image is None:
        return html_text, None, ""
    caption = format_caption(item, feed_title=feed.title, tz=feed.timezone, matched=matched,
                             language=language, section=section)
    return html_text, image, caption
