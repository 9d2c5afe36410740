"""The bot token is redacted in any spelling (issue 12, item 6): raw, percent-encoded (either hex
case, even twice), lower- or upper-cased, HTML/JSON-escaped, and its secret half alone; in log
lines, in every newsbot error, and in what Telegram (the fake Bot API) echoes back."""

from __future__ import annotations

import html
import io
import logging
import re
from collections.abc import Callable, Iterator
from urllib.parse import unquote

import pytest
from fakes.telegram_api import FakeBotAPI, Fault
from hypothesis import given
from hypothesis import strategies as st
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.errors import DeliveryError, FetchError, NewsbotError
from bot.logs import RedactToken, redact, remember_secret
from bot.telegram.ptb import PtbSender

TOKEN = "6543210987:AAcanaryTOKENxYz0123456789-_abcdefghij"
SECRET = TOKEN.split(":")[1]
URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def readable_forms(text: str) -> set[str]:
    """What a reader (or a decoder) could turn `text` into."""
    once = unquote(text)
    forms = {text, once, unquote(once), html.unescape(text)}
    forms.add(_JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text))
    return {form.lower() for form in forms}


def visible(secret: str, text: str) -> bool:
    return any(secret.lower() in form for form in readable_forms(text))


# --- any spelling, as a property -----------------------------------------------------------------

SPELLINGS = [
    lambda c: c,
    lambda c: f"%{ord(c):02X}",
    lambda c: f"%{ord(c):02x}",
    lambda c: f"%25{ord(c):02X}",  # encoded twice
    lambda c: f"&#{ord(c)};",
    lambda c: f"&#x{ord(c):x};",
    lambda c: f"\\u{ord(c):04x}",
]
CASES = [str, str.lower, str.upper]


@st.composite
def spelled(draw: st.DrawFn, text: str) -> str:
    """`text` with each character in a random spelling, then maybe the whole in one case."""
    choices = st.sampled_from(SPELLINGS)
    return draw(st.sampled_from(CASES))("".join(draw(choices)(c) for c in text))


tokens = st.tuples(
    st.integers(10_000, 99_999_999_999), st.text(URL_SAFE, min_size=30, max_size=46)
).map(lambda parts: f"{parts[0]}:{parts[1]}")


@given(tokens, st.data(), st.text(max_size=40), st.text(max_size=40), st.booleans())
def test_a_remembered_token_is_never_visible_in_any_spelling(
    token: str, data: st.DataObject, before: str, after: str, half_only: bool
) -> None:
    remember_secret(token)
    secret = token.split(":")[1]
    shown = data.draw(spelled(secret if half_only else token))
    out = redact(before + shown + after)
    assert not visible(secret, out), (shown, out)
    assert "<redacted-token>" in out


@given(tokens, st.sampled_from(["%3A", "%3a", "%253A", ":"]), st.sampled_from(CASES))
def test_an_unknown_token_is_redacted_by_its_shape_with_the_colon_encoded(
    token: str, colon: str, case: object
) -> None:
    """A token this process was never given (another bot's) still has its shape."""
    bot_id, secret = token.split(":")
    out = redact(f"GET /bot{case(bot_id + colon + secret)}/getMe")  # type: ignore[operator]
    assert not visible(secret, out), out


def test_ordinary_text_is_left_alone() -> None:
    remember_secret(TOKEN)
    for text in ("chat 123456789 sent 12:30", "item 2024:11:29", "Hải Phòng: 10 tin mới",
                 "%3A%2F%2F", "AAcanary"):
        assert redact(text) == text


# --- where the token travels ---------------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactToken())
    logger = logging.getLogger("newsbot.test_redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


@pytest.mark.parametrize(
    "make",
    [
        lambda: FetchError(f"https://api.example/bot{TOKEN.replace(':', '%3A')}/getMe: 500"),
        lambda: DeliveryError(f"bad request: {TOKEN.lower()} is invalid"),
        lambda: NewsbotError("x", hint=f"secret {SECRET}"),
    ],
    ids=["percent-encoded", "lower-cased", "secret half in the hint"],
)
def test_every_newsbot_error_is_redacted_when_made(make: Callable[[], NewsbotError]) -> None:
    remember_secret(TOKEN)
    error = make()
    assert not visible(SECRET, str(error)) and not visible(SECRET, error.message)
    assert not visible(SECRET, error.hint)


async def test_what_the_bot_api_echoes_back_is_redacted_in_errors_and_logs(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    """The issue's two cases: a 500 echoing the percent-encoded path, a 400 whose description
    the client lower-cased; plus the secret half alone. Sent through the real PTB client."""
    logger, stream = captured
    path = f"/bot{TOKEN.replace(':', '%3A')}/sendMessage"
    echoes = {
        1: Fault.error(500, f"Internal Server Error at {path}"),
        2: Fault.error(400, f"Bad Request: token {TOKEN.lower()} rejected"),
        3: Fault.error(400, f"Bad Request: unknown secret {SECRET}"),
    }
    async with FakeBotAPI(token=TOKEN) as fake:
        for chat_id, fault in echoes.items():
            fake.faults.add("sendMessage", match={"chat_id": chat_id}, kind=fault)
        request = HTTPXRequest(connect_timeout=2, read_timeout=5)
        async with Bot(TOKEN, base_url=fake.base_url, request=request) as bot:
            remember_secret(TOKEN)  # as load_config and build_application do
            sender = PtbSender(bot)
            for chat_id in echoes:
                with pytest.raises(DeliveryError) as caught:
                    await sender.send_plain(chat_id, "x")
                assert not visible(SECRET, str(caught.value)), caught.value
                logger.info("send to %s failed: %s", chat_id, caught.value.__cause__)
                logger.warning("send failed", exc_info=caught.value)
    output = stream.getvalue()
    assert "sendMessage" in output and output.count("<redacted-token>") >= 3, output
    assert not visible(SECRET, output), output
