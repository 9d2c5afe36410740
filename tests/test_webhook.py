"""Webhook mode: real PTB against the fake Bot API, updates posted to the real web app
(bot.publish.web)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fakes.telegram_api import FakeBotAPI, Fault

from bot.app import Daemon
from bot.config import WEBHOOK_SECRET_ENV, load_config
from bot.errors import ConfigError, DeliveryError
from bot.publish import serving, web, webhook
from bot.schema import Config, FetchConfig, ScheduleConfig, ServerConfig, TelegramConfig
from bot.store.db import Store
from bot.telegram import ptb as tg
from bot.telegram.commands.dispatch import Commands, FeedInfo
from bot.telegram.pacing import Pacer, Pacing
from bot.telegram.wiring import ALLOWED_UPDATES

TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"  # shaped like a real one
SECRET = "s3cret_Webhook-value-0123456789"
PATH = "/telegram/webhook"
URL = f"https://bot.example.vn{PATH}"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
FEEDS = {"hp": FeedInfo("hp", "Hải Phòng", url="https://example.test/feeds/hp.xml")}


def fast_pacer() -> Pacer:
    """Pacing at the fake's time scale (1 s of Telegram time lasts 10 ms)."""
    return Pacer(Pacing(time_scale=0.01))


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    server = await FakeBotAPI(token=TOKEN, time_scale=0.01).start()
    yield server
    await server.stop()
    assert server.unimplemented == []


@dataclass
class Served:
    """The PTB app in webhook mode behind the real web app; `posted` counts handled updates."""

    app: tg.App
    client: httpx.AsyncClient
    posted: list[dict[str, object]] = field(default_factory=list)

    async def post(self, body: object, secret: str | None = SECRET) -> httpx.Response:
        headers = {HEADER: secret} if secret is not None else {}
        return await self.client.post(PATH, json=body, headers=headers)


@pytest.fixture
async def served(fake: FakeBotAPI, store: Store) -> AsyncIterator[Served]:
    app = tg.build_application(TOKEN, pacer=fast_pacer(),
                               base_url=fake.base_url, commands=Commands(store, FEEDS),
                               store=store)
    posted: list[dict[str, object]] = []

    async def handler(data: dict[str, object]) -> bool:
        posted.append(data)
        await tg.feed_update(app, data)
        return True

    site = web.create_app(store=store, feeds={}, public_url="http://127.0.0.1",
                          health=lambda: (True, {}),
                          telegram_webhook=webhook.TelegramWebhook(PATH, SECRET, handler))
    server = await serving.serve(site, "127.0.0.1", 0)
    await tg.start_bot_webhook(app, URL, SECRET)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            yield Served(app, client, posted)
    finally:
        await tg.stop_bot(app)
        await server.stop()


# ---------------------------------------------------------------- the bot side


async def test_start_registers_the_webhook_and_never_polls(
    fake: FakeBotAPI, served: Served
) -> None:
    assert fake.webhook == {"url": URL, "secret_token": SECRET,
                            "allowed_updates": ALLOWED_UPDATES}
    [call] = fake.calls_of("setWebhook")
    assert str(call.params["drop_pending_updates"]).lower() == "false"
    info = await served.app.bot.get_webhook_info()
    assert info.url == URL
    assert fake.commands[("default", "en")], "the command menu is set as with polling"
    await asyncio.sleep(0.3)
    assert fake.calls_of("getUpdates") == [] and fake.calls_of("deleteWebhook") == []


async def test_stop_keeps_the_webhook_so_telegram_holds_updates(fake: FakeBotAPI,
                                                                store: Store) -> None:
    app = tg.build_application(TOKEN, pacer=fast_pacer(),
                               base_url=fake.base_url, commands=Commands(store, FEEDS))
    await tg.start_bot_webhook(app, URL, SECRET)
    await tg.stop_bot(app)
    assert not app.running
    assert fake.webhook["url"] == URL


async def test_switching_back_to_polling_removes_the_webhook(fake: FakeBotAPI,
                                                              store: Store) -> None:
    app = tg.build_application(TOKEN, pacer=fast_pacer(),
                               base_url=fake.base_url, commands=Commands(store, FEEDS))
    await tg.start_bot_webhook(app, URL, SECRET)
    await tg.stop_bot(app)
    polling = tg.build_application(TOKEN, pacer=fast_pacer(), base_url=fake.base_url,
                                   commands=Commands(store, FEEDS))
    await tg.start_bot(polling, poll_timeout=1)
    try:
        fake.user_message(45, "/start")
        await fake.wait_for(lambda: fake.messages_to(45))
        assert fake.webhook["url"] == "" and fake.calls_of("deleteWebhook")
    finally:
        await tg.stop_bot(polling)


