"""Every user-facing string of the Telegram bot, in Vietnamese and English.

Templates are Telegram HTML. `t` escapes every interpolated value unless it is wrapped in `Html`
(a fragment the caller already built from escaped parts), so text from users and sites can never
inject markup. Both languages have the same keys and the same placeholders (a test checks it).

Why one module of ~630 lines: it is the two languages' tables (VI, EN) and some forty lines of
code. A translator reads and edits every string of the bot in one file, each Vietnamese text a
page above its English one; split by command, keys and placeholders would drift apart.
"""

from __future__ import annotations

import html

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


class Html(str):
    """An HTML fragment that is already safe: `t` inserts it as is."""

    __slots__ = ()


def pick_language(language_code: str | None) -> str:
    """Telegram's user language_code to a reply language: `vi*` (or none given) -> vi, any
    other language -> en, which more of the world reads."""
    code = (language_code or "").lower()
    return DEFAULT_LANGUAGE if not code or code.startswith("vi") else "en"


def t(language: str, key: str, /, **values: object) -> str:
    """The text `key` in `language` (vi when unknown), with values HTML-escaped; with
    `count=1`, the language's singular form when it has one ("1 newest item")."""
    table = TEXTS.get(language, TEXTS[DEFAULT_LANGUAGE])
    template = table[key]
    if values.get("count") == 1:
        template = SINGULAR.get(language, {}).get(key, template)
    return template.format_map({name: _safe(value) for name, value in values.items()})


def _safe(value: object) -> str:
    if isinstance(value, Html):
        return str(value)
    return html.escape(str(value))


