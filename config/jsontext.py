"""JSON text read fast, and exactly.

    loads(text)   # str or bytes -> the value; ValueError when it is not JSON

orjson reads JSON several times faster than the standard library, but it turns an integer
beyond 64 bits into a float (123456789012345678901234567890 becomes
1.2345678901234568e+29), where Python's `json`, like PostgreSQL's jsonb, keeps it exact.
Text holding a run of 19 or more digits (in a string or not: the test is cheap and only
ever too careful) is therefore read by the standard library; all other text by orjson.
Both refuse NaN and Infinity, which JSON does not have.
"""

import json
import re

import orjson

_LONG_DIGITS = {str: re.compile(r"[0-9]{19}").search, bytes: re.compile(rb"[0-9]{19}").search}


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str | bytes):
    if _LONG_DIGITS[type(text)](text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # what orjson refuses and Python reads (a lone surrogate escape): see below
    return json.loads(text, parse_constant=_refuse_constant)