async def test_posted_start_is_answered(fake: FakeBotAPI, store: Store, served: Served) -> None:
    update = fake.user_message(42, "/start", language_code="vi")
    response = await served.post(update)
    assert response.status_code == 200
    await fake.wait_for(lambda: fake.messages_to(42))
    assert "Hải Phòng" in (fake.last_to(42).text or "")
    assert store.subscriptions_of(42) == ["hp"]
    listing_update = fake.user_message(42, "/feeds")
    assert (await served.post(listing_update)).status_code == 200
    await fake.wait_for(lambda: len(fake.messages_to(42)) == 2)
    listing = fake.last_to(42)
    fake.callback(42, listing.button_data()[0], listing)
    press = fake.latest_update
    assert "callback_query" in press
    assert (await served.post(press)).status_code == 200
    await fake.wait_for(lambda: fake.edits)
    assert store.subscriptions_of(42) == []


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
async def test_a_wrong_or_missing_secret_is_refused(
    fake: FakeBotAPI, served: Served, secret: str | None
) -> None:
    response = await served.post(fake.user_message(42, "/start"), secret=secret)
    assert response.status_code == 403
    await asyncio.sleep(0.2)
    assert served.posted == [] and fake.messages_to(42) == []


async def test_bodies_that_are_not_an_update_object_are_refused(served: Served) -> None:
    headers = {HEADER: SECRET, "Content-Type": "application/json"}
    not_json = await served.client.post(PATH, content=b"{not json", headers=headers)
    array = await served.client.post(PATH, content=b"[1, 2]", headers=headers)
    huge = await served.client.post(PATH, content=b"[" + b" " * (1024 * 1024) + b"]",
                                    headers=headers)
    assert (not_json.status_code, array.status_code, huge.status_code) == (400, 400, 413)
    assert served.posted == []


async def test_only_post_reaches_the_webhook_and_feeds_still_serve(served: Served) -> None:
    assert (await served.client.get(PATH, headers={HEADER: SECRET})).status_code == 405
    assert (await served.client.get("/healthz")).status_code == 200


async def test_a_malformed_update_is_dropped_and_the_bot_keeps_going(
    fake: FakeBotAPI, served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "bot.telegram.ptb")
    bad = {"update_id": 7, "message": {"text": "/start"}}  # no chat, no date
    assert (await served.post(bad)).status_code == 200  # Telegram must not resend it forever
    assert "malformed webhook update" in caplog.text
    assert (await served.post(fake.user_message(43, "/start"))).status_code == 200
    await fake.wait_for(lambda: fake.messages_to(43))


async def test_a_refused_webhook_url_is_a_clear_delivery_error(fake: FakeBotAPI,
                                                               store: Store) -> None:
    app = tg.build_application(TOKEN, pacer=fast_pacer(),
                               base_url=fake.base_url, commands=Commands(store, FEEDS))
    try:
        with pytest.raises(DeliveryError, match=r"webhook URL http://plain\.example\.vn/hook"):
            await tg.start_bot_webhook(app, "http://plain.example.vn/hook", SECRET)
        assert not app.running
        await tg.start_bot_webhook(app, URL, SECRET)  # a retry after a failure works
        assert app.running and fake.webhook["url"] == URL
    finally:
        await tg.stop_bot(app)


