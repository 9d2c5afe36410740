"""The main text of an article page with no selectors (`[article] content = "auto"`): the only
importer of readability-lxml.

Why readability-lxml and not trafilatura or a heuristic of ours (benchmarks/bench_article.py,
29 labelled news pages in 9 languages from trafilatura's evaluation set plus Vietnamese pages):
both libraries find ~93 % of the snippets a reader must get; trafilatura leaves out a little more
boilerplate on its own evaluation set (it is tuned on it), readability keeps the breadcrumbs and
"Tin tức nổi bật" headers of Vietnamese portals out where trafilatura does not, and it needs two
small packages (chardet, lxml_html_clean) where trafilatura needs ten.
"""

from __future__ import annotations

import logging

from bot.source import dom

MIN_TEXT = 200  # characters: less is a teaser or a failed guess, not an article's text

log = logging.getLogger(__name__)


def main_content(html: str, url: str) -> str | None:
    """The article's main text as HTML with absolute links; None when there is no article."""
    # Imported here: readability (and chardet under it) is a third of `newsbot check`'s start-up,
    # and only `content = "auto"` articles need it (tests/test_architecture.py, LATE_IMPORTS).
    from readability import Document

    try:
        # readability parses and rewrites the page itself: the same XML-illegal characters
        # that dom.parse_html drops would make its lxml edits raise.
        summary = Document(dom.without_xml_illegal(html), url=url).summary(html_partial=True)
    except Exception as exc:  # a library guessing on hostile HTML must never fail a poll
        log.info("%s: no main text found: %s", url, exc)
        return None
    root = dom.parse_html(f"<html><body>{summary}</body></html>")
    body = dom.select_one(root, "body")
    # The whole text: a limit counts characters before whitespace collapses (indented markup).
    if body is None or len(dom.text_of(body)) < MIN_TEXT:
        return None
    dom.absolutize_links(body, url)
    return dom.inner_html(body).strip() or None
