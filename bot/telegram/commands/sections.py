"""/sections and its buttons: pick a feed's sections as `section:<id>` include keywords.

The choice lives in the chat's per-feed include filter, so every consumer of filters (routing,
/latest, feed URLs) honours it; none checked = all sections."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from bot import filters
from bot.model import KeywordFilter
from bot.telegram.commands.base import (
    CALLBACK_DATA_MAX_BYTES,
    Button,
    Call,
    CommandBase,
    Reply,
    button_token,
    fit_rows,
    hash_token,
    merge_filters,
    with_keywords,
)
from bot.telegram.commands.text import BUTTON_TITLE_CHARS, esc, fit, link, shorten
from bot.telegram.texts import Html, t

# Callback data `sec:<feed>` opens a feed's sections, `sct:<feed>:<section>` toggles one,
# `sca:<feed>` checks none (= all).
SECTION_ACTIONS = frozenset({"sec", "sct", "sca"})
SECTION_TOKEN_BYTES = 20
SECTION_BUTTONS_MAX = 90  # Telegram allows 100 buttons in a keyboard


class SectionCommands(CommandBase):
    """Which sections of a feed a chat gets."""

    _feed_by_token: dict[str, str]
    _feed_by_hash: dict[str, str]

    def _sections(self, call: Call) -> Reply:
        """`/sections [FEED]`: a feed's sections as toggle buttons, or the feeds that have some."""
        sectioned = self._sectioned_feeds()
        if not sectioned:
            return Reply(t(call.lang, "sections_none"))
        if not call.args:
            if len(sectioned) == 1:
                return self._section_list(call, sectioned[0], edit=False)
            return self._sectioned_list(call, edit=False)
        found = self._find_feed(call.args, call.lang)
        if isinstance(found, Reply):
            return found
        if found not in sectioned:
            return Reply(t(call.lang, "sections_feed_none", title=self._title(found),
                           names=self._names(sectioned)))
        return self._section_list(call, found, edit=False)

    def _sectioned_feeds(self) -> list[str]:
        """The feeds whose recipe names sections, in the configured order."""
        return [feed_id for feed_id, info in self.feeds.items() if info.sections]

    def _sectioned_list(self, call: Call, *, edit: bool, notice: str = "") -> Reply:
        """The feeds that have sections, each a button opening its sections."""
        sectioned = self._sectioned_feeds()
        if not sectioned:
            return Reply(t(call.lang, "sections_none"), edit=edit)
        lines = [notice] if notice else []
        lines.append(t(call.lang, "sections_feeds_header"))
        rows: list[tuple[Button, ...]] = []
        for feed_id in sectioned[:SECTION_BUTTONS_MAX]:
            info = self.feeds[feed_id]
            lines.append(f"• {self._title_html(feed_id)} <code>{esc(feed_id)}</code> "
                         f"({len(info.sections)})")
            label = f"📂 {shorten(info.title, BUTTON_TITLE_CHARS)}"
            rows.append((Button(label, section_data("sec", feed_id)),))
        return Reply(fit(lines), fit_rows(rows), edit=edit)

    def _section_list(self, call: Call, feed_id: str, *, edit: bool, notice: str = "") -> Reply:
        """A feed's sections, ✅ for those the chat picked, with a toggle button each."""
        info = self.feeds[feed_id]
        kf = self.store.keyword_filter(call.chat_id, feed_id)
        chosen = chosen_sections(kf, info.sections)
        lines = [notice] if notice else []
        lines.append(t(call.lang, "sections_header", title=Html(self._title_html(feed_id))))
        rows: list[tuple[Button, ...]] = []
        for section_id, name in info.sections[:SECTION_BUTTONS_MAX]:
            mark = "✅" if section_id in chosen else "▫️"
            lines.append(f"{mark} {self._section_html(feed_id, section_id, name)}")
            label = f"{mark} {shorten(name, BUTTON_TITLE_CHARS)}"
            rows.append((Button(label, section_data("sct", feed_id, section_id)),))
        if chosen:
            words = self._other_include_keywords(call.chat_id, kf)
            lines.append(t(call.lang, "sections_some_keywords" if words else "sections_some"))
        else:
            lines.append(t(call.lang, "sections_all"))
        reset = bool(_section_values(kf))  # also for a section the recipe no longer has
        if reset:
            rows.append((Button(t(call.lang, "sections_all_button"),
                                section_data("sca", feed_id)),))
        if feed_id not in self.store.subscriptions_of(call.chat_id):
            lines.append(t(call.lang, "sections_not_following", feed=feed_id))
        return Reply(fit(lines), fit_rows(rows, keep=int(reset)), edit=edit)

    def _other_include_keywords(self, chat_id: int, per_feed: KeywordFilter) -> bool:
        """Whether include keywords other than sections also let items through (they add up)."""
        merged = merge_filters(self.store.keyword_filter(chat_id), per_feed)
        return any(_facet_name(k) != "section" for k in merged.include)

    def _section_html(self, feed_id: str, section_id: str, name: str) -> str:
        """The section's name, and a link to its own feed when the feeds are public."""
        if not self.public_url:
            return esc(name)
        url = (f"{self.public_url.rstrip('/')}/feeds/{quote(feed_id, safe='')}/"
               f"{quote(section_id, safe='')}.xml")
        return f"{esc(name)} · {link(url, 'RSS')}"

    def _section_press(self, call: Call, action: str, token: str) -> Reply:
        """Open a feed's sections, toggle one, or check none (= all), and redraw in place."""
        feed_token, section_token_ = token, ""
        if action == "sct":
            feed_token, _, section_token_ = token.rpartition(":")
        feed_id = self._feed_by_token.get(feed_token) or self._feed_by_hash.get(feed_token)
        if feed_id is None or not self.feeds[feed_id].sections:
            return self._sectioned_list(call, edit=True, notice=t(call.lang, "feed_gone"))
        if action == "sec":
            return self._section_list(call, feed_id, edit=True)
        kf = self.store.keyword_filter(call.chat_id, feed_id)
        if action == "sca":
            updated: KeywordFilter | str = without_sections(kf)
        else:
            updated = _toggle_section(call.lang, kf, self.feeds[feed_id].sections, section_token_)
        if isinstance(updated, str):
            return self._section_list(call, feed_id, edit=True, notice=updated)
        self._ensure_chat(call)
        self.store.set_keyword_filter(call.chat_id, updated, feed_id)
        return self._section_list(call, feed_id, edit=True)


