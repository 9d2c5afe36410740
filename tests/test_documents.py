"""bot.documents (numbers and types from titles) and bot.source.attachments (real-world markup)."""

from __future__ import annotations

import unicodedata

import pytest

from bot.documents import (
    MAX_ATTACHMENTS,
    document_info,
    document_label,
    media_type,
    merge_attachments,
)
from bot.model import Attachment
from bot.source import dom
from bot.source.attachments import file_kind, find_attachments

BASE = "https://haiphong.gov.vn/thong-bao"
CDN = "https://cdn.haiphong.gov.vn/gov-hpg/1/tintuc/2024/11"

TITLES = [
    # (title, number, type)
    ("Quyết định số 123/QĐ-UBND ngày 12/11/2024 về việc phê duyệt quy hoạch",
     "123/QĐ-UBND", "Quyết định"),
    ("Nghị định 45/2024/NĐ-CP quy định chi tiết Luật Đất đai", "45/2024/NĐ-CP", "Nghị định"),
    ("Công văn 1234/UBND-VP về tăng cường phòng, chống bão số 3", "1234/UBND-VP", "Công văn"),
    ("Về việc triển khai thực hiện 1234/UBND-VP", "1234/UBND-VP", "Công văn"),  # office code
    ("Số 456/SYT: hướng dẫn tiêm chủng", "456/SYT", "Công văn"),
    ("Thông báo kết luận của Chủ tịch UBND thành phố", None, "Thông báo"),
    ("THÔNG BÁO tuyển dụng viên chức năm 2024", None, "Thông báo"),
    ("Kế hoạch số 45/KH-UBND thực hiện Chương trình chuyển đổi số", "45/KH-UBND", "Kế hoạch"),
    ("UBND thành phố ban hành Kế hoạch 298/KH-UBND", "298/KH-UBND", "Kế hoạch"),
    ("Chỉ thị 05/CT-TTg về chấn chỉnh kỷ luật", "05/CT-TTg", "Chỉ thị"),
    ("Tờ trình 10/TTr-UBND về dự thảo Nghị quyết", "10/TTr-UBND", "Tờ trình"),
    ("Nghị quyết 03/2024/NQ-HĐND về mức thu phí", "03/2024/NQ-HĐND", "Nghị quyết"),
    ("Thông tư 12/2024/TT-BTC hướng dẫn quản lý", "12/2024/TT-BTC", "Thông tư"),
    ("Báo cáo 89/BC-UBND tình hình kinh tế - xã hội", "89/BC-UBND", "Báo cáo"),
    ("Hướng dẫn 12/HD-SYT phòng chống dịch", "12/HD-SYT", "Hướng dẫn"),
    ("Số 123 / QĐ – UBND về điều chỉnh", "123/QĐ-UBND", "Quyết định"),  # spaces, en dash
    ("Phê duyệt 77/QĐ-UBND: danh mục dự án", "77/QĐ-UBND", "Quyết định"),  # from the code
    ("Thông báo 45/KH-UBND (đính chính)", "45/KH-UBND", "Thông báo"),  # the word wins
    ("Luật 45/2019/QH14 có hiệu lực", "45/2019/QH14", None),  # a year, an unknown code
    ("Hợp đồng 5/HĐ-XD thi công", "5/HĐ-XD", None),  # HĐ is no hướng dẫn
    # News, not documents:
    ("Trao quyết định bổ nhiệm Phó Giám đốc Sở Tài chính", None, None),
    ("Lịch tiếp công dân tháng 12/2024", None, None),
    ("Ngày 28/11/2024 khai mạc hội nghị", None, None),
    ("Tin 24/7: Covid-19/ABC và PM2.5/m3", None, None),
    ("Triển khai kế hoạch phát triển du lịch", None, None),
    ("", None, None),
]


@pytest.mark.parametrize(("title", "number", "doc_type"), TITLES, ids=[t[0][:30] for t in TITLES])
def test_document_info_reads_numbers_and_types(
    title: str, number: str | None, doc_type: str | None
) -> None:
    assert document_info(title) == (number, doc_type)


