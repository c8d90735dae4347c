"""Pictures that cost a lot to decode and little to send, for the fault tests: a real, decodable PNG
of side x side transparent pixels (12,000 px: 576 MB of pixels in 548 KiB),
written in a second or two by repeating one independently compressed block, and a PNG header
claiming more pixels than PIL's own decompression-bomb limit."""
import struct
import zlib
from pathlib import Path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(path: Path, side: int, idat: bytes) -> Path:
    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)  # 8-bit RGBA
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))
    return Path(path)


def transparent_png(path: Path, side: int, rows_a_block: int = 200) -> Path:
    """A valid side x side RGBA PNG, every pixel transparent."""
    row = 1 + 4 * side  # a filter byte, then the pixels
    blocks, rest = divmod(side, rows_a_block)
    block, last_rows = bytes(row * rows_a_block), bytes(row * rest)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    # A full flush ends the block with no reference to what came before, so it can be repeated.
    segment = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    last = tail.compress(last_rows) + tail.flush()
    checksum = 1
    for _ in range(blocks):
        checksum = zlib.adler32(block, checksum)
    checksum = zlib.adler32(last_rows, checksum)
    return _png(path, side, b"\x78\xda" + segment * blocks + last + struct.pack(">I", checksum))


def header_only_png(path: Path, side: int) -> Path:
    """A PNG that claims side x side pixels and holds none: enough for a header check."""
    return _png(path, side, zlib.compress(b""))
