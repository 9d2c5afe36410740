"""Security (plan E2, E5, D9): the bot token never leaks; the feed server answers odd requests
with short 4xx and nosniff.

The daemon test runs `python -m bot --debug run` for real, with a real-shaped fake token and a
Telegram API URL on a closed local port, polls a fake site, serves feeds, gets SIGTERM, and then
every byte it wrote (stdout, stderr, every file under data_dir, every HTTP answer) is searched.
"""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fakes.feed_server import FeedServerThread
from fakes.site import FakeSite

from bot.logs import RedactToken, redact
from bot.model import Item
from bot.publish.feedmeta import FeedMeta
from bot.store.db import Store

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
SECRET = TOKEN.split(":")[1]
TOKEN_SHAPE = re.compile(rb"\d{6,}:[\w-]{30,}")
T0 = datetime(2024, 11, 28, 5, 0, tzinfo=UTC)


def leaks(data: bytes) -> list[bytes]:
    """Every token-shaped string, and the secret half of the token, found in `data`."""
    found = TOKEN_SHAPE.findall(data)
    if SECRET.encode() in data:
        found.append(b"<the token's secret>")
    return found


# --- E2: redaction of log records --------------------------------------------------------------


class Boom(Exception):
    pass


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactToken())
    logger = logging.getLogger("newsbot.test_security")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


URL = f"https://api.telegram.org/bot{TOKEN}/getMe"


def test_redact_replaces_the_token_and_keeps_the_rest() -> None:
    assert redact(URL) == "https://api.telegram.org/bot<redacted-token>/getMe"
    assert redact("chat 123456789 sent 12:30") == "chat 123456789 sent 12:30"


@pytest.mark.parametrize(
    ("case", "emit"),
    [
        ("in the message", lambda log: log.info("calling " + URL)),
        ("in a str argument", lambda log: log.info("calling %s", URL)),
        ("in an exception argument", lambda log: log.warning("failed: %s", Boom(URL))),
        ("in a repr argument", lambda log: log.warning("failed: %r", Boom(URL))),
        ("in an object argument", lambda log: log.debug("url: %s", httpx.URL(URL))),
        ("in mapping arguments", lambda log: log.info("%(where)s", {"where": URL})),
        ("in a formatted message", lambda log: log.error(f"request to {URL} failed")),
    ],
)
def test_records_are_redacted_wherever_the_token_is(
    captured: tuple[logging.Logger, io.StringIO], case: str, emit: object
) -> None:
    logger, stream = captured
    emit(logger)  # type: ignore[operator]
    output = stream.getvalue()
    assert "<redacted-token>" in output, (case, output)
    assert leaks(output.encode()) == [], (case, output)
    assert "api.telegram.org/bot" in output and "/getMe" in output  # the rest is kept


