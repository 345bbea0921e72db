"""JSON bodies broken at random: a few bytes replaced, inserted or deleted, for tests that a
reader other than orjson (an outline, canonical bytes) answers only where orjson would."""

from __future__ import annotations

import random

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
