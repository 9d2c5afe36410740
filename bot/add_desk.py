"""The bot's /add and /remove: proposals from `bot.add` kept for the chat to save or cancel, and
recipes removed, the daemon told at once.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.add import Fetch, Proposal, Sources, propose, save
from bot.errors import RecipeError
from bot.model import SourcePreview
from bot.recipes import scan_recipes
from bot.schema import FEED_ID

# A URL typed into Telegram opens no non-public address of its own accord: a fetch's allowance
# comes from its recipe's URLs (bot.source.fetch), and this stand-in (a reserved .invalid name,
# never resolved) has none. Only [fetch] allow_private lets /add reach a private address.
NO_OWN_ALLOWANCE = ("https://telegram-add.invalid/",)
PROPOSALS_KEPT = 20  # pending /add proposals; the oldest goes first
PROPOSAL_TTL = 15 * 60.0  # seconds a proposal waits for Save
BOT_PREVIEW_ITEMS = 5


class AddDesk:
    """The bot's side of adding and removing sources (bot.telegram.commands.sources.SourceDesk):
    proposals wait under a short key for Save or Cancel; saving or removing a recipe tells the
    daemon (`on_change`), which reads feeds/ again at once."""

    def __init__(
        self,
        folder: Path,
        fetch: Fetch,
        *,
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.folder = folder
        self._fetch = fetch
        self._on_change = on_change
        self._clock = clock
        self._now = now
        self._pending: OrderedDict[str, tuple[float, Proposal]] = OrderedDict()

    async def propose(self, url: str) -> SourcePreview:
        proposal = await propose(url, self._fetch, self._sources(), now=self._now())
        self._expire()
        key = secrets.token_urlsafe(6)
        self._pending[key] = (self._clock(), proposal)
        while len(self._pending) > PROPOSALS_KEPT:
            self._pending.popitem(last=False)
        recipe = proposal.recipe
        return SourcePreview(key, recipe.feed_id, recipe.title, recipe.urls[0], proposal.kind,
                             proposal.items[:BOT_PREVIEW_ITEMS], len(proposal.items))

    def save(self, key: str) -> str:
        """Write the proposal's recipe; its feed id. RecipeError when it expired, or its id or
        address was taken meanwhile."""
        self._expire()
        taken = self._pending.pop(key, None)
        if taken is None:
            raise RecipeError("this proposal is no longer kept", hint="send /add again")
        proposal = taken[1]
        sources = self._sources()
        already = sources.following(proposal.recipe.urls[0])
        if already:
            raise RecipeError(f"{proposal.recipe.urls[0]} is already followed as {already}")
        save(proposal, sources)
        self._on_change()
        return proposal.feed_id

    def drop(self, key: str) -> None:
        self._pending.pop(key, None)

    def remove(self, feed_id: str) -> None:
        """Delete feeds/<feed_id>.toml (the daemon stops polling it; what is stored stays)."""
        path = self.folder / f"{feed_id}.toml"
        if not FEED_ID.match(feed_id) or not path.is_file():
            raise RecipeError(f"there is no recipe feeds/{feed_id}.toml")
        path.unlink()
        self._on_change()

    def _sources(self) -> Sources:
        recipes, _ = scan_recipes(self.folder)
        return Sources.of(self.folder, recipes)

    def _expire(self) -> None:
        oldest = self._clock() - PROPOSAL_TTL
        for key in [k for k, (at, _) in self._pending.items() if at < oldest]:
            del self._pending[key]