def _toggle_section(
    lang: str, kf: KeywordFilter, sections: tuple[tuple[str, str], ...], token: str
) -> KeywordFilter | str:
    """`kf` with the section `token` names picked or unpicked; a notice when that can't be."""
    by_token = {section_token(sid): (sid, name) for sid, name in sections}
    if token not in by_token:
        return t(lang, "sections_gone")
    section_id, name = by_token[token]
    if section_id in chosen_sections(kf, sections):
        return without_sections(kf, ((section_id, name),))
    updated = with_keywords(kf, "include", (f"section:{section_id}",))
    if len(updated.include) > filters.MAX_KEYWORDS:
        return t(lang, "keyword_too_many", limit=filters.MAX_KEYWORDS)
    return updated


def section_token(section_id: str) -> str:
    """A section id short enough for callback data, else a stable hash of it (`#` + 12 hex)."""
    if (len(section_id.encode()) <= SECTION_TOKEN_BYTES and ":" not in section_id
            and not section_id.startswith("#")):
        return section_id
    return hash_token(section_id, 12)


def section_data(action: str, feed_id: str, section_id: str | None = None) -> str:
    """Callback data naming a feed (and one of its sections), within 64 bytes."""
    tail = "" if section_id is None else f":{section_token(section_id)}"
    feed = button_token(feed_id)
    if len(f"{action}:{feed}{tail}".encode()) > CALLBACK_DATA_MAX_BYTES:
        feed = hash_token(feed_id)
    return f"{action}:{feed}{tail}"


def chosen_sections(kf: KeywordFilter, sections: Iterable[tuple[str, str]]) -> set[str]:
    """Ids of the sections a `section:` include keyword names (by id or by name)."""
    wanted = _section_values(kf)
    return {sid for sid, name in sections
            if filters.fold(sid) in wanted or filters.fold(name) in wanted}


def without_sections(
    kf: KeywordFilter, sections: Iterable[tuple[str, str]] | None = None
) -> KeywordFilter:
    """`kf` without the include keywords naming any of `sections` (by id or by name); with no
    `sections`, without any `section:` include keyword."""
    gone = None if sections is None else {filters.fold(v) for pair in sections for v in pair}
    include = tuple(k for k in kf.include
                    if not ((f := filters.facet_of(k)) and f[0] == "section"
                            and (gone is None or f[1] in gone)))
    return KeywordFilter(include=include, exclude=kf.exclude)


def _section_values(kf: KeywordFilter) -> set[str]:
    """The folded values of the filter's `section:` include keywords."""
    return {f[1] for k in kf.include if (f := filters.facet_of(k)) and f[0] == "section"}


def _facet_name(keyword: str) -> str | None:
    """`section` for `section:…`, `type` for `type:…`; None for a plain keyword."""
    facet = filters.facet_of(keyword)
    return facet[0] if facet else None
