"""bot.source.dom: decoding real-world Vietnamese bytes, tolerant parsing, CSS selection, text."""

from __future__ import annotations

import codecs
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.source import dom

TITLE = "Quận Hải An: Tôn vinh, nhân rộng các điển hình tiên tiến kịp thời đã tạo nên khí thế"
BODY_TEXT = "Chiều 11/1, UBND quận Hải An tổ chức Hội nghị tổng kết công tác Thi đua khen thưởng."
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def to_cp1258(text: str) -> bytes:
    """Encode as Windows-1258 does: base letters (â, ơ, ư…) precomposed, tone marks combining."""
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(p for p in parts if p not in _TONE_MARKS))
        tones = "".join(p for p in parts if p in _TONE_MARKS)
        out += (base + tones).encode("cp1258")
    return bytes(out)


def page(head: str = "", title: str = TITLE) -> str:
    return (
        f"<!DOCTYPE html><html><head>{head}<title>{title}</title></head>"
        f"<body><h2 class='Title'><a href='/a-1'>{title}</a></h2><p>{BODY_TEXT}</p></body></html>"
    )


PADDING = "<!-- " + "x" * 1500 + " -->"  # pushes a meta past the 1024 bytes browsers pre-scan

CHARSET_MATRIX = {
    "utf-8, header": (page().encode(), "text/html; charset=utf-8"),
    "utf-8, no label": (page().encode(), None),
    "cp1258, header only": (to_cp1258(page()), "text/html; charset=windows-1258"),
    "cp1258, meta only": (to_cp1258(page('<meta charset="windows-1258">')), "text/html"),
    "cp1258, http-equiv meta after 1024 bytes": (
        to_cp1258(
            page(PADDING + '<meta http-equiv="Content-Type" content="text/html; charset=cp1258">')
        ),
        None,
    ),
    "cp1258, no label at all": (to_cp1258(page()), None),
    "header says utf-8, body is cp1258": (to_cp1258(page()), "text/html; charset=UTF-8"),
    "meta says utf-8, body is cp1258": (to_cp1258(page('<meta charset="utf-8">')), None),
    "cp1258 label on a utf-8 body": (
        page('<meta charset="windows-1258">').encode(),
        "text/html; charset=windows-1258",
    ),
    "latin-1 label on a utf-8 body": (page().encode(), "text/html; charset=ISO-8859-1"),
    "utf-8 BOM, header says cp1258": (
        codecs.BOM_UTF8 + page().encode(),
        "text/html; charset=windows-1258",
    ),
    "utf-16 BOM": (codecs.BOM_UTF16_LE + page().encode("utf-16-le"), None),
    "NFD utf-8 text": (unicodedata.normalize("NFD", page()).encode(), "text/html; charset=utf-8"),
}


@pytest.mark.parametrize("case", CHARSET_MATRIX, ids=list(CHARSET_MATRIX))
def test_charset_matrix_gives_the_reference_nfc_text(case: str) -> None:
    body, content_type = CHARSET_MATRIX[case]
    text = dom.decode_html(body, content_type)
    assert "\ufffd" not in text
    assert "Ã" not in text and "á»" not in text, "mojibake: UTF-8 read as a single-byte charset"
    assert unicodedata.is_normalized("NFC", text)
    root = dom.parse_html(text)
    titles = [dom.text_of(n) for n in dom.select(root, "h2.Title a")]
    assert titles == [TITLE]
    assert dom.text_of(dom.select(root, "p")[0]) == BODY_TEXT


def test_python_cp1258_really_decomposes_so_nfc_matters() -> None:
    # The reason decode_html normalises: without it, titles would not equal what users type.
    raw = to_cp1258("Hải").decode("cp1258")
    assert raw != "Hải" and unicodedata.normalize("NFC", raw) == "Hải"


def test_empty_body_decodes_to_empty_text() -> None:
    assert dom.decode_html(b"", "text/html; charset=utf-8") == ""