async def test_the_secret_and_updates_never_reach_the_logs(
    fake: FakeBotAPI, served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await served.post(fake.user_message(44, "/start bí mật"), secret="wrong-secret")
    await served.post(fake.user_message(44, "/start bí mật"))
    await served.post({"update_id": 9, "message": {"text": "bí mật"}})
    await fake.wait_for(lambda: fake.messages_to(44))
    assert "without the right secret" in caplog.text  # the refusal is logged...
    for secret in (SECRET, "wrong-secret", "bí mật", TOKEN.split(":")[1]):
        assert secret not in caplog.text  # ...but not what was sent


# ---------------------------------------------------------------- configuration


def write_config(tmp_path: Path, telegram: str, server: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"[server]\n{server}\n[telegram]\n{telegram}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("telegram", "server", "expected"),
    [
        ('mode = "webhook"', "", "telegram.webhook_url: required"),
        (f'mode = "webhook"\nwebhook_url = "{URL}"', "enabled = false", "enabled = true"),
        ('webhook_url = "http://bot.example.vn/hook"', "", "telegram.webhook_url: .* not an https"),
        ('webhook_url = "https://bot.example.vn/"', "", "telegram.webhook_url: .* has no path"),
        ('mode = "hook"', "", "telegram.mode"),
        ('webhook_secret = "có dấu!"', "", "telegram.webhook_secret: must be 1 to 256"),
    ],
)
def test_webhook_settings_are_checked_with_a_clear_message(
    tmp_path: Path, telegram: str, server: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected) as caught:
        load_config(write_config(tmp_path, telegram, server), environ={})
    assert "có dấu" not in str(caught.value)  # a secret is never echoed


def test_the_secret_comes_from_the_env_the_file_or_the_token(tmp_path: Path) -> None:
    path = write_config(tmp_path, f'mode = "webhook"\nwebhook_url = "{URL}"\n'
                                  'webhook_secret = "from-file"')
    assert load_config(path, environ={}).webhook_secret == "from-file"
    env = {WEBHOOK_SECRET_ENV: "from_env"}
    assert load_config(path, environ=env).webhook_secret == "from_env"
    with pytest.raises(ConfigError, match=WEBHOOK_SECRET_ENV) as caught:
        load_config(path, environ={WEBHOOK_SECRET_ENV: "bad secret!"})
    assert "bad secret!" not in str(caught.value)
    derived_path = write_config(tmp_path, f'mode = "webhook"\nwebhook_url = "{URL}"')
    first = load_config(derived_path, environ={"NEWSBOT_TELEGRAM_TOKEN": TOKEN}).webhook_secret
    again = load_config(derived_path, environ={"NEWSBOT_TELEGRAM_TOKEN": TOKEN}).webhook_secret
    other = load_config(derived_path, environ={"NEWSBOT_TELEGRAM_TOKEN": "1:x"}).webhook_secret
    assert first == again != other
    assert len(first) == 64 and all(c in "0123456789abcdef" for c in first)
    assert TOKEN.split(":")[1] not in first
    assert load_config(derived_path, environ={}).webhook_secret == ""  # no token, no bot


# ---------------------------------------------------------------- the daemon


def webhook_config(tmp_path: Path, fake: FakeBotAPI) -> Config:
    (tmp_path / "data").mkdir(exist_ok=True)
    return Config(
        data_dir=tmp_path / "data",
        feeds_dir=tmp_path,
        schedule=ScheduleConfig(jitter=timedelta(0)),
        server=ServerConfig(port=0, public_url="https://bot.example.vn"),
        fetch=FetchConfig(respect_robots=False),
        telegram=TelegramConfig.model_validate(
            {"token": TOKEN, "api_base_url": fake.base_url, "mode": "webhook",
             "webhook_url": URL}
        ),
    )


async def test_the_daemon_serves_the_webhook_and_answers_503_until_the_bot_runs(
    tmp_path: Path, fake: FakeBotAPI
) -> None:
    fake.faults.add("getMe", times=1, kind=Fault.delay(0.5))  # the bot starts late
    config = webhook_config(tmp_path, fake)
    daemon = Daemon(config, [])
    task = asyncio.create_task(daemon.run())
    try:
        await fake.wait_for(lambda: daemon.web_port is not None)
        update = fake.user_message(42, "/start")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.web_port}") as client:
            headers = {HEADER: config.webhook_secret}
            early = await client.post(PATH, json=update, headers=headers)
            assert early.status_code == 503 and early.headers["retry-after"]
            await fake.wait_for(lambda: fake.webhook["url"] == URL)
            assert fake.webhook["secret_token"] == config.webhook_secret
            for _ in range(100):  # Telegram's retry, until the bot runs
                response = await client.post(PATH, json=update, headers=headers)
                if response.status_code != 503:
                    break
                await asyncio.sleep(0.05)
            assert response.status_code == 200
            await fake.wait_for(lambda: fake.messages_to(42))
        assert fake.calls_of("getUpdates") == []
    finally:
        daemon.stop_event.set()
        await asyncio.wait_for(task, 10)