def test_decomposed_input_gives_composed_numbers() -> None:
    title = unicodedata.normalize("NFD", "Quyết định số 2045/QĐ-UBND của UBND huyện Thủy Nguyên")

    number, doc_type = document_info(title)

    assert (number, doc_type) == ("2045/QĐ-UBND", "Quyết định")
    assert number is not None and unicodedata.is_normalized("NFC", number)


@pytest.mark.parametrize(
    ("title", "number", "doc_type"),
    [
        ("Quyet dinh so 2045/QD-UBND phe duyet", "2045/QD-UBND", "Quyết định"),
        ("Cong van 5123/UBND-GT ve viec", "5123/UBND-GT", "Công văn"),
        ("thong bao so 12/TB-VP", "12/TB-VP", "Thông báo"),
        ("Ke hoach 7/KH-UBND", "7/KH-UBND", "Kế hoạch"),
        ("Nghi dinh 30/2020/ND-CP ve cong tac van thu", "30/2020/ND-CP", "Nghị định"),
    ],
)
def test_titles_without_diacritics(title: str, number: str, doc_type: str) -> None:
    assert document_info(title) == (number, doc_type)


def test_document_label() -> None:
    assert document_label("Quyết định", "123/QĐ-UBND") == "Quyết định số 123/QĐ-UBND"
    assert document_label(None, "5/TB") == "Số 5/TB"
    assert document_label("Thông báo", None) == "Thông báo"
    assert document_label(None, None) is None


# --- attachments -------------------------------------------------------------------------------


def attachments(html: str, base: str = BASE) -> list[tuple[str, str, str]]:
    found = find_attachments(dom.parse_html(html), base)
    return [(a.url, a.name, a.kind) for a in found]


def test_files_are_found_by_extension_with_absolute_urls_and_names() -> None:
    html = f"""
      <a href="{CDN}/412-TB-UBND638683225300000000.pdf"><i class="fa"></i> Tải về</a>
      <a href="/upload/2024/11/Phu%20luc.DOCX">Phụ lục kèm theo</a>
      <a href="bang-gia.xlsx" title="Bảng giá đất 2025">Download</a>
      <a href="/tin-tuc/bai-viet-749312">Bài viết</a>
      <a href="/anh/lon.jpg">Ảnh</a>
    """
    assert attachments(html) == [
        (f"{CDN}/412-TB-UBND638683225300000000.pdf", "412-TB-UBND638683225300000000.pdf", "pdf"),
        ("https://haiphong.gov.vn/upload/2024/11/Phu%20luc.DOCX", "Phụ lục kèm theo", "docx"),
        ("https://haiphong.gov.vn/bang-gia.xlsx", "Bảng giá đất 2025", "xlsx"),
    ]


def test_marked_download_links_and_cdn_files_without_extension() -> None:
    html = """
      <a class="btn link-download" href="/DownloadFile.ashx?id=77">Tải về</a>
      <a href="https://cdn.haiphong.gov.vn/gov-hpg/1/steeringdocument/2024/11/5123-ubnd-gt">
        Toàn văn</a>
      <a href="https://cdn.haiphong.gov.vn/gov-hpg/SiteFolders/Root/1/thuvienanh/8403.jpg">Ảnh</a>
      <a href="https://cdn.example.com/other/file">CDN khác</a>
      <a download href="/api/bieu-mau/55">Biểu mẫu đăng ký</a>
    """
    assert attachments(html) == [
        ("https://haiphong.gov.vn/DownloadFile.ashx?id=77", "DownloadFile.ashx", "file"),
        ("https://cdn.haiphong.gov.vn/gov-hpg/1/steeringdocument/2024/11/5123-ubnd-gt",
         "5123-ubnd-gt", "file"),
        ("https://haiphong.gov.vn/api/bieu-mau/55", "Biểu mẫu đăng ký", "file"),
    ]


