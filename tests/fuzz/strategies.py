"""Hypothesis strategies for hostile input: odd unicode, metacharacters, deep and huge JSON."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Things that break naive code: NUL, lone surrogates, bidi overrides, zero-width and BOM,
# noncharacters, astral emoji, SQL and regex metacharacters, path tricks, CRLF.
ODD = (
    "\x00",
    "\ud800",
    "\udfff",
    "\u202e",
    "\u200f",
    "\u200b",
    "\ufeff",
    "\uffff",
    "\U0001f600",
    "e\u0301",
    "'",
    '"',
    ";",
    "--",
    "/*",
    "%",
    "_",
    "\\",
    "' OR '1'='1",
    "'); DROP TABLE events; --",
    ".*",
    "(a+)+$",
    "[",
    "(?",
    "\\1",
    "{1000000}",
    "../",
    "\r\n",
    "${x}",
    "<script>",
)


def mostly(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`common` in about 70% of the cases (one_of alone would split evenly)."""
    return st.integers(0, 9).flatmap(lambda i: common if i < 7 else rare)


odd_text = st.lists(
    st.one_of(st.sampled_from(ODD), st.characters(codec=None), st.text(max_size=8)),
    max_size=8,
).map("".join)
long_text = st.integers(100, 5000).map(lambda n: "x" * n)
any_text = st.one_of(odd_text, odd_text, long_text)

numbers = st.one_of(
    st.integers(),
    st.integers(-(10**40), 10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([10**300, -(10**300), 1e308, 5e-324, -0.0]),
)
leaves = st.one_of(st.none(), st.booleans(), numbers, any_text)
json_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=6,
)

SCHEMES = ["http", "https", "HTTPS", "javascript", "data", "file", "ftp", "mailto", "", "ws"]
HOSTS = [
    "example.com",
    "www.example.com",
    "blog.example.com",
    "shop.test",
    "other.org",
    "localhost",
    "127.0.0.1",
    "[::1]",
    "xn--exmple-cua.com",
    "exämple.com",
    "example.com:99999",
    "user:pass@example.com",
    "",
]
urls = st.one_of(
    st.builds(
        lambda scheme, host, path: f"{scheme}://{host}/{path}",
        st.sampled_from(SCHEMES),
        st.sampled_from(HOSTS),
        any_text,
    ),
    any_text,
)
domains = st.one_of(
    st.sampled_from(["example.com", "www.example.com", "example.com,shop.test", "other.org"]),
    st.sampled_from(["", " , ", "EXAMPLE.COM.", "a" * 300]),
    any_text,
)
props = st.one_of(
    st.dictionaries(any_text, json_values, max_size=40),
    st.dictionaries(st.sampled_from(ODD), any_text, max_size=5),
    json_values,
)
revenue = st.one_of(
    st.fixed_dictionaries(
        {
            "amount": st.one_of(numbers, any_text),
            "currency": st.sampled_from(["EUR", "usd", "XXX", "", "€"]),
        }
    ),
    json_values,
)


def _maybe_encoded(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Plausible's script sends props and revenue as JSON strings; also try raw objects."""
    return st.one_of(strategy, strategy.map(lambda v: json.dumps(v, allow_nan=True)))


VALID = {"n": "pageview", "u": "https://example.com/a?utm_source=x", "d": "example.com"}
FIELDS = ("n", "name", "u", "url", "d", "domain", "r", "p", "m", "$", "revenue", "i", "h", "sd")


def _beacon(overrides: dict[str, Any], removed: list[str]) -> dict[str, Any]:
    data = {**VALID, **overrides}
    for key in removed:
        data.pop(key, None)
    return data


HOSTILE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "n": st.one_of(st.sampled_from(["Signup", "engagement"]), any_text, json_values),
    "name": any_text,
    "u": urls,
    "url": urls,
    "d": domains,
    "domain": domains,
    "r": st.one_of(urls, json_values),
    "p": _maybe_encoded(props),
    "m": _maybe_encoded(props),
    "$": _maybe_encoded(revenue),
    "revenue": _maybe_encoded(revenue),
    "i": json_values,
    "h": json_values,
    "sd": st.one_of(numbers, json_values),
    "e": st.one_of(numbers, json_values),
    "uid": json_values,
    "extra": json_values,
}

