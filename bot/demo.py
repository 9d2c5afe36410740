"""`newsbot demo`: the whole daemon, offline, against a simulated news site.

The simulated site is a small stdlib HTTP server on 127.0.0.1 that serves a listing page marked up
like the Hải Phòng portal's CMS (the markup `feeds/haiphong.toml` reads) and publishes one new
article every few seconds, so a newcomer sees items appear in the feeds (and, with
NEWSBOT_TELEGRAM_TOKEN set, in Telegram) within a minute, with no configuration. Everything it
stores lives in a temporary folder, deleted on exit. NEWSBOT_DEMO_EVERY=1 publishes every second.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

from bot import shipped
from bot.app import Daemon
from bot.errors import ConfigError
from bot.model import Recipe
from bot.recipes import load_recipe
from bot.scheduler import FeedScheduler
from bot.schema import Config, FetchConfig, ScheduleConfig, ServerConfig, TelegramConfig

log = logging.getLogger(__name__)

EVERY_ENV = "NEWSBOT_DEMO_EVERY"  # seconds between two new articles (default 8)
DEFAULT_EVERY = 8.0
RECIPE = shipped.recipe("haiphong")  # the markup the simulated site imitates
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HEADLINES = (
    "Hải Phòng khởi công cầu Nguyễn Trãi mới bắc qua sông Cấm",
    "Quận Hải An: Tổng kết công tác thi đua khen thưởng năm 2024",
    "Thành phố đẩy nhanh tiến độ giải phóng mặt bằng các dự án trọng điểm",
    "Khai mạc Ngày hội khởi nghiệp đổi mới sáng tạo TECHFEST Hải Phòng",
    "Huyện Tiên Lãng ra quân làm thủy lợi nội đồng vụ đông xuân",
    "Cảng Hải Phòng đón chuyến tàu container lớn nhất từ trước đến nay",
    "Lãnh đạo thành phố kiểm tra công tác phòng, chống bão số 3",
    "Đồ Sơn chuẩn bị cho mùa du lịch biển với nhiều sự kiện mới",
)


class DemoSite:
    """A news listing that grows by one article every `every` seconds."""

    def __init__(self, *, every: float = DEFAULT_EVERY, start_id: int = 960100) -> None:
        self.every = every
        self.start_id = start_id
        self.started_at = time.monotonic()
        self.started_wall = datetime.now(TZ)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/tin-tuc-su-kien"

    def articles(self) -> list[tuple[int, str, datetime]]:
        """(id, title, published) newest first: three at start, then one more per tick."""
        count = 3 + int((time.monotonic() - self.started_at) // self.every)
        return [
            (self.start_id + n, f"{HEADLINES[n % len(HEADLINES)]} (tin số {n + 1})",
             self.published_at(n))
            for n in reversed(range(count))
        ]

    def published_at(self, n: int) -> datetime:
        """When article n appeared (the first three just before start); stable across polls."""
        return self.started_wall + timedelta(seconds=(n - 2) * self.every)

    def listing(self) -> bytes:
        rows = "".join(
            f'<li class="row"><div class="col-lg-2"><img class="image" '
            f'src="/sitefolders/Root/6461/tintuc/demo-{aid}.jpg"></div>'
            f'<div class="col-lg-10"><h2 class="Title"><a href="/tin-tuc-su-kien/tin-demo-{aid}">'
            f"{html.escape(title)}</a></h2>"
            f'<div class="Ngaydang">{at:%d/%m/%Y %H:%M}</div>'
            f"<p>Tin mô phỏng của newsbot demo: {html.escape(title)}.</p></div></li>"
            for aid, title, at in self.articles()
        )
        page = (
            '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
            "<title>Tin tức sự kiện - Cổng thông tin điện tử thành phố Hải Phòng (mô phỏng)</title>"
            '</head><body><div class="UIArticleInMenu_Default"><ul class="ArticleList">'
            f"{rows}</ul></div></body></html>"
        )
        return page.encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/tin-tuc-su-kien") and self.path.count("/") == 1:
                    self._send(200, site.listing())
                else:
                    self._send(404, b"not found")

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the daemon's own log tells the story."""

        return Handler

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def demo_config(data_dir: Path, port: int, every: float = DEFAULT_EVERY) -> Config:
    """Embedded defaults, tuned so something happens every few seconds."""
    token = os.environ.get("NEWSBOT_TELEGRAM_TOKEN", "")
    interval = timedelta(seconds=min(5.0, max(1.0, every)))  # about as often as the site publishes
    return Config(
        data_dir=data_dir,
        feeds_dir=RECIPE.parent,
        schedule=ScheduleConfig(interval=interval, jitter=timedelta(0)),
        server=ServerConfig(port=port, public_url=f"http://localhost:{port}"),
        fetch=FetchConfig(min_host_gap=timedelta(seconds=0.2), respect_robots=False),
        telegram=TelegramConfig.model_validate({"token": token}),
    )


def demo_recipe(url: str) -> Recipe:
    """feeds/haiphong.toml pointed at the simulated site (which has no article pages)."""
    recipe = load_recipe(RECIPE)
    return replace(recipe, feed_id="demo", title=f"{recipe.title} (demo)", urls=(url,),
                   article=None, interval=None)


def every_from_env(environ: Mapping[str, str] | None = None) -> float:
    """Seconds between new articles: NEWSBOT_DEMO_EVERY, default 8."""
    text = (os.environ if environ is None else environ).get(EVERY_ENV, "").strip()
    if not text:
        return DEFAULT_EVERY
    try:
        every = float(text)
    except ValueError:
        every = 0.0
    if not 0.1 <= every <= 3600:
        raise ConfigError(f"{EVERY_ENV}={text!r} is not a number of seconds from 0.1 to 3600",
                          hint=f"unset it, or write e.g. {EVERY_ENV}=2")
    return every


def free_port(port: int) -> int:
    """`port` if it can be listened on (0: any free port); ConfigError naming the fix if not."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the feed server does
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise ConfigError(f"the demo cannot listen on port {port}: {exc.strerror}",
                              hint="pick another one: newsbot demo --port 8081") from None
        return int(sock.getsockname()[1])


def run(*, port: int = 8080) -> int:
    """Serve the simulated site and run the daemon on it until Ctrl-C."""
    every = every_from_env()
    port = free_port(port)  # a known port, so the feeds' public URL is right even for --port 0
    site = DemoSite(every=every)
    site.start()
    with tempfile.TemporaryDirectory(prefix="newsbot-demo-") as tmp:
        config = demo_config(Path(tmp), port, every)
        scheduler = FeedScheduler(jitter=timedelta(0), first_poll_within=timedelta(seconds=1))
        daemon = Daemon(config, [demo_recipe(site.url)], scheduler=scheduler)
        log.info("demo: simulated news site at %s, a new article every %g s", site.url, every)
        log.info("demo: open http://localhost:%d/ or subscribe to "
                 "http://localhost:%d/feeds/demo.xml; Ctrl-C stops", port, port)
        try:
            asyncio.run(daemon.run_until_signalled())
        finally:
            site.stop()
    return 0
