"""Text entity handling: Telegram's HTML parse mode and entities of user-typed text.

Offsets and lengths are in UTF-16 code units, as in the Bot API.  Error descriptions
follow the wording of TDLib's HTML parser (what the Bot API returns after
``Bad Request: can't parse entities: ``).  One deliberate difference: Telegram passes a
stray ``&`` through literally, the emulator (with ``strict_ampersand``) rejects it, so a
bot that forgets to escape user data fails in tests instead of rendering garbage later.
"""

from __future__ import annotations

import re
from typing import Any

Entity = dict[str, Any]


class EntityParseError(ValueError):
    """Raised with the part of the description after ``can't parse entities: ``."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_SUPPORTED = {*_SIMPLE_TAGS, "a", "span", "blockquote", "tg-emoji"}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{0,31});")
_ATTR_RE = re.compile(r"""\s*([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    """(decoded char, length consumed) for a valid entity at ``text[i]``, else None."""
    m = _ENTITY_RE.match(text, i)
    if not m:
        return None
    name = m.group(1)
    if name.startswith("#"):
        try:
            code = int(name[2:], 16) if name[1:2] in ("x", "X") else int(name[1:])
            return chr(code), m.end() - i
        except (ValueError, OverflowError):
            return None
    ch = _NAMED_ENTITIES.get(name)
    return (ch, m.end() - i) if ch is not None else None


def _unescape_attr(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&" and (dec := _decode_entity(value, i)):
            out.append(dec[0])
            i += dec[1]
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _find_tag_end(text: str, start: int) -> int:
    """Index of the ``>`` closing the tag opened at ``start``, ignoring quoted values."""
    quote: str | None = None
    for j in range(start + 1, len(text)):
        c = text[j]
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == ">":
            return j
    return -1


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[Entity]]:
    """Plain text and entities for ``parse_mode=HTML`` text, or raise EntityParseError."""
    out: list[str] = []
    pos16 = 0  # UTF-16 length of ``out`` so far
    # open tags: (tag name, utf16 start, attrs)
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[Entity] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "<":
            end = _find_tag_end(text, i)
            if end < 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, i)}")
            body = text[i + 1 : end]
            if body.startswith("/"):
                name = body[1:].strip().lower()
                if not stack:
                    raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(text, i)}")
                top, start16, attrs = stack[-1]
                if name != top:
                    raise EntityParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(text, i)}, "
                        f'expected "</{top}>", found "</{name}>"'
                    )
                stack.pop()
                _close_tag(top, start16, pos16, attrs, stack, entities)
            else:
                m = re.match(r"[a-zA-Z][-a-zA-Z0-9]*", body)
                name = m.group(0).lower() if m else ""
                if name not in _SUPPORTED:
                    raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}')
                attrs: dict[str, str] = {}
                rest = body[len(name) :]
                k = 0
                while k < len(rest) and rest[k:].strip():
                    am = _ATTR_RE.match(rest, k)
                    if not am or am.end() == k:
                        raise EntityParseError(
                            f'Expected equal sign in declaration of an attribute of the tag "{name}"'
                        )
                    value = am.group(2) if am.group(2) is not None else am.group(3)
                    if value is None:
                        value = am.group(4) or ""
                    attrs[am.group(1).lower()] = _unescape_attr(value)
                    k = am.end()
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise EntityParseError('Tag "span" must have class "tg-spoiler"')
                if name == "tg-emoji" and "emoji-id" not in attrs:
                    raise EntityParseError('Tag "tg-emoji" must have attribute "emoji-id"')
                stack.append((name, pos16, attrs))
            i = end + 1
            continue
        if c == "&":
            dec = _decode_entity(text, i)
            if dec is not None:
                out.append(dec[0])
                pos16 += utf16_len(dec[0])
                i += dec[1]
                continue
            if strict_ampersand:
                raise EntityParseError(
                    f"Character '&' must be escaped as \"&amp;\" at byte offset {_byte_offset(text, i)}"
                )
        out.append(c)
        pos16 += 2 if ord(c) > 0xFFFF else 1
        i += 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_tag(
    name: str,
    start: int,
    end: int,
    attrs: dict[str, str],
    stack: list[tuple[str, int, dict[str, str]]],
    entities: list[Entity],
) -> None:
    length = end - start
    if length <= 0:
        return  # Telegram drops empty entities
    if name == "code" and stack and stack[-1][0] == "pre":
        # <pre><code class="language-x"> is one pre entity with a language, not two.
        cls = attrs.get("class", "")
        if cls.startswith("language-"):
            stack[-1][2]["_language"] = cls.removeprefix("language-")
            return
    entity: Entity = {"offset": start, "length": length}
    if name in _SIMPLE_TAGS:
        entity["type"] = _SIMPLE_TAGS[name]
        if name == "pre" and attrs.get("_language"):
            entity["language"] = attrs["_language"]
    elif name == "span":
        entity["type"] = "spoiler"
    elif name == "a":
        href = attrs.get("href")
        if not href:
            return
        entity["type"] = "text_link"
        entity["url"] = href
    elif name == "blockquote":
        entity["type"] = "expandable_blockquote" if "expandable" in attrs else "blockquote"
    elif name == "tg-emoji":
        entity["type"] = "custom_emoji"
        entity["custom_emoji_id"] = attrs["emoji-id"]
    entities.append(entity)