def test_viewers_give_the_file_they_show() -> None:
    html = f"""
      <iframe src="/pdfjs/web/viewer.html?file=%2Fupload%2Fvb%2F298-KH-UBND.pdf"
              title="Kế hoạch 298"></iframe>
      <iframe src="https://docs.google.com/viewer?url={CDN}/a.pdf&amp;embedded=true"></iframe>
      <embed src="/files/ban-do.pdf" type="application/pdf">
      <iframe src="https://www.youtube.com/embed/xyz?file=clip"></iframe>
      <a href="/viewer.html?file={CDN}/b.docx" target="_blank">Xem văn bản</a>
    """
    assert attachments(html) == [  # in page order
        ("https://haiphong.gov.vn/upload/vb/298-KH-UBND.pdf", "Kế hoạch 298", "pdf"),
        (f"{CDN}/a.pdf", "a.pdf", "pdf"),
        ("https://haiphong.gov.vn/files/ban-do.pdf", "ban-do.pdf", "pdf"),
        (f"{CDN}/b.docx", "b.docx", "docx"),
    ]


def test_hostile_and_odd_links_are_skipped_or_cleaned() -> None:
    html = """
      <a href="javascript:download('x.pdf')">JS</a>
      <a href="mailto:vanthu@haiphong.gov.vn?subject=a.pdf">Thư</a>
      <a href="data:application/pdf;base64,AAAA">data</a>
      <a href="#mau.pdf">Neo</a>
      <a href="  /up/mau\tdon.doc#trang-2 ">Mẫu   đơn</a>
      <a href="/up/mau%09don.doc">(bản sao)</a>
      <a href="http://[::1/x.pdf">IPv6 hỏng</a>
      <a href="/up/quy-che.pdf"><script>alert(1)</script></a>
      <a href="/up/x.pdf"><img src="icon.png"></a>
      <a href="/up/khong-ten.pdf?">  </a>
      <a>không href.pdf</a>
    """
    found = attachments(html)
    assert found == [
        ("https://haiphong.gov.vn/up/maudon.doc", "Mẫu đơn", "doc"),
        ("https://haiphong.gov.vn/up/mau%09don.doc", "(bản sao)", "doc"),
        ("https://haiphong.gov.vn/up/quy-che.pdf", "quy-che.pdf", "pdf"),
        ("https://haiphong.gov.vn/up/x.pdf", "x.pdf", "pdf"),
        ("https://haiphong.gov.vn/up/khong-ten.pdf", "khong-ten.pdf", "pdf"),
    ]


def test_duplicates_go_and_a_flood_is_capped() -> None:
    same = '<a href="/a.pdf">A</a><a href="https://haiphong.gov.vn/a.pdf#p2">A lần hai</a>'
    many = "".join(f'<a href="/f{n}.pdf">Tệp {n}</a>' for n in range(500))

    assert attachments(same) == [("https://haiphong.gov.vn/a.pdf", "A", "pdf")]
    assert len(attachments(many)) == MAX_ATTACHMENTS


def test_long_and_vietnamese_file_names() -> None:
    long_text = "Quyết định " * 40
    html = (
        f'<a href="/a.pdf">{long_text}</a>'
        '<a href="/up/Quy%E1%BA%BFt%20%C4%91%E1%BB%8Bnh%20123.pdf">tải xuống</a>'
    )
    found = find_attachments(dom.parse_html(html), BASE)

    assert len(found[0].name) == 200 and found[0].name.endswith("…")
    assert found[1].name == "Quyết định 123.pdf"


def test_merge_keeps_the_first_of_each_url_in_order() -> None:
    a, b, c = (Attachment(f"https://x.vn/{n}.pdf", n, "pdf") for n in "abc")
    renamed = Attachment(a.url, "khác", "pdf")

    assert merge_attachments((a, b), (renamed, c)) == (a, b, c)
    assert merge_attachments() == ()


def test_kinds_and_media_types() -> None:
    assert file_kind("https://x.vn/a/B%C3%A1o-c%C3%A1o.PDF?v=2") == "pdf"
    assert file_kind("https://x.vn/a/archive.tar.gz") == "file"
    assert file_kind("https://x.vn/") == "file"
    assert media_type("pdf") == "application/pdf"
    assert media_type("docx").endswith("wordprocessingml.document")
    assert media_type("file") == "application/octet-stream"
