"""HTTP answers, without a client: which URLs may be fetched, the conditional request's headers,
and an answer turned into a FetchResult or a FetchError with one line naming the URL and the fix.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

from bot.addresses import AddressRefused
from bot.backoff import parse_max_age, parse_retry_after
from bot.errors import FetchError
from bot.model import CacheHeaders, FetchResult


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange; the body is read only for 2xx."""

    url: str
    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes = b""


URL_HINT = "use a full http:// or https:// URL, like https://example.com/news"
REFUSED_HINT = (
    "newsbot does not fetch from this machine or a private network for a site on the internet; "
    "if the site is on your network, add it to [fetch] allow_private in the config"
)


def refused(url: str, exc: AddressRefused, redirected_from: str | None) -> FetchError:
    via = f" (redirected from {redirected_from})" if redirected_from else ""
    return FetchError(f"{url}: not fetched: {exc}{via}", hint=REFUSED_HINT)


def check_target(url: str, *, redirected_from: str | None = None) -> None:
    """Refuse what newsbot must not fetch: non-http(s) schemes, no host, https -> http hops."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise FetchError(f"{url}: not a valid URL ({exc})", hint=URL_HINT) from None
    scheme = parts.scheme.lower()
    via = f" (redirected from {redirected_from})" if redirected_from else ""
    if scheme not in ("http", "https"):
        raise FetchError(f"{url}: only http and https URLs can be fetched{via}", hint=URL_HINT)
    if not parts.hostname:
        raise FetchError(f"{url}: the URL has no host{via}", hint=URL_HINT)
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise FetchError(f"{url}: bad port ({exc}){via}", hint=URL_HINT) from None
    if redirected_from and scheme == "http" and urlsplit(redirected_from).scheme.lower() == "https":
        raise FetchError(
            f"{redirected_from}: refused redirect from https to plain http ({url})",
            hint="put the http:// URL in the recipe if you trust it",
        )


def conditional_headers(cache: CacheHeaders | None) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the validators of the last 200."""
    headers: dict[str, str] = {}
    if cache is not None and cache.etag:
        headers["If-None-Match"] = cache.etag
    if cache is not None and cache.last_modified:
        headers["If-Modified-Since"] = cache.last_modified
    return headers


def result(answer: Answer, sent: CacheHeaders | None) -> FetchResult:
    """Turn the last answer into a result (2xx, 304) or the error to raise."""
    validators = CacheHeaders(
        etag=answer.headers.get("etag"), last_modified=answer.headers.get("last-modified")
    )
    max_age = parse_max_age(answer.headers.get("cache-control", ""))
    if answer.status == 304:
        # A 304 may omit validators; the ones sent are still the current ones.
        kept = sent or CacheHeaders()
        cache = CacheHeaders(
            etag=validators.etag or kept.etag,
            last_modified=validators.last_modified or kept.last_modified,
        )
        return FetchResult(url=answer.url, status=304, cache=cache, max_age=max_age)
    if 200 <= answer.status < 300:
        return FetchResult(
            url=answer.url,
            status=answer.status,
            body=answer.body,
            content_type=answer.headers.get("content-type"),
            cache=validators,
            max_age=max_age,
        )
    raise status_error(answer)


_STATUS_HINTS = {
    401: "the page needs a login; newsbot reads public pages only",
    403: "the site refuses newsbot (blocked, or a login is needed); open the URL in a browser",
    404: "the page does not exist; check the URL in the recipe",
    410: "the page was removed for good; update or remove the recipe",
    429: "the site is rate-limiting newsbot; newsbot will wait and retry",
}


def status_error(answer: Answer) -> FetchError:
    status = answer.status
    if status in _STATUS_HINTS:
        hint = _STATUS_HINTS[status]
    elif status >= 500:
        hint = "the site is down or overloaded; newsbot will retry with backoff"
    elif status >= 400:
        hint = "the site rejected the request; check the URL in a browser"
    else:
        hint = "unexpected answer for a page; check the URL in a browser"
    retry_after = None
    value = answer.headers.get("retry-after")
    if status in (429, 503) and value:
        retry_after = parse_retry_after(value, server_now(answer.headers))
    return FetchError(
        f"{answer.url}: HTTP {status} {answer.reason}".rstrip(),
        hint=hint,
        status=status,
        retry_after=retry_after,
    )


def redirect_target(answer: Answer) -> str:
    location: str | None = answer.headers.get("location")
    if not location:
        raise FetchError(
            f"{answer.url}: HTTP {answer.status} redirect without a Location header",
            hint="the site sent a broken redirect; check the URL in a browser",
        )
    return urljoin(answer.url, location.strip())


def server_now(headers: Mapping[str, str]) -> datetime:
    """The server's Date (Retry-After dates are relative to its clock), else ours."""
    value = headers.get("date")
    if value:
        try:
            at = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            pass
        else:
            return at if at.tzinfo else at.replace(tzinfo=UTC)
    return datetime.now(UTC)
