"""From an outbox payload to Telegram calls: long texts split, HTML kept balanced, plain fallback."""

from __future__ import annotations

import html
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

TEXT_LIMIT = 4096  # Telegram counts UTF-16 code units of the text after entity parsing

_TOKEN = re.compile(r"<[^>]*>|&[#a-zA-Z0-9]+;|[\s\S]", re.UNICODE)
_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z0-9-]+)[^>]*>")
_STRIP_TAGS = re.compile(r"<[^>]*>")


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def to_plain(text: str, parse_mode: str | None) -> str:
    """The message as plain text: what is sent again when Telegram cannot parse the formatting."""
    if parse_mode and parse_mode.lower() == "html":
        return html.unescape(_STRIP_TAGS.sub("", text))
    if parse_mode and parse_mode.lower().startswith("markdown"):
        return re.sub(r"\\([_*\[\]()~`>#+\-=|{}.!])", r"\1", text)
    return text


def _split_plain(text: str, limit: int) -> list[str]:
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        # The longest prefix that fits, then back to the last line break or space in its second half.
        cut = min(len(rest), limit)
        while utf16_len(rest[:cut]) > limit:
            cut -= 1
        window = rest[:cut]
        for sep in ("\n\n", "\n", " "):
            at = window.rfind(sep)
            if at >= cut // 2:
                cut = at + len(sep)
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    if rest.strip():
        parts.append(rest)
    return [p for p in parts if p.strip()]


def _width(token: str) -> int:
    """Rendered UTF-16 length of a text token: an entity counts as the character it stands for."""
    return utf16_len(html.unescape(token)) if token.startswith("&") else utf16_len(token)


# Where a part may end, best first: after a blank line, after a line, after a word.
_BREAKS = ("paragraph", "line", "word")


def _split_html(text: str, limit: int) -> list[str]:
    """Split HTML at a paragraph, else a line, else a word (else a character), never inside a tag
    or an entity; tags open at a cut are closed at the end of one part and opened again at the
    start of the next, so every part parses on its own."""
    chunks: list[str] = []
    pending = deque(_TOKEN.findall(text))
    current: list[str] = []
    size = 0
    stack: list[tuple[str, str]] = []  # (name, opening tag as written)
    # For each kind of break, the state just after the latest one: (tokens in the part, size, open tags).
    breaks: dict[str, tuple[int, int, list[tuple[str, str]]]] = {}
    previous = ""  # the previous text token (two newlines in a row make a paragraph break)

    def close(tags: list[tuple[str, str]]) -> str:
        return "".join(f"</{name}>" for name, _ in reversed(tags))

    while pending:
        token = pending.popleft()
        tag = _TAG.fullmatch(token) if token.startswith("<") else None
        if tag is not None:
            name = tag.group(2).lower()
            if tag.group(1):
                for i in range(len(stack) - 1, -1, -1):
                    if stack[i][0] == name:
                        del stack[i]
                        break
            elif not token.endswith("/>"):
                stack.append((name, token))
            current.append(token)
            continue
        width = _width(token)
        if size + width > limit and size > 0:
            best = next((breaks[k] for k in _BREAKS if k in breaks and breaks[k][1] >= limit // 2), None)
            if best is not None:
                n, _, open_tags = best
                head, tail = current[:n], current[n:]
            else:  # one long word: cut it here
                head, tail, open_tags = current, [], list(stack)
            while head and not head[-1].startswith("<") and not head[-1].strip():
                head.pop()  # the blank at the cut ends the part; it is not sent
            chunks.append("".join(head) + close(open_tags))
            # The next part opens the tags open at the cut; what followed the cut is read again.
            pending.extendleft(reversed([*tail, token]))
            current = [opening for _, opening in open_tags]
            stack = list(open_tags)
            size, breaks, previous = 0, {}, ""
            continue
        current.append(token)
        size += width
        if token == "\n":
            breaks["paragraph" if previous == "\n" else "line"] = (len(current), size, list(stack))
        elif token == " ":
            breaks["word"] = (len(current), size, list(stack))
        previous = token
    if current:
        chunks.append("".join(current))
    return [c for c in chunks if to_plain(c, "HTML").strip()]


def split_text(text: str, parse_mode: str | None, limit: int = TEXT_LIMIT) -> list[str]:
    """Parts of at most `limit` rendered characters, cut at a paragraph, line or word if possible."""
    rendered = to_plain(text, parse_mode) if parse_mode and parse_mode.lower() == "html" else text
    if utf16_len(rendered) <= limit:
        return [text]
    if parse_mode and parse_mode.lower() == "html":
        return _split_html(text, limit)
    if parse_mode:
        # MarkdownV2 escapes cannot be split safely; long Markdown goes as plain text.
        return _split_plain(to_plain(text, parse_mode), limit)
    return _split_plain(text, limit)


@dataclass(frozen=True, slots=True)
class Step:
    """One Telegram call of a message: a text part, or a file."""

    kind: str  # "text" | "photo" | "document"
    text: str | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    file_index: int | None = None


def plan_steps(payload: dict[str, Any], file_kinds: list[str]) -> list[Step]:
    """Text parts first (the keyboard on the last one), then each file as a photo or a document."""
    steps: list[Step] = []
    text = payload.get("text") or ""
    parse_mode = payload.get("parse_mode") or None
    markup = payload.get("reply_markup") or None
    if text.strip():
        parts = split_text(text, parse_mode)
        # A Markdown text too long to split safely was turned into plain text.
        mode = parse_mode if not (parse_mode and parse_mode.lower() != "html" and len(parts) > 1) else None
        for i, part in enumerate(parts):
            last = i == len(parts) - 1 and not file_kinds
            steps.append(Step("text", part, mode, markup if last else None))
    for i, kind in enumerate(file_kinds):
        steps.append(Step("photo" if kind == "photo" else "document", file_index=i))
    if markup and file_kinds and steps and steps[-1].kind != "text":
        # Buttons need a message to sit on: the last file carries them.
        last = steps[-1]
        steps[-1] = Step(last.kind, file_index=last.file_index, reply_markup=markup)
    return steps
