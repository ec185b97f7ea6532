"""Numbered keys and integer texts, read one way everywhere.

`str.isdigit()` is true for `²`, `①` or `٣`, which `int()` then refuses (or reads as
another number), so it cannot stand for "an index". Every place that reads a numbered map
(`record[1]`, `a[0]=x` from a form, an array index update) or an integer id from text
asks this module instead.
"""

MAX_DIGITS = 18  # anything longer could overflow a 64-bit integer column


def is_index(key) -> bool:
    """True for a string of ASCII digits `0`-`9` (at most 18): a list position or a map key."""
    return isinstance(key, str) and 0 < len(key) <= MAX_DIGITS and key.isascii() and key.isdigit()


def as_index(key) -> int | None:
    """The integer a key of ASCII digits names, else None."""
    return int(key) if is_index(key) else None


def is_index_map(raw) -> bool:
    """A non-empty dict whose keys are all indexes, as `a[0]=x&a[1]=y` parses."""
    return isinstance(raw, dict) and bool(raw) and all(is_index(k) for k in raw)


def index_map_values(raw: dict) -> list:
    """The values of an index map in numeric key order."""
    return [raw[k] for k in sorted(raw, key=int)]


def parse_int(text, *, signed: bool = False) -> int | None:
    """An integer from text such as `42` or (when signed) `-3`, surrounding spaces allowed;
    None for anything else, `²` and `1e3` included."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    body = text[1:] if signed and text.startswith("-") else text
    return int(text) if is_index(body) else None
