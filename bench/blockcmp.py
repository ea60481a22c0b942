#!/usr/bin/env python3
"""blockcmp.py — are two tsdb block directories the same bytes but for their IDs?

    bench/blockcmp.py BLOCK_DIR_A BLOCK_DIR_B

A block's ID (26 characters, time + random) is written into its index's
meta section and into meta.json, so two writes of the same data never give
identical files. This compares `chunks` byte for byte; `index` byte for byte
except the 26 ID bytes at offset 8, the meta section's CRC in the TOC and
the TOC's own CRC (tsdb/FORMAT.md "index file"); and `meta.json` with the
IDs swapped. Exits 0 when everything else is identical, 1 otherwise, and
prints the files' sizes and the first differing offset.
"""
import os
import sys

TOC = 152  # 6 entries of 24 bytes, le32 crc, magic


def masked_index(b):
    """The index with the ID and the CRCs that cover it zeroed."""
    b = bytearray(b)
    if len(b) < 8 + 26 + TOC or b[:4] != b"SIDX":
        sys.exit("not an index file")
    b[8:34] = b"\0" * 26
    toc = len(b) - TOC
    b[toc + 16:toc + 20] = b"\0" * 4  # entry 0 (meta): le64 off, le64 len, le32 crc
    b[len(b) - 8:len(b) - 4] = b"\0" * 4  # crc of the TOC entries
    return bytes(b)


def first_diff(x, y):
    for i in range(min(len(x), len(y))):
        if x[i] != y[i]:
            return i
    return min(len(x), len(y)) if len(x) != len(y) else -1


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/")
    ida, idb = os.path.basename(a), os.path.basename(b)
    ok = True
    for name in ("chunks", "index", "meta.json"):
        x = open(os.path.join(a, name), "rb").read()
        y = open(os.path.join(b, name), "rb").read()
        if name == "index":
            x, y = masked_index(x), masked_index(y)
        elif name == "meta.json":
            y = y.replace(idb.encode(), ida.encode())
        d = first_diff(x, y)
        print("%-9s %10d %10d  %s" % (name, len(x), len(y),
                                      "identical" if d < 0 else "DIFFER at %d" % d))
        ok = ok and d < 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