VI: dict[str, str] = {
    # command menu (setMyCommands): plain text
    "cmd_start": "Bắt đầu nhận tin mới",
    "cmd_help": "Hướng dẫn sử dụng",
    "cmd_feeds": "Danh sách nguồn tin, bật/tắt theo dõi",
    "cmd_sections": "Chọn chuyên mục của một nguồn tin",
    "cmd_subscribe": "Theo dõi một nguồn tin",
    "cmd_unsubscribe": "Bỏ theo dõi một nguồn tin",
    "cmd_latest": "Xem các tin mới nhất",
    "cmd_filters": "Xem bộ lọc từ khoá",
    "cmd_include": "Chỉ nhận tin có các từ khoá này",
    "cmd_exclude": "Bỏ qua tin có các từ khoá này",
    "cmd_clear": "Xoá bộ lọc từ khoá",
    "cmd_pause": "Tạm dừng nhận tin",
    "cmd_resume": "Nhận tin trở lại",
    "cmd_lang": "Đổi ngôn ngữ (vi/en)",
    "cmd_stop": "Huỷ theo dõi và xoá dữ liệu",
    "cmd_tim": "Tìm trong các tin đã lưu (cũng: /search)",
    "cmd_search": "Tìm trong các tin đã lưu (cũng: /tim)",
    "cmd_quiet": "Giờ không làm phiền, ví dụ 22:00-06:30 (off để tắt)",
    "cmd_urgent": "Từ khoá khẩn: vẫn báo ngay trong giờ không làm phiền",
    "cmd_digest": "Chỉ nhận bản tin tổng hợp: daily 07:00, hourly, off",
    "cmd_edits": "Báo khi tin đã gửi được sửa (on/off)",
    "cmd_format": "Kiểu hiển thị tin: đầy đủ, gọn, chỉ tiêu đề",
    "cmd_export": "Tải danh sách nguồn đang theo dõi (tệp OPML)",
    # /start and /help
    "start": (
        "👋 Xin chào! Từ giờ bạn sẽ nhận tin mới của:\n{feeds}\n\n"
        "Chỉ muốn nhận tin về một chủ đề? Gõ /include kèm từ khoá, ví dụ "
        "<code>/include giao thông, Hải An</code>. Bỏ qua tin không muốn xem: "
        "<code>/exclude quảng cáo</code>.\n"
        "Chọn nguồn tin: /feeds · Tin gần đây: /latest · Hướng dẫn: /help"
    ),
    "start_more": "… và {count} nguồn khác: xem /feeds",
    "start_no_feeds": "👋 Xin chào! Bạn chưa theo dõi nguồn tin nào. Gõ /feeds để chọn nguồn.",
    "help": (
        "<b>newsbot</b> gửi tin mới từ các trang tin chưa có RSS.\n\n"
        "<b>Lệnh</b>\n{commands}\n\n"
        "<b>Lọc theo từ khoá</b>\n"
        "<code>/include giao thông, cảng</code> – chỉ nhận tin có ít nhất một cụm từ\n"
        "<code>/exclude quảng cáo</code> – bỏ tin có cụm từ này\n"
        "<code>/include NGUỒN: từ khoá</code> – bộ lọc riêng cho một nguồn\n"
        "<code>/include -cảng</code> – bỏ một từ khoá (hoặc bấm ✖ dưới /filters)\n"
        "<code>/clear</code> – xoá mọi bộ lọc; <code>/clear NGUỒN</code> – chỉ của nguồn đó\n"
        "Không phân biệt chữ hoa, chữ thường hay dấu: “hai an” khớp “Hải An”.\n"
        "NGUỒN là mã nguồn tin trong /feeds (hoặc vài chữ đầu của tên).\n\n"
        "<b>Văn bản và chuyên mục</b>\n"
        "Tin về một văn bản (quyết định, công văn…) ghi rõ số hiệu và loại văn bản, và gửi "
        "kèm tệp nếu có.\n"
        "<code>/include type:quyết định</code> – chỉ nhận văn bản loại này (Quyết định, "
        "Công văn, Thông báo…)\n"
        "<code>/sections</code> – chọn chuyên mục của một nguồn bằng nút bấm (hoặc "
        "<code>/include NGUỒN: section:thông báo</code>)\n\n"
        "<b>Giờ không làm phiền và bản tin</b>\n"
        "<code>/quiet 22:00-06:30</code> – không gửi tin trong khoảng này; hết giờ nhận một "
        "bản tin tổng hợp\n"
        "<code>/urgent bão, khẩn</code> – tin có các từ này vẫn được gửi ngay\n"
        "<code>/digest daily 07:00</code> – chỉ nhận bản tin mỗi ngày (hoặc <code>hourly</code>, "
        "<code>off</code>)\n"
        "<code>/edits off</code> – không báo khi tin đã gửi được sửa\n"
        "Giờ tính theo múi giờ Asia/Ho_Chi_Minh; muốn khác thì thêm tên múi giờ, ví dụ "
        "<code>/quiet 22:00-06:30 Europe/Berlin</code>.\n\n"
        "<b>Hiển thị, tạm dừng, xuất danh sách</b>\n"
        "<code>/format</code> – chọn kiểu tin: đầy đủ, gọn hoặc chỉ tiêu đề; bật hoặc tắt xem "
        "trước liên kết\n"
        "<code>/pause</code> – tạm dừng; tin mới vẫn được giữ lại và <code>/resume</code> gửi "
        "gộp một lần (<code>/resume skip</code> để bỏ qua)\n"
        "<code>/export</code> – tải tệp OPML các nguồn đang theo dõi, dùng cho trình đọc RSS\n\n"
        "<b>Tìm kiếm</b>\n"
        "<code>/tim hai an</code> – các tin đã lưu có cụm từ này; nhiều cụm từ thì cách nhau "
        "bằng dấu phẩy.\n\n"
        "<b>Nhóm có chủ đề</b>\n"
        "Gõ <code>/subscribe NGUỒN</code> trong một chủ đề để nhận tin của nguồn đó ngay tại "
        "chủ đề ấy.\n\n"
        "Trong nhóm, chỉ quản trị viên được thay đổi cài đặt.{web}"
    ),
    "help_web": "\n\nNguồn RSS/Atom/JSON: {url}",
    # /feeds and subscriptions
    "feeds_header": (
        "<b>Nguồn tin</b> · trang {page}/{pages} · {count} nguồn, bạn theo dõi {following}.\n"
        "✅ = đang theo dõi. Bấm nút để bật/tắt:"
    ),
    "feeds_header_query": (
        "<b>Nguồn tin có “{query}”</b> · trang {page}/{pages} · {count} nguồn.\n"
        "✅ = đang theo dõi. Bấm nút để bật/tắt:"
    ),
    "feeds_no_match": "Không có nguồn tin nào có “{query}”. Gõ /feeds để xem tất cả.",
    "feeds_search_tip": "Tìm nhanh: <code>/feeds hải phòng</code>",
    "page_prev": "◀ Trước",
    "page_next": "Sau ▶",
    # /sections
    "sections_none": "Không nguồn tin nào chia chuyên mục.",
    "sections_feeds_header": "<b>Nguồn tin có chuyên mục</b>. Bấm để chọn chuyên mục:",
    "sections_feed_none": "{title} không chia chuyên mục. Các nguồn có chuyên mục: {names}",
    "sections_header": "<b>Chuyên mục của {title}</b> (✅ = đang nhận). Bấm để bật/tắt:",
    "sections_all": "Chưa chọn chuyên mục nào: bạn nhận tin của mọi chuyên mục.",
    "sections_some": "Bạn chỉ nhận tin của các chuyên mục đã chọn.",
    "sections_some_keywords": (
        "Bạn nhận tin của các chuyên mục đã chọn mà khớp từ khoá /include của bạn."
    ),
    "sections_all_button": "Mọi chuyên mục",
    "sections_gone": "Chuyên mục này không còn nữa.",
    "sections_not_following": "Bạn chưa theo dõi nguồn này: /subscribe {feed}",
    "feeds_empty": "Chưa có nguồn tin nào được cấu hình.",
    "feed_gone": "Nguồn tin này không còn nữa.",
    "subscribed": "✅ Đã theo dõi {title}.",
    "already_subscribed": "Bạn đã theo dõi {title} rồi.",
    "unsubscribed": "Đã bỏ theo dõi {title}.",
    "not_subscribed": "Bạn chưa theo dõi {title}.",
    "subscribe_usage": "Cách dùng: /subscribe NGUỒN. Các nguồn có: {names}",
    "unsubscribe_usage": "Cách dùng: /unsubscribe NGUỒN. Bạn đang theo dõi: {names}",
    "feed_unknown": "Không tìm thấy nguồn tin “{name}”. Các nguồn có: {names}",
    "feed_ambiguous": "“{name}” khớp với nhiều nguồn: {names}. Vui lòng gõ cụ thể hơn.",
    "none": "(không có)",
    "subscribed_topic": "✅ Đã theo dõi {title}: tin sẽ được gửi vào chủ đề này.",
    "moved_topic": "Từ giờ tin của {title} được gửi vào chủ đề này.",
    "moved_main": "Từ giờ tin của {title} được gửi vào cuộc trò chuyện chung.",
    # keyword filters
    "filters_header": "<b>Bộ lọc từ khoá</b>",
    "filters_none": (
        "Chưa có bộ lọc nào: bạn nhận mọi tin mới. Thêm bằng /include hoặc /exclude."
    ),
    "filters_all_feeds": "<i>Mọi nguồn</i>",
    "filters_feed": "<i>Nguồn {title}</i>",
    "filters_include": "Chỉ nhận tin có: {keywords}",
    "filters_exclude": "Bỏ tin có: {keywords}",
    "filters_updated": "Đã cập nhật bộ lọc.",
    "include_usage": (
        "Cách dùng: <code>/include từ khoá 1, từ khoá 2</code> "
        "(hoặc <code>/include NGUỒN: từ khoá</code> cho riêng một nguồn)."
    ),
    "exclude_usage": (
        "Cách dùng: <code>/exclude từ khoá 1, từ khoá 2</code> "
        "(hoặc <code>/exclude NGUỒN: từ khoá</code> cho riêng một nguồn)."
    ),
    "keyword_error": "Từ khoá không hợp lệ: {error}",
    "keyword_too_many": "Tối đa {limit} từ khoá cho mỗi danh sách; hãy bớt bằng /clear.",
    "keyword_too_long": "Mỗi từ khoá dài tối đa {limit} ký tự; hãy viết ngắn lại.",
    "keyword_no_letters": "Mỗi từ khoá cần có ít nhất một chữ cái hoặc chữ số.",
    "cleared": "Đã xoá mọi bộ lọc. Bạn sẽ nhận mọi tin mới của các nguồn đang theo dõi.",
    "cleared_feed": "Đã xoá bộ lọc của {title}.",
    # /latest
    "latest_header": "<b>{count} tin mới nhất</b>",
    "latest_none": "Chưa có tin nào khớp bộ lọc của bạn.",
    "latest_no_feeds": "Bạn chưa theo dõi nguồn tin nào. Gõ /feeds để chọn nguồn.",
    "latest_usage": "Cách dùng: /latest [số tin, từ 1 đến {max}]",
    # chat state
    "paused": (
        "⏸ Đã tạm dừng nhận tin. Tin mới vẫn được giữ lại: khi bạn gõ /resume, chúng được "
        "gửi gộp trong một tin nhắn (gõ <code>/resume skip</code> nếu muốn bỏ qua)."
    ),
    "resumed": "▶️ Đã bật lại thông báo tin mới.",
    "resumed_missed": (
        "▶️ Đã bật lại thông báo tin mới. {count} tin đến trong lúc tạm dừng sẽ được gửi "
        "gộp trong một tin nhắn."
    ),
    "resumed_skipped": "▶️ Đã bật lại thông báo tin mới và bỏ qua {count} tin trong lúc tạm dừng.",
    "stopped": (
        "Đã huỷ theo dõi và xoá mọi dữ liệu của cuộc trò chuyện này. "
        "Gõ /start nếu muốn dùng lại."
    ),
    "lang_set": "Đã chuyển sang tiếng Việt.",
    # quiet hours, digests, urgent keywords, edit notices
    "settings_header": "<b>Cài đặt gửi tin</b>",
    "settings_quiet": "Giờ không làm phiền: {start}–{end}",
    "settings_quiet_none": "Giờ không làm phiền: không có",
    "settings_digest_daily": "Bản tin tổng hợp: mỗi ngày lúc {time}",
    "settings_digest_hourly": "Bản tin tổng hợp: mỗi giờ",
    "settings_digest_off": "Bản tin tổng hợp: tắt (mỗi tin được gửi ngay khi có)",
    "settings_urgent": "Từ khoá khẩn: {keywords}",
    "settings_urgent_none": "Từ khoá khẩn: không có",
    "settings_edits_on": "Báo tin được sửa: bật",
    "settings_edits_off": "Báo tin được sửa: tắt",
    "settings_timezone": "Múi giờ: {tz}",
    "quiet_usage": (
        "Cách dùng: <code>/quiet 22:00-06:30</code> (thêm múi giờ nếu cần, ví dụ "
        "<code>/quiet 22:00-06:30 Asia/Bangkok</code>) hoặc <code>/quiet off</code>."
    ),
    "quiet_invalid": (
        "Không hiểu khoảng giờ “{text}”. Hãy viết như <code>22:00-06:30</code> "
        "(giờ bắt đầu khác giờ kết thúc)."
    ),
    "quiet_set": (
        "🌙 Giờ không làm phiền: {start}–{end} ({tz}). Trong khoảng này bot không gửi tin; hết "
        "giờ bạn nhận một bản tin tổng hợp. Tin có từ khoá khẩn vẫn gửi ngay: /urgent."
    ),
    "quiet_off": "Đã tắt giờ không làm phiền.",
    "timezone_unknown": (
        "Không nhận ra múi giờ “{name}”. Hãy dùng tên IANA, ví dụ <code>Asia/Ho_Chi_Minh</code>."
    ),
    "urgent_usage": (
        "Cách dùng: <code>/urgent bão, khẩn, mất điện</code> (thay danh sách cũ) hoặc "
        "<code>/urgent off</code>."
    ),
    "urgent_set": "🚨 Tin có các từ khoá này luôn được gửi ngay: {keywords}",
    "urgent_off": "Đã xoá các từ khoá khẩn.",
    "digest_usage": (
        "Cách dùng: <code>/digest daily 07:00</code>, <code>/digest hourly</code> hoặc "
        "<code>/digest off</code>."
    ),
    "digest_daily": "📰 Từ giờ bạn nhận một bản tin tổng hợp mỗi ngày lúc {time} ({tz}).",
    "digest_hourly": "📰 Từ giờ bạn nhận một bản tin tổng hợp mỗi giờ.",
    "digest_off": "Đã tắt bản tin tổng hợp: tin mới được gửi ngay.",
    "edits_usage": "Cách dùng: <code>/edits on</code> hoặc <code>/edits off</code>.",
    "edits_on": "✏️ Bot sẽ báo khi tiêu đề hoặc tóm tắt của một tin đã gửi được sửa.",
    "edits_off": "Bot sẽ không báo khi tin đã gửi được sửa.",
    # /tim (search)
    "search_usage": (
        "Cách dùng: <code>/tim từ khoá</code>, ví dụ <code>/tim hai an</code>. "
        "Nhiều cụm từ thì cách nhau bằng dấu phẩy."
    ),
    "search_header": "<b>Kết quả cho “{query}”</b> · trang {page}",
    "search_none": "Không có tin đã lưu nào khớp “{query}”.",
    "search_no_more": "Không còn kết quả nào nữa.",
    "search_expired": "Kết quả tìm kiếm này đã cũ. Hãy gõ lại /tim kèm từ khoá.",
    "search_too_long": "Từ khoá tìm kiếm dài tối đa {limit} ký tự.",
    "search_prev": "◀ Trước",
    "search_first": "⏮ Trang đầu",
    "search_next": "Sau ▶",
    "lang_usage": "Cách dùng: /lang vi (tiếng Việt) hoặc /lang en (English)",
    # refusals and errors
    "admin_only": "Chỉ quản trị viên của nhóm mới được thay đổi cài đặt.",
    "rate_limited": "Bạn gửi lệnh hơi nhanh. Vui lòng thử lại sau {seconds} giây.",
    "chatter": "Bot chỉ hiểu lệnh bắt đầu bằng dấu /. Gõ /help để xem các lệnh.",
    # /format
    "format_header": "<b>Kiểu hiển thị tin</b>",
    "format_now": "Đang dùng: {style}",
    "format_full": "đầy đủ (tiêu đề, tóm tắt, ngày, nguồn, liên kết)",
    "format_compact": "gọn (tiêu đề và liên kết)",
    "format_title": "chỉ tiêu đề (bấm vào để đọc)",
    "format_full_button": "Đầy đủ",
    "format_compact_button": "Gọn",
    "format_title_button": "Chỉ tiêu đề",
    "format_preview_on": "Xem trước liên kết: bật",
    "format_preview_off": "Xem trước liên kết: tắt",
    "format_preview_button_on": "🔗 Bật xem trước liên kết",
    "format_preview_button_off": "🔗 Tắt xem trước liên kết",
    "format_help": "Bấm nút để đổi, hoặc gõ <code>/format gọn</code>.",
    "format_usage": (
        "Cách dùng: <code>/format</code>, rồi bấm nút; hoặc <code>/format đầy-đủ</code>, "
        "<code>/format gọn</code>, <code>/format tiêu-đề</code>."
    ),
    # /stop, /export, removing one keyword
    "stop_confirm": (
        "Bạn có chắc muốn ngừng nhận tin? Mọi nguồn đang theo dõi, bộ lọc và cài đặt của cuộc "
        "trò chuyện này sẽ bị xoá."
    ),
    "stop_yes": "Xoá và ngừng",
    "stop_no": "Không, giữ lại",
    "stop_cancelled": "Đã giữ nguyên: bạn vẫn nhận tin như trước.",
    "keyword_not_there": "Không có từ khoá “{keywords}” trong danh sách. Xem lại bằng /filters.",
    "export_unpublished": "Các nguồn tin chưa được công khai trên web nên chưa thể xuất tệp.",
    "export_title": "Nguồn tin newsbot",
    "export_done": "📄 Danh sách {count} nguồn bạn theo dõi, mở được bằng mọi trình đọc RSS:",
    "unknown_command": "Không có lệnh /{command}. Gõ /help để xem các lệnh.",
    # /stats (bot admins)
    "stats_header": "<b>Thống kê newsbot</b>",
    "stats_chats": (
        "Cuộc trò chuyện: {active} đang nhận tin, {paused} tạm dừng, {inactive} đã ngừng"
    ),
    "stats_outbox": "Gửi tin: {sent} đã gửi, {pending} đang chờ, {failed} thất bại",
    "stats_feed": (
        "<b>{feed}</b>: {subscribers} người theo dõi, lần tải thành công gần nhất {success_at}, "
        "{failures} lỗi liên tiếp"
    ),
    "stats_feed_error": "   lỗi: {error}",
    "stats_never": "chưa có",
    "stats_extra": "{key}: {value}",
    # /add, /remove (bot admins)
    "src_admins_only": "Chỉ quản trị viên của bot mới thêm hoặc bỏ nguồn tin được.",
    "src_unavailable": "Bot này chưa bật việc thêm nguồn tin.",
    "src_add_usage": "Gửi kèm địa chỉ trang hoặc feed cần thêm, ví dụ: /add https://baochinhphu.vn/",
    "src_checking": "⏳ Đang kiểm tra {url}…",
    "src_add_failed": "❌ Không thêm được {url}: {error}",
    "src_found_feed": "<b>{title}</b>\nĐịa chỉ này là một feed: {url}",
    "src_found_linked": "<b>{title}</b>\nTrang có liên kết tới feed: {url}",
    "src_found_usual": "<b>{title}</b>\nTrang web có feed tại: {url}",
    "src_found_page": (
        "<b>{title}</b>\nTrang không có feed; bot sẽ tự đọc danh sách bài trên trang: {url}"
    ),
    "src_shown": "({shown}/{total} tin.) Lưu thành nguồn <code>{feed_id}</code>?",
    "src_save_button": "✅ Lưu",
    "src_cancel_button": "Huỷ",
    "src_saved": (
        "✅ Đã lưu nguồn <code>{feed_id}</code>. Tin đang có được ghi nhận mà không gửi; từ giờ "
        "tin mới sẽ tới người đăng ký (/subscribe {feed_id})."
    ),
    "src_cancelled": "Đã huỷ, không lưu gì.",
    "src_remove_unknown": "Không có nguồn <code>{feed_id}</code>. Các nguồn: {names}",
    "src_remove_confirm": (
        "Bỏ nguồn <b>{title}</b> (<code>{feed_id}</code>)? Bot sẽ thôi đọc nguồn này; tin đã lưu "
        "và người đăng ký vẫn được giữ cho tới khi chạy <code>newsbot forget {feed_id}</code>."
    ),
    "src_remove_button": "🗑 Bỏ nguồn",
    "src_keep_button": "Giữ lại",
    "src_remove_gone": "Nguồn này không còn nữa.",
    "src_kept": "Vẫn giữ nguồn <code>{feed_id}</code>.",
    "src_removed": "Đã bỏ nguồn <code>{feed_id}</code>; bot thôi đọc nguồn này.",
    "src_failed": "❌ Không làm được: {error}",
}