def test_exception_text_and_tracebacks_are_redacted(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    try:
        try:
            raise ConnectionError(f"cannot connect to {URL}")
        except ConnectionError as inner:
            raise Boom(f"getMe failed for bot{TOKEN}") from inner
    except Boom:
        logger.exception("Telegram start failed (token %s)", TOKEN)
    output = stream.getvalue()
    assert "Traceback" in output and "ConnectionError" in output and "Boom" in output
    assert output.count("<redacted-token>") == 3, output
    assert leaks(output.encode()) == [], output


def test_setup_logging_redacts_and_quiets_http_loggers(capfd: pytest.CaptureFixture[str]) -> None:
    from bot.logs import setup_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        setup_logging("DEBUG")
        logging.getLogger("bot.app").debug("bot url %s", URL)
        logging.getLogger("httpx").info("HTTP Request: POST %s", URL)  # below WARNING: dropped
        assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    err = capfd.readouterr().err
    assert "bot url https://api.telegram.org/bot<redacted-token>/getMe" in err
    assert "HTTP Request" not in err
    assert leaks(err.encode()) == []


# --- E2: the whole daemon at DEBUG -------------------------------------------------------------

LISTING = """<html><head><meta charset="utf-8"></head><body><ul class="ArticleList">
<li class="row"><h2 class="Title"><a href="/tin/1.html">Tin số một về Hải Phòng</a></h2>
<p>Tóm tắt một</p><div class="Ngaydang">28/11/2024</div></li>
<li class="row"><h2 class="Title"><a href="/tin/2.html">Tin số hai về Hải An</a></h2>
<p>Tóm tắt hai</p><div class="Ngaydang">27/11/2024</div></li>
</ul></body></html>"""


def free_port() -> int:
    """A port nobody listens on (bound then released; the kernel will not reuse it at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_daemon_config(tmp_path: Path, site: FakeSite, web_port: int) -> Path:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "hp.toml").write_text(
        f'title = "Hải Phòng"\nurl = "{site.url_for("/hp")}"\n'
        '[list]\nitem = "li.row"\ntitle = "h2.Title a"\nsummary = "p"\ndate = "div.Ngaydang"\n',
        encoding="utf-8",
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f"""data_dir = "data"
feeds_dir = "feeds"
log_level = "DEBUG"
[server]
port = {web_port}
public_url = "http://127.0.0.1:{web_port}"
[fetch]
respect_robots = false
min_host_gap = "1s"
[schedule]
jitter = "1s"
[telegram]
api_base_url = "http://127.0.0.1:{free_port()}/bot"
admins = [1001]
""",
        encoding="utf-8",
    )
    return config


def wait_for(check: object, timeout: float, daemon: subprocess.Popen[bytes]) -> bool:
    """True once check() holds; False if the daemon exits first; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            return False
        try:
            if check():  # type: ignore[operator]
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for the daemon")


def test_daemon_at_debug_never_writes_the_token_anywhere(tmp_path: Path) -> None:
    web_port = free_port()
    with FakeSite.start_in_thread() as site:
        site.set_page("/hp", LISTING)
        config = write_daemon_config(tmp_path, site, web_port)
        env = {**os.environ, "NEWSBOT_TELEGRAM_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
        out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "bot", "--debug", "--config", str(config), "run"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=err,
            )
        answers: list[bytes] = []
        base = f"http://127.0.0.1:{web_port}"
        try:
            running = wait_for(
                lambda: b"Tin s" in httpx.get(f"{base}/feeds/hp.xml").content, 20, daemon
            )
            if running:
                for path in [
                    "/healthz",
                    "/metrics",
                    "/",
                    "/feeds.opml",
                    "/feeds/hp.xml",
                    "/feeds/hp.atom",
                    "/feeds/hp.json",
                    "/feeds/all.xml",
                    "/nope",
                ]:
                    response = httpx.get(base + path)
                    answers.append(str(response.headers).encode() + response.content)
                assert site.count("/hp") >= 1
        finally:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
            try:
                code = daemon.wait(15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
                pytest.fail("the daemon did not stop within 15 s of SIGTERM")
    written = {"stdout": out_path.read_bytes(), "stderr": err_path.read_bytes()}
    written |= {f"answer {n}": body for n, body in enumerate(answers)}
    written |= {str(p): p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file()}
    # Whatever happened, nothing it wrote may hold the token.
    assert {name: leaks(data) for name, data in written.items() if leaks(data)} == {}
    assert b" DEBUG " in written["stderr"]  # it really ran at DEBUG
    tail = written["stderr"][-3000:].decode(errors="replace")
    assert running, f"the daemon exited early ({code}): {tail}"
    assert b"Telegram unreachable" in written["stderr"], tail  # and the feeds kept running
    assert code == 0, tail
    assert len(answers) == 9


@pytest.mark.parametrize(
    "telegram_section",
    [
        f'token = "{TOKEN}"\nchannels = [{{}}]',
        f'token = "{TOKEN}"\nmessages_per_second = 99',
        f'token = ["{TOKEN}"]',
        f'admins = ["{TOKEN}"]',
    ],
    ids=["token-beside-a-bad-list", "token-beside-a-bad-number", "token-as-list", "token-as-admin"],
)
def test_config_errors_never_echo_the_token(tmp_path: Path, telegram_section: str) -> None:
    (tmp_path / "feeds").mkdir()
    config = tmp_path / "config.toml"
    config.write_text(f"[telegram]\n{telegram_section}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "NEWSBOT_TELEGRAM_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "feeds"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1 and b"newsbot: error: " in done.stderr
    assert leaks(done.stdout + done.stderr) == []


# --- D9/E5: odd requests on a raw socket (complements tests/test_web.py) -----------------------


@pytest.fixture(scope="module")
def web() -> Iterator[FeedServerThread]:
    with Store.open(":memory:") as store:
        store.add_items("hp", [Item("hp", "1", "https://haiphong.gov.vn/tin/1.html", "Tin")], T0)
        feeds = {"hp": FeedMeta("hp", "Hải Phòng", "https://haiphong.gov.vn/")}
        with FeedServerThread(store, feeds) as server:
            yield server


def raw_request(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes exactly as given; (status, headers, body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


def get(target: bytes, *, method: bytes = b"GET", host: bytes = b"feeds.test") -> bytes:
    return method + b" " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"


ODD_TARGETS = [
    b"http://evil.example/etc/passwd",  # absolute-form
    b"*",
    b"/%2E%2e/%2e%2E/etc/passwd",
    b"/feeds/.%2e/.%2e/etc/passwd",
    b"/feeds/hp.xml/..",
    b"/feeds/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",  # overlong UTF-8 dots
    b"/feeds/%252e%252e/etc/passwd",  # double-encoded
    b"/feeds/..;/..;/etc/passwd",
    b"/feeds/..%5c..%5cetc/passwd",
    b"/feeds/hp.xml?include=%00",
    b"/feeds/hp.xml?" + b"q=" + b"a" * 10_000,
    b"/etc/passwd",
    b"/proc/self/environ",
    b"/feeds/../pyproject.toml",
    b"/feeds/hp.xml%2f",  # a trailing slash must not become a redirect built from Host
    b"/healthz/",
]


@pytest.mark.parametrize("target", ODD_TARGETS, ids=[t[:45].decode() for t in ODD_TARGETS])
def test_odd_targets_get_a_short_4xx_with_nosniff_and_no_redirect(
    web: FeedServerThread, target: bytes
) -> None:
    status, headers, body = raw_request(web.port, get(target, host=b"evil.example"))
    assert 400 <= status < 500, (status, headers)
    assert headers.get("x-content-type-options") == "nosniff"
    assert "location" not in headers
    assert len(body) < 200 and b"root:" not in body and b"Traceback" not in body


@pytest.mark.parametrize("method", [b"POST", b"PUT", b"DELETE", b"TRACE", b"OPTIONS"])
def test_other_methods_are_refused_with_nosniff(web: FeedServerThread, method: bytes) -> None:
    status, headers, body = raw_request(web.port, get(b"/feeds/hp.xml", method=method))
    assert status == 405 and headers.get("x-content-type-options") == "nosniff"
    assert b"<rss" not in body


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /feeds/hp.xml\x00 HTTP/1.1\r\nHost: t\r\n\r\n",  # raw NUL in the request line
        b"GET /\x01/ HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /feeds/hp.xml HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS hello
    ],
    ids=["nul-in-line", "control-char", "bad-header", "tls-hello"],
)
def test_malformed_requests_get_400_and_the_server_keeps_serving(
    web: FeedServerThread, request_bytes: bytes
) -> None:
    status, headers, body = raw_request(web.port, request_bytes)
    assert status == 400 and b"Traceback" not in body
    assert headers.get("x-content-type-options") == "nosniff"  # uvicorn's own 400 too
    assert httpx.get(web.url("/feeds/hp.xml")).status_code == 200
