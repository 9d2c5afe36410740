"""bot.urls: the one URL module every wing uses (absolute links, canonical ids, safe hrefs)."""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.urls import absolute_url, canonical_url, remove_dot_segments, safe_href

BASE = "https://haiphong.gov.vn/tin-tuc/"
PIECES = [*"/.#?&=:%ahả \t\n\x00[]@", "..", "//", "http:", "https://x.vn", "javascript:"]
HREF_CHARS = st.lists(st.sampled_from(PIECES), max_size=20).map("".join)


@settings(max_examples=300, deadline=None)
@given(HREF_CHARS)
def test_absolute_url_gives_a_followable_http_link_or_none(href: str) -> None:
    url = absolute_url(href, BASE)
    if url is not None:
        assert url.startswith(("http://", "https://"))
        assert "#" not in url and not any(ch in url for ch in " \t\n\x00")
        path = urlsplit(url).path
        assert "/./" not in path + "/" and "/../" not in path + "/"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_safe_href_never_raises_and_keeps_only_http(text: str) -> None:
    for url in (text, "https://x.vn/" + text, "http://[" + text):
        href = safe_href(url)
        assert href is None or href.startswith(("http://", "https://"))
        assert href is None or not any(ch in href for ch in ' "<>\n')


def test_the_scraped_link_and_the_id_agree_on_one_article() -> None:
    scraped = absolute_url("../tin-tuc/./khoi-cong-749312.html#top", BASE)
    assert scraped == "https://haiphong.gov.vn/tin-tuc/khoi-cong-749312.html"
    assert canonical_url("HTTP://HaiPhong.gov.vn:80/tin-tuc/khoi-cong-749312.html?utm_source=x") \
        == canonical_url(scraped)


def test_remove_dot_segments() -> None:
    assert remove_dot_segments("/a/./b/../c") == "/a/c"
    assert remove_dot_segments("/a/b/..") == "/a/"
    assert remove_dot_segments("/../a") == "/a"
