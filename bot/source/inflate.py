"""Content-Encoding (gzip, deflate, br) decoded by hand, a bounded step at a time, so that a small
compressed body cannot become a huge one in memory (the fetcher stops at max_bytes).
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Iterator
from typing import Any, Protocol

from bot.errors import FetchError

DECODE_CHUNK = 64 * 1024  # most decoded bytes produced from one step of the decompressor
GZIP_WBITS = 16 + zlib.MAX_WBITS
GZIP_MAGIC = b"\x1f\x8b"


class Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...


class Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        yield data


class _Inflate:
    """gzip or deflate, producing at most DECODE_CHUNK bytes per step."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._z = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not self._started and data and self._wbits == zlib.MAX_WBITS and not _zlib_header(data):
            self._wbits = -zlib.MAX_WBITS  # "deflate" sent as raw deflate, as many servers do
            self._z = zlib.decompressobj(self._wbits)
        self._started = self._started or bool(data)
        while data:
            out = self._z.decompress(data, DECODE_CHUNK)
            if out:
                yield out
            if self._z.eof:
                data = self._z.unused_data
                if not data.startswith(GZIP_MAGIC) or self._wbits != GZIP_WBITS:
                    return  # trailing bytes after the stream are ignored, as browsers do
                self._z = zlib.decompressobj(self._wbits)  # another gzip member
            elif self._z.unconsumed_tail:
                data = self._z.unconsumed_tail
            elif len(out) == DECODE_CHUNK:
                data = b""
                while out := self._z.decompress(b"", DECODE_CHUNK):
                    yield out  # output still pending inside zlib
            else:
                return


class _Brotli:
    def __init__(self, module: Any) -> None:
        self._d = module.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        out: bytes = self._d.process(data)
        yield out


def _zlib_header(data: bytes) -> bool:
    return len(data) < 2 or (data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0)


def decoder_for(encoding: str, url: str) -> Decoder:
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return Identity()
    if name in ("gzip", "x-gzip"):
        return _Inflate(GZIP_WBITS)
    if name == "deflate":
        return _Inflate(zlib.MAX_WBITS)
    if name == "br":
        try:
            return _Brotli(importlib.import_module("brotli"))
        except ImportError:
            pass
    raise FetchError(
        f"{url}: the body uses Content-Encoding {encoding!r}, which newsbot cannot decode",
        hint="the site ignored Accept-Encoding: gzip, deflate; report it to the site",
    )
