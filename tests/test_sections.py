"""Recipe sections (`[[section]]` tables): loading, ids, URLs, and every mistake in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from bot.errors import RecipeError
from bot.model import Section
from bot.recipes import load_recipe
from bot.source.listing import live_sections

HEAD = 'title = "Cổng TTĐT Hải Phòng"\n'
SECTIONS = """
[[section]]
name = "Tin tức – Sự kiện"
url = "/tin-tuc-su-kien"

[[section]]
name = "Thông báo"
url = "https://haiphong.gov.vn/thong-bao"

[[section]]
name = "Huyện Tiên Lãng"
id = "tien-lang"
url = "https://tienlang.haiphong.gov.vn/tin-tuc-su-kien"
"""


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "hp.toml"
    path.write_text(text, encoding="utf-8")
    return load_recipe(path)


def test_sections_load_with_ids_from_their_names_and_urls_against_the_base(
    tmp_path: Path,
) -> None:
    recipe = load(tmp_path, HEAD + 'url = "https://haiphong.gov.vn/"\n' + SECTIONS)

    assert recipe.sections == (  # type: ignore[attr-defined]
        Section("tin-tuc-su-kien", "Tin tức – Sự kiện", "https://haiphong.gov.vn/tin-tuc-su-kien"),
        Section("thong-bao", "Thông báo", "https://haiphong.gov.vn/thong-bao"),
        Section("tien-lang", "Huyện Tiên Lãng",
                "https://tienlang.haiphong.gov.vn/tin-tuc-su-kien"),
    )
    assert recipe.urls == tuple(s.url for s in recipe.sections)  # type: ignore[attr-defined]


def test_absolute_sections_need_no_base(tmp_path: Path) -> None:
    text = HEAD + SECTIONS.replace('"/tin-tuc-su-kien"', '"https://haiphong.gov.vn/tin"')

    recipe = load(tmp_path, text)

    assert recipe.urls[0] == "https://haiphong.gov.vn/tin"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEAD, "no URL given"),
        (HEAD + SECTIONS, "section 1 ('Tin tức – Sự kiện'): \"/tin-tuc-su-kien\" is not an"),
        (HEAD + 'url = ["https://a.vn/1", "https://a.vn/2"]\n' + SECTIONS, "do not mix"),
        (HEAD + 'url = "https://a.vn/"\n' + SECTIONS + '[[section]]\nname = "Thông  báo"\n'
         'url = "/tb2"\n', "section 4 ('Thông  báo'): same id as 'Thông báo'"),
        (HEAD + 'url = "https://a.vn/"\n' + SECTIONS + '[[section]]\nname = "Khác"\n'
         'url = "https://haiphong.gov.vn/thong-bao"\nid = "khac"\n', "same URL"),
        (HEAD + 'url = "https://a.vn/"\n[[section]]\nname = "A"\nurl = "/a"\nid = "Có Dấu"\n',
         "section.0.id: \"Có Dấu\" is not a usable section id"),
        (HEAD + 'url = "https://a.vn/"\n[[section]]\nname = "…"\nurl = "/a"\n',
         "no usable id from its name"),
        (HEAD + 'url = "https://a.vn/"\n[[section]]\nname = "A"\nurl = "/a"\nlink = "/b"\n',
         "section.0.link: unknown key"),
        (HEAD + 'url = "https://a.vn/"\n[[section]]\nurl = "/a"\n', "section.0.name"),
    ],
    ids=["nothing", "relative-no-base", "list-and-sections", "same-id", "same-url", "bad-id",
         "no-id", "unknown-key", "no-name"],
)
def test_mistakes_name_the_file_the_section_and_the_fix(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(RecipeError) as caught:
        load(tmp_path, text)

    error = str(caught.value)
    assert error.startswith(f"{tmp_path / 'hp.toml'}: ") and message in error
    assert ": : " not in error and "\n" not in error


def test_the_shipped_recipe_has_its_three_sections_live() -> None:
    recipe = load_recipe(ROOT / "feeds" / "haiphong.toml")

    assert [(s.section_id, s.name) for s in recipe.sections] == [
        ("tin-tuc-su-kien", "Tin tức – Sự kiện"),
        ("thong-bao", "Thông báo"),
        ("chi-dao-dieu-hanh", "Chỉ đạo điều hành"),
    ]
    assert recipe.urls[0] == "https://haiphong.gov.vn/tin-tuc-su-kien"
    assert live_sections(recipe) == recipe.sections
