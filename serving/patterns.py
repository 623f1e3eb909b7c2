"""The regular expressions with which the API's JSON Schema accepts exactly the strings the
ingest and validate stages accept:

- Surrounding white space: ingest trims every string value with `str.strip()`, so each string
  pattern allows any run of Python's white space (`str.isspace`, which is not ECMA 262's `\\s`:
  the class is spelled out) on either side of the value it checks.
- Categories match case-insensitively (`str.casefold`): each pattern accepts exactly the strings
  whose case fold is a category's, e.g. `[Ss][Ee][Xx]` with `ſ` and the Kelvin sign `K` where they
  fold to `s` and `k`, and `ß` where `ss` does. A category that would need a pattern longer than
  MAX_PATTERN (only runs of overlapping multi-letter folds, such as `ssss...`) falls back to
  single-letter folds: it then accepts a subset of what the server accepts, never more.
- Free text: its `max_length` applies after trimming, which `maxLength` cannot say; a pattern
  does (at most that many characters from the first to the last that is not white space).

The patterns are ECMA 262 with the `u` flag (code points, as JSON Schema counts them) and Python
`re` alike.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable

MAX_PATTERN = 4096


@functools.cache
def _unicode() -> tuple[str, dict[str, list[str]]]:
    """What `str.strip()` trims, and every character whose case fold is not itself, by fold."""
    space, folds = [], {}  # type: tuple[list[str], dict[str, list[str]]]
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:  # lone surrogates are not valid JSON text
            continue
        char = chr(code)
        if char.isspace():
            space.append(char)
        if char.casefold() != char:
            folds.setdefault(char.casefold(), []).append(char)
    return "".join(space), folds


def _escape(char: str, in_class: bool) -> str:
    if char in ("\\]^-[" if in_class else "\\^$.|?*+()[]{}"):
        return "\\" + char
    if (char.isprintable() and not char.isspace()) or ord(char) > 0xFFFF:
        return char
    return f"\\u{ord(char):04x}"


def char_class(chars: Iterable[str], negate: bool = False) -> str:
    """A regex matching one of `chars` (ranges folded), or any other character with `negate`."""
    codes = sorted({ord(c) for c in chars})
    if len(codes) == 1 and not negate:
        return _escape(chr(codes[0]), in_class=False)
    runs: list[list[int]] = []
    for code in codes:
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    parts = []
    for low, high in runs:
        first, last = _escape(chr(low), True), _escape(chr(high), True)
        parts.append(
            first if low == high else first + last if high == low + 1 else f"{first}-{last}"
        )
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def folded(target: str, widths: tuple[int, ...] = (1, 2, 3)) -> str | None:
    """A regex for exactly the strings whose case fold is `target`; None if there is none."""
    folds = _unicode()[1]
    rest: dict[int, str | None] = {len(target): ""}
    for i in reversed(range(len(target))):
        options = []
        for n in widths:
            piece = target[i : i + n]
            itself = n == 1 and piece.casefold() == piece
            chars = ([piece] if itself else []) + folds.get(piece, [])
            tail = rest.get(i + n)
            if len(piece) == n and chars and tail is not None:
                options.append(char_class(chars) + tail)
        if not options:
            rest[i] = None
            continue
        pattern = options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"
        rest[i] = pattern
        if len(pattern) > MAX_PATTERN:  # overlapping multi-letter folds double it each time
            return folded(target, (1,))
    return rest[0]


def _trimmed(core: str) -> str:
    space = char_class(_unicode()[0])
    return f"^{space}*{core}{space}*$"


def category_pattern(categories: Iterable[str]) -> str:
    """Strings that ingest and validate accept as one of `categories`."""
    targets = [c.casefold() for c in categories if c.casefold().strip() == c.casefold()]
    options = sorted({p for p in map(folded, targets) if p is not None})
    return _trimmed("(?:" + "|".join(options) + ")") if options else "(?!)"


def text_pattern(max_length: int) -> str:
    """Strings of at most `max_length` characters once surrounding white space is trimmed."""
    space = _unicode()[0]
    solid = char_class(space, negate=True)
    if max_length <= 0:
        return _trimmed("")
    inner = f"(?:[\\s\\S]{{0,{max_length - 2}}}{solid})?" if max_length > 1 else ""
    return _trimmed(f"(?:{solid}{inner})?")
