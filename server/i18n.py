"""Message catalogs of the server-rendered report pages (``server/reports.py``).

Vietnamese is the default and the fallback; English is chosen with ``?lang=en`` (the pages'
language links), which is then remembered in the ``anonballot_lang`` cookie. Every text of
the pages comes from :data:`CATALOGS` or from the manifest's labels (criteria, scale levels,
wards, people rated, roles), each in the chosen language with a fallback to ``vi``.

Catalog texts are plain text with ``str.format`` fields: the pages escape the formatted
text, so a catalog never holds markup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "CATALOGS",
    "COOKIE",
    "DEFAULT_LANG",
    "LANGS",
    "Messages",
    "choose_lang",
]

DEFAULT_LANG = "vi"
LANGS = ("vi", "en")
"""The languages with a catalog, in the order the language links show them."""
COOKIE = "anonballot_lang"
"""The cookie that remembers the language chosen with ``?lang=``."""

CATALOGS: dict[str, dict[str, str]] = {
    "vi": {
        "lang_name": "Tiếng Việt",
        "lang_switch": "Ngôn ngữ",
        "nav": "Điều hướng",
        "nav_results": "Kết quả",
        "nav_turnout": "Tỷ lệ tham gia",
        "nav_contents": "Mục lục",
        "results_title": "Kết quả: {title}",
        "turnout_title": "Tỷ lệ tham gia: {title}",
        "report_heading": "Báo cáo kết quả lấy ý kiến",
        "turnout_heading": "Tỷ lệ tham gia theo phường",
        "district": "Đơn vị: {district}",
        "round": "Đợt: {round}",
        "round_state": "Trạng thái: {state}",
        "mid": "Mã định danh của đợt (mid): {mid}",
        "trustees": "Khóa đã công bố để mở phiếu: {trustees}",
        "board": "Số phiếu trên bảng công khai: {size}",
        "state_draft": "đang soạn",
        "state_open": "đang mở",
        "state_closed": "đã đóng",
        "state_tallied": "đã kiểm phiếu",
        "not_tallied_heading": "Chưa có kết quả",
        "not_tallied_body": (
            "Đợt {round} chưa được kiểm phiếu (trạng thái: {state}). Kết quả sẽ hiện ở trang"
            " này sau khi đợt đóng, các thành viên giữ khóa công bố khóa và ban tổ chức kiểm"
            " phiếu."
        ),
        "unknown_round_heading": "Không tìm thấy đợt",
        "unknown_round_body": "Máy chủ này không có đợt nào mang mã {round}.",
        "unknown_ward_heading": "Không tìm thấy phường",
        "unknown_ward_body": "Đợt {round} không có phường mang mã {ward}.",
        "overview": "Tổng quan",
        "ward": "Phường",
        "eligible": "Số người trong danh sách",
        "issued": "Đã nhận thẻ bỏ phiếu",
        "ballots": "Phiếu đã bỏ",
        "valid": "Hợp lệ",
        "invalid": "Không hợp lệ",
        "cast": "Đã bỏ phiếu",
        "total": "Tổng cộng",
        "issued_share": "Tỷ lệ nhận thẻ",
        "cast_share": "Tỷ lệ bỏ phiếu",
        "chart": "Biểu đồ",
        "counts_only_mark": "chỉ số phiếu",
        "min_group_rule": (
            "Ngưỡng nhóm tối thiểu của đợt: {min_group} phiếu hợp lệ. Ở phường có ít phiếu"
            " hợp lệ hơn, báo cáo chỉ nêu số phiếu, không nêu phân bố đánh giá và ý kiến góp ý,"
            " để không ai suy ra được ý kiến của từng người."
        ),
        "ward_hidden": (
            "Phường này có {valid} phiếu hợp lệ, ít hơn ngưỡng {min_group} phiếu của đợt: báo"
            " cáo chỉ nêu số phiếu, không nêu phân bố đánh giá và ý kiến góp ý, để không ai suy"
            " ra được ý kiến của từng người."
        ),
        "group_hidden": (
            "Nhóm này có {ballots} lượt đánh giá, ít hơn ngưỡng {min_group}: báo cáo chỉ nêu số"
            " lượt, không nêu phân bố đánh giá."
        ),
        "ward_counts": (
            "Danh sách: {eligible} người · nhận thẻ: {issued} · phiếu đã bỏ: {ballots}"
            " (hợp lệ: {valid}, không hợp lệ: {invalid})"
        ),
        "ward_print_link": "Bản in riêng của phường",
        "subject_ballots": "{role} · {ballots} phiếu hợp lệ",
        "criterion": "Tiêu chí",
        "distribution": "Phân bố đánh giá",
        "legend": "Chú giải mức đánh giá",
        "data_table": "Số phiếu theo tiêu chí và mức đánh giá",
        "bar_title": "{who}: {criterion}",
        "bar_desc_item": "{level}: {count} ({share})",
        "no_data": "Chưa có số liệu",
        "comments": "Ý kiến góp ý",
        "no_comments": "Không có ý kiến.",
        "invalid_reasons": "Phiếu không hợp lệ theo lý do",
        "reason": "Lý do",
        "count": "Số phiếu",
        "reason_share_undecryptable": "Không mở được phần khóa của thành viên giữ khóa",
        "reason_shares_inconsistent": "Các phần khóa không khớp nhau",
        "reason_bad_key": "Khóa phiếu không hợp lệ",
        "reason_undecryptable": "Không giải mã được phiếu",
        "reason_not_canonical": "Nội dung phiếu sai định dạng",
        "reason_wrong_ward": "Phiếu ghi sai phường",
        "reason_invalid_content": "Nội dung phiếu không hợp lệ",
        "summary_heading": "Tổng hợp",
        "summary_excludes": (
            "Các số tổng hợp dưới đây không tính các phường chỉ nêu số phiếu ({wards}), để"
            " không thể suy ra kết quả của các phường đó bằng phép trừ."
        ),
        "roles_heading": "Tổng hợp theo chức danh",
        "role_counts": "{subjects} người được góp ý · {ballots} lượt đánh giá",
        "district_heading": "Tổng hợp chung: {district}",
        "district_counts": "{ballots} lượt đánh giá trên {subjects} người được góp ý",
        "wards_heading": "Kết quả theo phường và người được góp ý",
        "downloads": "Tài liệu",
        "download_results": "Kết quả có chữ ký (results.json)",
        "download_record": "Hồ sơ đợt để kiểm tra độc lập (.zip)",
        "download_xlsx": "Bảng tính kết quả (.xlsx)",
        "verify_note": (
            "Bất kỳ ai cũng có thể tự tính lại kết quả từ hồ sơ đợt bằng lệnh “anonballot audit”."
        ),
        "print_note": "Để in báo cáo, dùng lệnh In của trình duyệt (khổ A4).",
        "turnout_intro": (
            "Số liệu tham gia trong khi đợt đang diễn ra chỉ dành cho ban tổ chức. Nhập mã quản"
            " trị để xem: mã được gửi trong biểu mẫu, không nằm trong địa chỉ trang, và máy chủ"
            " không lưu phiên đăng nhập (mỗi lần xem cần nhập lại)."
        ),
        "token_label": "Mã quản trị",
        "token_submit": "Xem số liệu",
        "token_wrong": "Mã quản trị không đúng.",
        "token_again": "Xem lại số liệu mới nhất",
        "as_of": "Số liệu lúc {time} (UTC)",
        "not_open_heading": "Đợt chưa mở",
        "not_open_body": "Đợt {round} chưa mở (trạng thái: {state}): chưa có số liệu tham gia.",
        "turnout_bar_desc": "{issued_label}: {issued}/{eligible} ({issued_share}); "
        "{cast_label}: {cast}/{eligible} ({cast_share})",
        "turnout_legend": "Chú giải biểu đồ",
        "turnout_legend_track": "Số người trong danh sách",
        "xlsx_overview": "Tổng quan",
        "xlsx_summary": "Tổng hợp",
        "xlsx_subject": "Người được góp ý",
        "xlsx_role": "Chức danh",
        "xlsx_share": "Tỷ lệ: {level}",
        "xlsx_comment_field": "Ý kiến: {field}",
        "xlsx_min_group": "Ngưỡng nhóm tối thiểu",
        "xlsx_shown": "Nêu phân bố",
        "yes": "có",
        "no": "không",
    },
    "en": {
        "lang_name": "English",
        "lang_switch": "Language",
        "nav": "Navigation",
        "nav_results": "Results",
        "nav_turnout": "Turnout",
        "nav_contents": "Contents",
        "results_title": "Results: {title}",
        "turnout_title": "Turnout: {title}",
        "report_heading": "Report of the ratings",
        "turnout_heading": "Turnout per ward",
        "district": "District: {district}",
        "round": "Round: {round}",
        "round_state": "State: {state}",
        "mid": "Round fingerprint (mid): {mid}",
        "trustees": "Keys released to open the ballots: {trustees}",
        "board": "Ballots on the public board: {size}",
        "state_draft": "draft",
        "state_open": "open",
        "state_closed": "closed",
        "state_tallied": "tallied",
        "not_tallied_heading": "No results yet",
        "not_tallied_body": (
            "Round {round} has not been tallied yet (state: {state}). The results appear on"
            " this page once the round is closed, the trustees have released their keys and"
            " the organizer has run the tally."
        ),
        "unknown_round_heading": "Round not found",
        "unknown_round_body": "This server has no round {round}.",
        "unknown_ward_heading": "Ward not found",
        "unknown_ward_body": "Round {round} has no ward {ward}.",
        "overview": "Overview",
        "ward": "Ward",
        "eligible": "On the roster",
        "issued": "Tokens issued",
        "ballots": "Ballots cast",
        "valid": "Valid",
        "invalid": "Invalid",
        "cast": "Cast",
        "total": "Total",
        "issued_share": "Issued share",
        "cast_share": "Cast share",
        "chart": "Chart",
        "counts_only_mark": "counts only",
        "min_group_rule": (
            "The round's minimum group size: {min_group} valid ballots. For a ward with fewer"
            " valid ballots the report gives the counts only, neither the distribution of"
            " ratings nor the comments, so that nobody can infer what one person answered."
        ),
        "ward_hidden": (
            "This ward has {valid} valid ballots, fewer than the round's minimum of"
            " {min_group}: the report gives the counts only, neither the distribution of"
            " ratings nor the comments, so that nobody can infer what one person answered."
        ),
        "group_hidden": (
            "This group has {ballots} ratings, fewer than the minimum of {min_group}: the"
            " report gives the count only, not the distribution."
        ),
        "ward_counts": (
            "Roster: {eligible} · tokens issued: {issued} · ballots cast: {ballots}"
            " (valid: {valid}, invalid: {invalid})"
        ),
        "ward_print_link": "This ward's printable report",
        "subject_ballots": "{role} · {ballots} valid ballots",
        "criterion": "Criterion",
        "distribution": "Distribution of ratings",
        "legend": "Legend of the rating levels",
        "data_table": "Ballots per criterion and rating level",
        "bar_title": "{who}: {criterion}",
        "bar_desc_item": "{level}: {count} ({share})",
        "no_data": "No data yet",
        "comments": "Comments",
        "no_comments": "No comments.",
        "invalid_reasons": "Invalid ballots by reason",
        "reason": "Reason",
        "count": "Ballots",
        "reason_share_undecryptable": "A trustee's key share could not be opened",
        "reason_shares_inconsistent": "The key shares do not agree",
        "reason_bad_key": "The ballot key is not valid",
        "reason_undecryptable": "The ballot could not be decrypted",
        "reason_not_canonical": "The ballot is not in the canonical format",
        "reason_wrong_ward": "The ballot names another ward",
        "reason_invalid_content": "The ballot's content is not valid",
        "summary_heading": "Summary",
        "summary_excludes": (
            "The summaries below leave out the wards shown as counts only ({wards}), so that"
            " their results cannot be found by subtraction."
        ),
        "roles_heading": "Summary by role",
        "role_counts": "{subjects} people rated · {ballots} ratings",
        "district_heading": "Whole district: {district}",
        "district_counts": "{ballots} ratings of {subjects} people rated",
        "wards_heading": "Results per ward and person rated",
        "downloads": "Documents",
        "download_results": "Signed results (results.json)",
        "download_record": "Round record for an independent audit (.zip)",
        "download_xlsx": "Results workbook (.xlsx)",
        "verify_note": (
            "Anyone can recompute the results from the round record with “anonballot audit”."
        ),
        "print_note": "To print the report, use the browser's Print command (A4).",
        "turnout_intro": (
            "Turnout while the round runs is for the organizer only. Enter the admin token to"
            " see it: the token is sent in the form, never in the page's address, and the"
            " server keeps no session (enter it again for each look)."
        ),
        "token_label": "Admin token",
        "token_submit": "Show the numbers",
        "token_wrong": "The admin token is wrong.",
        "token_again": "Show the latest numbers again",
        "as_of": "Numbers as of {time} (UTC)",
        "not_open_heading": "The round is not open yet",
        "not_open_body": "Round {round} is not open yet (state: {state}): there is no turnout.",
        "turnout_bar_desc": "{issued_label}: {issued}/{eligible} ({issued_share}); "
        "{cast_label}: {cast}/{eligible} ({cast_share})",
        "turnout_legend": "Legend of the chart",
        "turnout_legend_track": "On the roster",
        "xlsx_overview": "Overview",
        "xlsx_summary": "Summary",
        "xlsx_subject": "Person rated",
        "xlsx_role": "Role",
        "xlsx_share": "Share: {level}",
        "xlsx_comment_field": "Comments: {field}",
        "xlsx_min_group": "Minimum group size",
        "xlsx_shown": "Distribution shown",
        "yes": "yes",
        "no": "no",
    },
}

_LANG_TAG = re.compile(r"[a-z]{2,3}")


def choose_lang(query: str | None, cookie: str | None) -> tuple[str, bool]:
    """The page language and whether to remember it: ``?lang=`` first, then the cookie.

    A language without a catalog falls back to Vietnamese.
    """
    if query is not None:
        lang = query.strip().lower()
        return (lang, True) if lang in CATALOGS else (DEFAULT_LANG, True)
    if cookie is not None and cookie in CATALOGS:
        return cookie, False
    return DEFAULT_LANG, False


@dataclass(frozen=True)
class Messages:
    """The texts and number formats of one language."""

    lang: str = DEFAULT_LANG

    def __post_init__(self) -> None:
        if self.lang not in CATALOGS:
            object.__setattr__(self, "lang", DEFAULT_LANG)

    def t(self, key: str, **fields: object) -> str:
        """The catalog text ``key`` (Vietnamese if this language lacks it), formatted."""
        text = CATALOGS[self.lang].get(key)
        if text is None:
            text = CATALOGS[DEFAULT_LANG][key]
        return text.format(**fields) if fields else text

    def has(self, key: str) -> bool:
        return key in CATALOGS[self.lang] or key in CATALOGS[DEFAULT_LANG]

    def label(self, label: Mapping[str, str]) -> str:
        """A manifest label in this language, else Vietnamese (always present), else any."""
        for tag in (self.lang, DEFAULT_LANG):
            text = label.get(tag)
            if text:
                return text
        for tag, text in label.items():
            if _LANG_TAG.match(tag) and text:
                return text
        return ""

    @property
    def _separators(self) -> tuple[str, str]:
        """(thousands, decimal): Vietnamese writes 1.234,5 and English 1,234.5."""
        return (".", ",") if self.lang == "vi" else (",", ".")

    def num(self, n: int) -> str:
        thousands, _ = self._separators
        return f"{n:,}".replace(",", thousands)

    def pct(self, part: int, whole: int, digits: int = 1) -> str:
        """``part / whole`` as a percentage; "0%" when ``whole`` is 0, "<1%" for a sliver."""
        if whole <= 0 or part <= 0:
            return "0%"
        value = 100 * part / whole
        smallest = 10**-digits
        if value < smallest / 2:
            return "<" + f"{smallest:.{digits}f}".replace(".", self._separators[1]) + "%"
        text = f"{value:.{digits}f}"
        if digits:
            text = text.replace(".", self._separators[1])
        return text + "%"