EN: dict[str, str] = {
    "cmd_start": "Start getting news",
    "cmd_help": "How to use this bot",
    "cmd_feeds": "List feeds, follow or unfollow them",
    "cmd_sections": "Pick a feed's sections",
    "cmd_subscribe": "Follow a feed",
    "cmd_unsubscribe": "Unfollow a feed",
    "cmd_latest": "Show the newest items",
    "cmd_filters": "Show your keyword filters",
    "cmd_include": "Only get items with these keywords",
    "cmd_exclude": "Skip items with these keywords",
    "cmd_clear": "Clear keyword filters",
    "cmd_pause": "Pause news",
    "cmd_resume": "Resume news",
    "cmd_lang": "Change language (vi/en)",
    "cmd_stop": "Unfollow everything and delete your data",
    "cmd_tim": "Search stored news (also /search)",
    "cmd_search": "Search stored news (also /tim)",
    "cmd_quiet": "Quiet hours, e.g. 22:00-06:30 (off to stop)",
    "cmd_urgent": "Urgent keywords: sent at once even in quiet hours",
    "cmd_digest": "Digest only: daily 07:00, hourly, off",
    "cmd_edits": "Tell me when a sent item is edited (on/off)",
    "cmd_format": "How items look: full, compact, title only",
    "cmd_export": "Download the feeds you follow (OPML file)",
    "start": (
        "👋 Hello! You will now get new items from:\n{feeds}\n\n"
        "Only want some topics? Send /include with keywords, e.g. "
        "<code>/include traffic, Hải An</code>. Skip items you don't want: "
        "<code>/exclude advert</code>.\n"
        "Choose feeds: /feeds · Recent items: /latest · Help: /help"
    ),
    "start_more": "… and {count} more: see /feeds",
    "start_no_feeds": "👋 Hello! You follow no feeds yet. Send /feeds to choose some.",
    "help": (
        "<b>newsbot</b> sends new items from news sites that have no RSS.\n\n"
        "<b>Commands</b>\n{commands}\n\n"
        "<b>Keyword filters</b>\n"
        "<code>/include traffic, port</code> – only items with at least one of the phrases\n"
        "<code>/exclude advert</code> – skip items with this phrase\n"
        "<code>/include FEED: keywords</code> – a filter for one feed only\n"
        "<code>/include -port</code> – remove one keyword (or press ✖ under /filters)\n"
        "<code>/clear</code> – clear all filters; <code>/clear FEED</code> – only that feed's\n"
        "Case and Vietnamese accents don't matter: “hai an” matches “Hải An”.\n"
        "FEED is a feed id from /feeds (or the first letters of its name).\n\n"
        "<b>Official documents and sections</b>\n"
        "Items that are official documents show their number and type, with their files.\n"
        "<code>/include type:quyết định</code> – only documents of this type (Quyết định, "
        "Công văn, Thông báo…)\n"
        "<code>/sections</code> – pick a feed's sections with buttons (or "
        "<code>/include FEED: section:thông báo</code>)\n\n"
        "<b>Quiet hours and digests</b>\n"
        "<code>/quiet 22:00-06:30</code> – nothing is sent in this window; at its end you get "
        "one digest\n"
        "<code>/urgent storm, power cut</code> – items with these words are still sent at once\n"
        "<code>/digest daily 07:00</code> – only a daily digest (or <code>hourly</code>, "
        "<code>off</code>)\n"
        "<code>/edits off</code> – no notice when a sent item is edited\n"
        "Times are in Asia/Ho_Chi_Minh; add a time zone to change it, e.g. "
        "<code>/quiet 22:00-06:30 Europe/Berlin</code>.\n\n"
        "<b>Looks, pausing, export</b>\n"
        "<code>/format</code> – how items look: full, compact or title only; link previews on "
        "or off\n"
        "<code>/pause</code> – pause; new items are kept and <code>/resume</code> sends them as "
        "one message (<code>/resume skip</code> drops them)\n"
        "<code>/export</code> – the feeds you follow as an OPML file, for an RSS reader\n\n"
        "<b>Search</b>\n"
        "<code>/search hai an</code> (or <code>/tim</code>) – stored items with this phrase; "
        "separate several phrases with commas.\n\n"
        "<b>Groups with topics</b>\n"
        "Send <code>/subscribe FEED</code> inside a topic to get that feed's items in that "
        "topic.\n\n"
        "In groups, only admins can change settings.{web}"
    ),
    "help_web": "\n\nRSS/Atom/JSON feeds: {url}",
    "feeds_header": (
        "<b>Feeds</b> · page {page}/{pages} · {count} feeds, you follow {following}.\n"
        "✅ = following. Press a button to follow/unfollow:"
    ),
    "feeds_header_query": (
        "<b>Feeds with “{query}”</b> · page {page}/{pages} · {count} feeds.\n"
        "✅ = following. Press a button to follow/unfollow:"
    ),
    "feeds_no_match": "No feed has “{query}”. Send /feeds to see them all.",
    "feeds_search_tip": "Find one: <code>/feeds hai phong</code>",
    "page_prev": "◀ Back",
    "page_next": "More ▶",
    "sections_none": "No feed has sections.",
    "sections_feeds_header": "<b>Feeds with sections</b>. Press one to pick its sections:",
    "sections_feed_none": "{title} has no sections. Feeds with sections: {names}",
    "sections_header": "<b>Sections of {title}</b> (✅ = getting). Press to switch on/off:",
    "sections_all": "No section picked: you get items from every section.",
    "sections_some": "You only get items from the sections you picked.",
    "sections_some_keywords": (
        "You get items from the sections you picked that match your /include keywords."
    ),
    "sections_all_button": "All sections",
    "sections_gone": "That section no longer exists.",
    "sections_not_following": "You don't follow this feed: /subscribe {feed}",
    "feeds_empty": "No feeds are configured yet.",
    "feed_gone": "That feed no longer exists.",
    "subscribed": "✅ Now following {title}.",
    "already_subscribed": "You already follow {title}.",
    "unsubscribed": "Stopped following {title}.",
    "not_subscribed": "You don't follow {title}.",
    "subscribe_usage": "Usage: /subscribe FEED. Feeds: {names}",
    "unsubscribe_usage": "Usage: /unsubscribe FEED. You follow: {names}",
    "feed_unknown": "No feed called “{name}”. Feeds: {names}",
    "feed_ambiguous": "“{name}” matches several feeds: {names}. Please be more specific.",
    "none": "(none)",
    "subscribed_topic": "✅ Now following {title}: its items will come to this topic.",
    "moved_topic": "{title}'s items will now come to this topic.",
    "moved_main": "{title}'s items will now come to the main chat.",
    "filters_header": "<b>Keyword filters</b>",
    "filters_none": "No filters: you get every new item. Add some with /include or /exclude.",
    "filters_all_feeds": "<i>All feeds</i>",
    "filters_feed": "<i>Feed {title}</i>",
    "filters_include": "Only items with: {keywords}",
    "filters_exclude": "Skip items with: {keywords}",
    "filters_updated": "Filters updated.",
    "include_usage": (
        "Usage: <code>/include keyword 1, keyword 2</code> "
        "(or <code>/include FEED: keywords</code> for one feed only)."
    ),
    "exclude_usage": (
        "Usage: <code>/exclude keyword 1, keyword 2</code> "
        "(or <code>/exclude FEED: keywords</code> for one feed only)."
    ),
    "keyword_error": "Invalid keywords: {error}",
    "keyword_too_many": "At most {limit} keywords per list; remove some with /clear.",
    "keyword_too_long": "Each keyword can be at most {limit} characters long; shorten it.",
    "keyword_no_letters": "Each keyword needs at least one letter or digit.",
    "cleared": "All filters cleared. You will get every new item of the feeds you follow.",
    "cleared_feed": "Cleared the filters of {title}.",
    "latest_header": "<b>{count} newest items</b>",
    "latest_none": "No items match your filters yet.",
    "latest_no_feeds": "You follow no feeds yet. Send /feeds to choose some.",
    "latest_usage": "Usage: /latest [number of items, 1 to {max}]",
    "paused": (
        "⏸ News paused. New items are kept: /resume sends them as one message "
        "(<code>/resume skip</code> drops them)."
    ),
    "resumed": "▶️ News resumed.",
    "resumed_missed": (
        "▶️ News resumed. The {count} items that came meanwhile follow as one message."
    ),
    "resumed_skipped": "▶️ News resumed; the {count} items that came meanwhile were skipped.",
    "stopped": (
        "Unfollowed everything and deleted this chat's data. Send /start to use the bot again."
    ),
    "lang_set": "Replies are now in English.",
    "settings_header": "<b>Delivery settings</b>",
    "settings_quiet": "Quiet hours: {start}–{end}",
    "settings_quiet_none": "Quiet hours: none",
    "settings_digest_daily": "Digest: daily at {time}",
    "settings_digest_hourly": "Digest: hourly",
    "settings_digest_off": "Digest: off (items are sent one by one)",
    "settings_urgent": "Urgent keywords: {keywords}",
    "settings_urgent_none": "Urgent keywords: none",
    "settings_edits_on": "Edit notices: on",
    "settings_edits_off": "Edit notices: off",
    "settings_timezone": "Time zone: {tz}",
    "quiet_usage": (
        "Usage: <code>/quiet 22:00-06:30</code> (add a time zone if needed, e.g. "
        "<code>/quiet 22:00-06:30 Asia/Bangkok</code>) or <code>/quiet off</code>."
    ),
    "quiet_invalid": (
        "Can't read the window “{text}”. Write it like <code>22:00-06:30</code> "
        "(start and end must differ)."
    ),
    "quiet_set": (
        "🌙 Quiet hours: {start}–{end} ({tz}). Nothing is sent in this window; at its end you "
        "get one digest. Items with urgent keywords are still sent at once: /urgent."
    ),
    "quiet_off": "Quiet hours are off.",
    "timezone_unknown": (
        "Unknown time zone “{name}”. Use an IANA name, e.g. <code>Asia/Ho_Chi_Minh</code>."
    ),
    "urgent_usage": (
        "Usage: <code>/urgent storm, power cut</code> (replaces the list) or "
        "<code>/urgent off</code>."
    ),
    "urgent_set": "🚨 Items with these keywords are always sent at once: {keywords}",
    "urgent_off": "Urgent keywords cleared.",
    "digest_usage": (
        "Usage: <code>/digest daily 07:00</code>, <code>/digest hourly</code> or "
        "<code>/digest off</code>."
    ),
    "digest_daily": "📰 You will now get one digest a day at {time} ({tz}).",
    "digest_hourly": "📰 You will now get one digest an hour.",
    "digest_off": "Digest off: new items are sent at once.",
    "edits_usage": "Usage: <code>/edits on</code> or <code>/edits off</code>.",
    "edits_on": "✏️ You will be told when the title or summary of a sent item is edited.",
    "edits_off": "You will not be told when a sent item is edited.",
    "search_usage": (
        "Usage: <code>/search keywords</code>, e.g. <code>/search hai an</code>. "
        "Separate several phrases with commas."
    ),
    "search_header": "<b>Results for “{query}”</b> · page {page}",
    "search_none": "No stored item matches “{query}”.",
    "search_no_more": "No more results.",
    "search_expired": "This search has expired. Send /search with your keywords again.",
    "search_too_long": "A search can be at most {limit} characters long.",
    "search_prev": "◀ Back",
    "search_first": "⏮ First page",
    "search_next": "More ▶",
    "lang_usage": "Usage: /lang vi (tiếng Việt) or /lang en (English)",
    "admin_only": "Only the group's admins can change settings.",
    "rate_limited": "That was a bit fast. Please try again in {seconds} seconds.",
    "chatter": "I only understand commands, which start with /. Send /help to see them.",
    "format_header": "<b>How items look</b>",
    "format_now": "Now: {style}",
    "format_full": "full (title, summary, date, feed, link)",
    "format_compact": "compact (title and link)",
    "format_title": "title only (tap it to read)",
    "format_full_button": "Full",
    "format_compact_button": "Compact",
    "format_title_button": "Title only",
    "format_preview_on": "Link previews: on",
    "format_preview_off": "Link previews: off",
    "format_preview_button_on": "🔗 Turn link previews on",
    "format_preview_button_off": "🔗 Turn link previews off",
    "format_help": "Press a button to change it, or send <code>/format compact</code>.",
    "format_usage": (
        "Usage: <code>/format</code>, then press a button; or <code>/format full</code>, "
        "<code>/format compact</code>, <code>/format title</code>."
    ),
    "stop_confirm": (
        "Do you really want to stop? Every feed this chat follows, its filters and settings "
        "will be deleted."
    ),
    "stop_yes": "Delete and stop",
    "stop_no": "No, keep them",
    "stop_cancelled": "Nothing changed: you still get your news.",
    "keyword_not_there": "“{keywords}” is not in the list. See it with /filters.",
    "export_unpublished": "The feeds are not published on the web, so there is nothing to export.",
    "export_title": "newsbot feeds",
    "export_done": "📄 The {count} feeds you follow, for any RSS reader:",
    "unknown_command": "There is no /{command} command. Send /help to see the commands.",
    "stats_header": "<b>newsbot statistics</b>",
    "stats_chats": "Chats: {active} getting news, {paused} paused, {inactive} gone",
    "stats_outbox": "Deliveries: {sent} sent, {pending} pending, {failed} failed",
    "stats_feed": (
        "<b>{feed}</b>: {subscribers} subscribers, last success {success_at}, "
        "{failures} failures in a row"
    ),
    "stats_feed_error": "   error: {error}",
    "stats_never": "never",
    "stats_extra": "{key}: {value}",
    # /add, /remove (bot admins)
    "src_admins_only": "Only the bot's admins can add or remove sources.",
    "src_unavailable": "Adding sources is not enabled on this bot.",
    "src_add_usage": "Send the address of a page or feed, e.g. /add https://baochinhphu.vn/",
    "src_checking": "⏳ Checking {url}…",
    "src_add_failed": "❌ Could not add {url}: {error}",
    "src_found_feed": "<b>{title}</b>\nThis address is a feed: {url}",
    "src_found_linked": "<b>{title}</b>\nThe page links a feed: {url}",
    "src_found_usual": "<b>{title}</b>\nThe site has a feed at: {url}",
    "src_found_page": "<b>{title}</b>\nNo feed; the bot will read the page's list itself: {url}",
    "src_shown": "({shown} of {total} items.) Save as the source <code>{feed_id}</code>?",
    "src_save_button": "✅ Save",
    "src_cancel_button": "Cancel",
    "src_saved": (
        "✅ Saved the source <code>{feed_id}</code>. What it lists now is recorded without "
        "sending; new items go to its subscribers (/subscribe {feed_id})."
    ),
    "src_cancelled": "Cancelled, nothing saved.",
    "src_remove_unknown": "There is no source <code>{feed_id}</code>. Sources: {names}",
    "src_remove_confirm": (
        "Remove the source <b>{title}</b> (<code>{feed_id}</code>)? The bot stops reading it; its "
        "items and subscribers are kept until <code>newsbot forget {feed_id}</code>."
    ),
    "src_remove_button": "🗑 Remove",
    "src_keep_button": "Keep it",
    "src_remove_gone": "This source is gone already.",
    "src_kept": "Kept the source <code>{feed_id}</code>.",
    "src_removed": "Removed the source <code>{feed_id}</code>; the bot no longer reads it.",
    "src_failed": "❌ Not done: {error}",
}

# English needs a singular where a count can be 1 (Vietnamese has no plural form).
EN_SINGULAR: dict[str, str] = {
    "latest_header": "<b>The newest item</b>",
    "start_more": "… and 1 more: see /feeds",
    "resumed_missed": "▶️ News resumed. The item that came meanwhile follows now.",
    "resumed_skipped": "▶️ News resumed; the item that came meanwhile was skipped.",
    "export_done": "📄 The feed you follow, for any RSS reader:",
}

TEXTS: dict[str, dict[str, str]] = {"vi": VI, "en": EN}
SINGULAR: dict[str, dict[str, str]] = {"en": EN_SINGULAR}