_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION_RE = re.compile(r"(?<!\w)@[A-Za-z0-9_]{5,32}")
_URL_RE = re.compile(r"\bhttps?://[^\s<>\"']+")


def detect_entities(text: str) -> list[Entity]:
    """Entities the Telegram client would attach to user-typed text (commands, mentions, urls)."""
    found: list[Entity] = []
    for kind, rx in (("bot_command", _COMMAND_RE), ("mention", _MENTION_RE), ("url", _URL_RE)):
        for m in rx.finditer(text):
            found.append({"type": kind, "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))})
    found.sort(key=lambda e: (e["offset"], -e["length"]))
    return found


_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    """A compact MarkdownV2 parser covering the constructs bots use and Telegram's escaping rule."""
    out: list[str] = []
    pos16 = 0
    stack: list[tuple[str, int]] = []
    entities: list[Entity] = []
    markers = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}
    i = 0
    n = len(text)

    def emit(s: str) -> None:
        nonlocal pos16
        out.append(s)
        pos16 += utf16_len(s)

    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            emit(text[i + 1])
            i += 2
            continue
        if c == "`":
            is_pre = text.startswith("```", i)
            fence = "```" if is_pre else "`"
            close = text.find(fence, i + len(fence))
            if close < 0:
                raise EntityParseError(
                    f"Can't find end of {'Pre' if is_pre else 'Code'} entity at byte offset {_byte_offset(text, i)}"
                )
            inner = text[i + len(fence) : close]
            language = None
            if is_pre and "\n" in inner:
                first, rest = inner.split("\n", 1)
                if first and " " not in first:
                    language, inner = first, rest
            inner = re.sub(r"\\([`\\])", r"\1", inner)
            start = pos16
            emit(inner)
            if inner:
                ent: Entity = {"type": "pre" if is_pre else "code", "offset": start, "length": pos16 - start}
                if language:
                    ent["language"] = language
                entities.append(ent)
            i = close + len(fence)
            continue
        two = text[i : i + 2]
        marker = two if two in ("__", "||") else c if c in markers else None
        if marker:
            if stack and stack[-1][0] == marker:
                _, start = stack.pop()
                if pos16 > start:
                    entities.append({"type": markers[marker], "offset": start, "length": pos16 - start})
            else:
                stack.append((marker, pos16))
            i += len(marker)
            continue
        if c == "[":
            stack.append(("[", pos16))
            i += 1
            continue
        if c == "]" and stack and stack[-1][0] == "[" and text.startswith("(", i + 1):
            close = text.find(")", i + 2)
            if close < 0:
                raise EntityParseError(f"Can't find end of a url at byte offset {_byte_offset(text, i)}")
            _, start = stack.pop()
            url = text[i + 2 : close].replace("\\)", ")").replace("\\\\", "\\")
            if pos16 > start:
                entities.append({"type": "text_link", "offset": start, "length": pos16 - start, "url": url})
            i = close + 1
            continue
        if c in _MDV2_RESERVED:
            raise EntityParseError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        emit(c)
        i += 1
    if stack:
        raise EntityParseError(f"Can't find end of the entity starting at byte offset {_byte_offset(text, 0)}")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities
