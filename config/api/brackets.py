"""Bracket notation for query strings and form bodies, as Rails and ConnectyCube read it.

    permissions[read][access]=owner   -> {"permissions": {"read": {"access": "owner"}}}
    a[]=1&a[]=2                       -> {"a": ["1", "2"]}
    record[1][id]=x                   -> {"record": {"1": {"id": "x"}}}

Values stay strings; typing is the consumer's job. A key that is not well formed, or two
keys that want one place to be both a value and an object, raise BracketSyntaxError.
"""

import re
from collections.abc import Iterable

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")

# Deeper than any parameter of the API, shallow enough that no code walking the result
# recursively can run out of stack.
MAX_DEPTH = 32


class BracketSyntaxError(ValueError):
    pass


def split_key(key: str) -> tuple[str, list[str]]:
    """`a[b][]` -> ("a", ["b", ""]). The empty segment means "append to a list"."""
    head_end = key.find("[")
    if head_end == -1:
        if "]" in key:
            raise BracketSyntaxError(f"malformed parameter name: {key!r}")
        return key, []
    name, rest = key[:head_end], key[head_end:]
    if not name or "]" in name:
        raise BracketSyntaxError(f"malformed parameter name: {key!r}")
    segments, pos = [], 0
    while pos < len(rest):
        match = _SEGMENT.match(rest, pos)
        if not match:
            raise BracketSyntaxError(f"malformed parameter name: {key!r}")
        segments.append(match.group(1))
        pos = match.end()
    if "" in segments[:-1]:
        raise BracketSyntaxError(f"'[]' may only end a parameter name: {key!r}")
    if len(segments) > MAX_DEPTH:
        raise BracketSyntaxError(f"parameter nested deeper than {MAX_DEPTH} levels: {name!r}")
    return name, segments


def parse_pairs(pairs: Iterable[tuple[str, str]]) -> dict:
    """Build the nested object from (key, value) pairs, in order. A repeated plain key keeps
    its last value; `[]` keys collect every value."""
    root: dict = {}
    for key, value in pairs:
        name, segments = split_key(key)
        _assign(root, [name, *segments], value, key)
    return root


def _assign(node: dict, path: list[str], value: str, key: str) -> None:
    for i, part in enumerate(path[:-1]):
        nxt = path[i + 1]
        if nxt == "":
            child = node.setdefault(part, [])
            if not isinstance(child, list):
                raise BracketSyntaxError(f"conflicting parameter: {key!r}")
            child.append(value)
            return
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise BracketSyntaxError(f"conflicting parameter: {key!r}")
        node = child
    last = path[-1]
    if isinstance(node.get(last), dict | list):
        raise BracketSyntaxError(f"conflicting parameter: {key!r}")
    node[last] = value


def encode(data: dict, prefix: str = "") -> list[tuple[str, str]]:
    """The inverse of parse_pairs, for tests and clients: nested dicts and lists of strings
    become bracket pairs."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            pairs.extend(encode(value, name))
        elif isinstance(value, list):
            pairs.extend((f"{name}[]", str(item)) for item in value)
        else:
            pairs.append((name, str(value)))
    return pairs
