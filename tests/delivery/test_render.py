"""Splitting a long message into Telegram-sized parts (bot/delivery/render.py): in order, at a
paragraph, else a line, else a word; never inside an HTML tag or entity; each part valid alone."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from bot.delivery.render import TEXT_LIMIT, plan_steps, split_text, to_plain, utf16_len


class _Balance(HTMLParser):
    """Fails on a part whose tags do not nest or close, as Telegram's entity parser would."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open}"
        self.open.pop()


def _valid_html(part: str) -> None:
    parser = _Balance()
    parser.feed(part)
    parser.close()
    assert parser.open == [], f"left open: {parser.open}"
    # No entity cut in two: every '&' starts a whole entity.
    assert all(re.match(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);", part[m.start() :]) for m in re.finditer("&", part))
    # No tag cut in two.
    assert part.count("<") == part.count(">")


def _words(text: str) -> list[str]:
    return text.split()


def test_a_decision_is_split_at_paragraphs_with_tags_and_entities_whole() -> None:
    # A decision as the desk writes it: a bold title, then a long escaped resolution with
    # entities everywhere, in paragraphs of about 1,500 rendered characters.
    paragraphs = [html.escape(f'Пункт {i}: товар <{i}> & упаковка "А" — ' + "проверено " * 140) for i in range(40)]
    text = "<b>Решение по претензии 2026-000001</b>\nРезультат: <i>удовлетворена</i>\n\n" + "\n\n".join(paragraphs)
    parts = split_text(text, "HTML")
    assert len(parts) > 10
    for part in parts:
        _valid_html(part)
        assert 0 < utf16_len(to_plain(part, "HTML")) <= TEXT_LIMIT
    # In order, nothing lost or repeated.
    assert _words(" ".join(to_plain(p, "HTML") for p in parts)) == _words(to_plain(text, "HTML"))
    # Every cut falls between paragraphs: each part but the first starts a paragraph.
    for part in parts[1:]:
        assert to_plain(part, "HTML").startswith("Пункт "), to_plain(part, "HTML")[:40]


def test_a_formatted_span_across_a_cut_is_closed_and_opened_again() -> None:
    text = "<b>" + ("жирный текст " * 700) + "</b> и обычный &amp; конец"
    parts = split_text(text, "HTML")
    assert len(parts) == 3
    for part in parts:
        _valid_html(part)
        assert utf16_len(to_plain(part, "HTML")) <= TEXT_LIMIT
    assert parts[0].startswith("<b>") and parts[0].endswith("</b>") and parts[1].startswith("<b>")
    assert parts[-1].endswith("и обычный &amp; конец")
    # Cut between words, never inside one.
    assert all(w == "жирный" or w == "текст" for p in parts[:-1] for w in _words(to_plain(p, "HTML")))


def test_lines_are_preferred_to_words_and_words_to_characters() -> None:
    lines = [f"строка {i} " + "слово " * 60 for i in range(60)]  # ~370 characters each, no blank lines
    parts = split_text("\n".join(lines), None)
    assert len(parts) > 1
    for part in parts:
        assert utf16_len(part) <= TEXT_LIMIT and part.split("\n")[0].startswith("строка ")
    html_parts = split_text("\n".join(html.escape(line) for line in lines), "HTML")
    assert [to_plain(p, "HTML") for p in html_parts] == parts
    # One endless word: cut at the limit, nothing lost.
    word = "а" * (TEXT_LIMIT * 2 + 10)
    assert "".join(split_text(word, "HTML")) == word and "".join(split_text(word, None)) == word


def test_emoji_count_twice_and_the_keyboard_rides_on_the_last_part() -> None:
    text = "\n\n".join(["😀 " * 1000] * 3)  # 2,000 rendered characters, 3,000 UTF-16 units a paragraph
    steps = plan_steps({"text": text, "parse_mode": "HTML", "reply_markup": {"inline_keyboard": []}}, [])
    assert len(steps) == 3 and all(utf16_len(s.text or "") <= TEXT_LIMIT for s in steps)
    assert [s.reply_markup for s in steps] == [None, None, {"inline_keyboard": []}]