def test_unknown_charset_label_is_ignored() -> None:
    assert dom.decode_html(to_cp1258(page()), "text/html; charset=x-no-such").count(TITLE) == 2


HOSTILE = {
    "empty": "",
    "whitespace": "   \n\t ",
    "comment only": "<!-- nothing -->",
    "NUL bytes": "<p>a\x00b</p>\x00",
    "control characters": "<p>x\x01\x02\x1fy</p>",
    "xml declaration": "<?xml version='1.0' encoding='utf-8'?><html><body><p>x</p></body></html>",
    "lone surrogate": "<p>a\ud800b</p>",
    "broken tags": "<div><p>unclosed <b>bold <i>it</div></span></table><a href='x>y</a>",
    "deep nesting": "<div>" * 100_000 + "x" + "</div>" * 100_000,
    "10 MB of junk": ("<p><b>x<i>y<a href='q'>&#xD800;&bogus;" * 400_000)[:10_000_000],
    "binary": bytes(range(256)).decode("latin-1") * 100,
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_parse_html_never_raises(case: str) -> None:
    root = dom.parse_html(HOSTILE[case])
    assert dom.tag_of(root) == "html"
    text = dom.text_of(root)
    assert "\x00" not in text and "\x01" not in text
    assert isinstance(dom.select(root, "div p, a[href]"), list)


def test_nul_bytes_vanish_rather_than_becoming_replacement_characters() -> None:
    root = dom.parse_html("<p>a\x00b</p>")
    assert dom.text_of(root) == "ab"


def test_unclosed_tags_nested_past_256_levels_keep_later_content() -> None:
    # libxml2's default depth limit (256) would silently drop everything after the 256th <font>.
    html = "<html><body>" + "<font>a " * 300 + "<div class='item'><a href='/x'>T</a></div>"
    assert len(dom.select(dom.parse_html(html), "div.item a")) == 1


def test_select_returns_selector_list_matches_in_document_order() -> None:
    root = dom.parse_html("<ul><li class='b'>1</li><li class='a'>2</li><li class='b'>3</li></ul>")
    assert [dom.text_of(n) for n in dom.select(root, "li.a, li.b")] == ["1", "2", "3"]
    assert dom.select_one(root, "li.a") is not None
    assert dom.select_one(root, "li.c") is None


@pytest.mark.parametrize("css", ["div[", "", "   ", "a >> b", "::"])
def test_invalid_selectors_raise_value_error_naming_them(css: str) -> None:
    with pytest.raises(ValueError, match="selector"):
        dom.compile_selector(css)


def test_valid_selectors_compile_and_select() -> None:
    css = "div.UIArticleInMenu_Default ul.ArticleList li.row, div.x > a[href]"
    dom.compile_selector(css)  # raises ValueError when it is not valid CSS
    root = dom.parse_html(
        "<div class='UIArticleInMenu_Default'><ul class='ArticleList'><li class='row'>1</li>"
        "<li class='row'>2</li></ul></div><div class='x'><a href='/a'>a</a><a>b</a></div>"
    )
    assert [dom.text_of(node) for node in dom.select(root, css)] == ["1", "2", "a"]


def test_text_of_skips_script_and_style_and_collapses_whitespace() -> None:
    root = dom.parse_html(
        "<div id='t'>  Hải\n\t<script>var x = 1;</script>Phòng<style>p{}</style>"
        "<!-- c -->&nbsp;ngày<br>28/11\u200b</div>"
    )
    assert dom.text_of(dom.select(root, "#t")[0]) == "Hải Phòng ngày 28/11"


def test_text_of_separates_block_elements_but_not_inline_ones() -> None:
    root = dom.parse_html("<div id='t'><p>một</p><p>hai</p><b>b</b><i>a</i></div>")
    assert dom.text_of(dom.select(root, "#t")[0]) == "một hai ba"


def test_text_of_normalises_decomposed_input() -> None:
    root = dom.parse_html(f"<p>{unicodedata.normalize('NFD', TITLE)}</p>")
    assert dom.text_of(dom.select(root, "p")[0]) == TITLE


def test_text_of_a_script_element_is_empty_but_raw_text_keeps_it() -> None:
    root = dom.parse_html('<script type="application/ld+json">{"a": 1}</script>')
    script = dom.select(root, "script")[0]
    assert dom.text_of(script) == ""
    assert dom.raw_text_of(script) == '{"a": 1}'


def test_attr_of() -> None:
    link = dom.select(dom.parse_html("<a href='  /x \n' title=''>t</a>"), "a")[0]
    assert dom.attr_of(link, "href") == "/x"
    assert dom.attr_of(link, "title") == ""
    assert dom.attr_of(link, "rel") is None


def test_tree_helpers() -> None:
    root = dom.parse_html(
        "<div class='UIArticleInMenu_Default'><ul class='ArticleList'>"
        "<li class='row x:y'><a>1</a></li><!-- c --><li class='row'>2</li></ul></div>"
    )
    first = dom.select(root, "li")[0]
    ul = dom.parent_of(first)
    assert ul is not None and dom.tag_of(ul) == "ul"
    assert [dom.tag_of(c) for c in dom.children_of(ul)] == ["li", "li"]
    assert dom.classes_of(first) == ("row", "x:y")
    assert dom.css_path(first) == "body > div.UIArticleInMenu_Default > ul.ArticleList > li.row"
    assert dom.css_path(first, stop=ul) == "li.row"
    assert "li" in [dom.tag_of(e) for e in dom.iter_elements(ul)]
    assert all(dom.tag_of(e) for e in dom.iter_elements(root))  # no comments
    assert [dom.tag_of(e) for e in dom.following_elements(first, 1)] == ["li"]
    assert dom.tag_of(list(dom.ancestors_of(first))[-1]) == "html"
    assert dom.parent_of(root) is None


def test_css_path_stops_at_an_id() -> None:
    root = dom.parse_html("<div id='main'><section class='news list'><p>x</p></section></div>")
    assert dom.css_path(dom.select(root, "p")[0]) == "div#main > section.news.list > p"


def test_html_serialisation_drop_and_absolute_links() -> None:
    root = dom.parse_html(
        "<div id='c'>a &amp; b<script>x()</script><img src='../i.jpg'><a href='p?q=1'>l</a></div>"
    )
    content = dom.select(root, "#c")[0]
    dom.drop(dom.select(content, "script"))
    dom.absolutize_links(content, "https://haiphong.gov.vn/tin-tuc-su-kien/x")
    assert dom.inner_html(content) == (
        'a &amp; b<img src="https://haiphong.gov.vn/i.jpg">'
        '<a href="https://haiphong.gov.vn/tin-tuc-su-kien/p?q=1">l</a>'
    )
    assert dom.outer_html(content).startswith('<div id="c">')


def test_normalize_text() -> None:
    assert dom.normalize_text(" a\u00a0\u200b b\n") == "a b"


# Letters, Vietnamese in NFC, and the combining marks that decompose them, in any order.
_LETTERS = list("aeiouyđĐ AEIOUY<>&;/-") + list("ăâêôơưáàảãạếềểễệ") + [
    chr(code) for code in range(0x300, 0x370)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(_LETTERS), max_size=300))
def test_a_page_is_normalised_as_a_whole_nfc_pass_would(text: str) -> None:
    """Only each letter and its marks are normalised (a whole pass costs 1.6 ms per page); the
    result must be the page's NFC, also when marks pile up or the page is decomposed throughout."""
    page = "<p>" + text + "</p>"
    for form in (page, unicodedata.normalize("NFD", page)):
        assert dom.decode_html(form.encode()) == unicodedata.normalize("NFC", form)
