"""JSON bodies for tests that a reader other than orjson (an outline, canonical bytes) reads
a body as orjson does: any document, and bodies broken at random (a few bytes replaced,
inserted or deleted)."""

from __future__ import annotations

import random

from hypothesis import strategies as st

# What a body is made of, and bytes that break it (control characters, invalid UTF-8).
MANGLING_BYTES = list(
    b'[]{}:,"\\ /0123456789-+.eEtrufalsnud\t\n\r\x0b\x0c\x00\x7f\xc3\xa9\xed\xa0\xff'
)


def mangled(rnd: random.Random, seeds: list[bytes]) -> bytes:
    """One of ``seeds`` with one to four bytes replaced, inserted or deleted."""
    body = bytearray(rnd.choice(seeds))
    for _ in range(rnd.randint(1, 4)):
        at = rnd.randrange(len(body))
        kind = rnd.random()
        if kind < 0.4:
            body[at] = rnd.choice(MANGLING_BYTES)
        elif kind < 0.7:
            body[at:at] = bytes([rnd.choice(MANGLING_BYTES)])
        else:
            del body[at]
    return bytes(body)


def json_documents(keys: list[str]) -> st.SearchStrategy[object]:
    """Any JSON document of up to 30 leaves whose objects' keys are drawn from ``keys``."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**64 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=5)
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(keys), inner, max_size=4),
        max_leaves=30,
    )