# a beacon: a valid one with up to three fields replaced by hostile values, some removed
beacon_dicts = st.builds(
    _beacon,
    st.lists(
        st.one_of(*(st.tuples(st.just(k), v) for k, v in HOSTILE_FIELDS.items())), max_size=3
    ).map(dict),
    st.lists(st.sampled_from(FIELDS), max_size=1),
)


def _nested(depth: int) -> str:
    return '{"n":"pageview","u":"https://example.com/","d":"example.com","p":' + (
        '{"a":' * depth + "1" + "}" * depth + "}"
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


# request bodies: JSON of beacons, any JSON, deep nesting, huge numbers, near the size limit,
# and arbitrary bytes (not UTF-8, truncated, binary)
beacon_bodies = beacon_dicts.map(_dumps).map(lambda s: s.encode("utf-8", "surrogatepass"))
bodies = mostly(
    beacon_bodies,
    st.one_of(
        json_values.map(_dumps).map(lambda s: s.encode("utf-8", "surrogatepass")),
        st.integers(1, 100_000).map(lambda n: ("[" * n + "]" * n).encode()),
        st.integers(1, 5000).map(lambda n: _nested(n).encode()),
        st.integers(1, 20_000).map(lambda n: ("1" * n).encode()),
        st.sampled_from(
            [b"NaN", b"Infinity", b"-Infinity", b'{"n":NaN}', b"1e999", b"\xef\xbb\xbf{}"]
        ),
        st.integers(64 * 1024 - 10, 64 * 1024 + 10).map(lambda n: b'{"n":"' + b"x" * n + b'"}'),
        st.binary(max_size=300),
        beacon_dicts.map(_dumps).map(lambda s: s.encode("utf-8", "surrogatepass")[:-3]),
    ),
)

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
UAS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/130.0",
    "curl/8.5.0",
    "",
]
CONTENT_TYPES = [
    "text/plain",
    "application/json",
    "application/json; charset=utf-8",
    "TEXT/PLAIN;charset=latin-1",
    "application/xml",
    "multipart/form-data; boundary=x",
    "",
]
header_text = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40),
    st.integers(1000, 20_000).map(lambda n: "A" * n),
)
headers = st.fixed_dictionaries(
    {
        "content-type": mostly(
            st.sampled_from(CONTENT_TYPES[:3]),
            st.one_of(st.sampled_from(CONTENT_TYPES), header_text),
        ),
        "user-agent": mostly(st.just(FIREFOX), st.one_of(st.sampled_from(UAS), header_text)),
    },
    optional={
        "origin": st.one_of(
            st.sampled_from(["https://example.com", "https://evil.test", "null", "http://[::1"]),
            header_text,
        ),
        "x-forwarded-for": st.one_of(
            st.sampled_from(["203.0.113.7", "2001:db8::1", "[2001:db8::1]:443", "1.2.3.4:5", ""]),
            header_text,
        ),
        "dnt": st.sampled_from(["1", "0", " 1 ", "yes"]),
        "sec-gpc": st.sampled_from(["1", "0"]),
        "cloudfront-viewer-country": st.one_of(
            st.sampled_from(["DE", "XX", "", "ZZZ"]), header_text
        ),
    },
)
query_params = st.builds(
    lambda base, noise: {**base, **noise},
    st.fixed_dictionaries({"d": st.just("example.com"), "u": st.just("https://example.com/p")}),
    st.dictionaries(
        st.one_of(st.sampled_from(["d", "u", "r", "n", "p"]), st.text(max_size=5)),
        st.one_of(any_text, urls, domains),
        max_size=3,
    ),
)
