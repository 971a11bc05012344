#!/usr/bin/env python3
"""Checks that each path is a Lambda `bootstrap` for arm64: an executable 64-bit little-endian
ELF file for AArch64 (machine 0xB7), as `sam build` must produce for provided.al2023/arm64.

Usage: check_bootstrap.py PATH...     exit 1 naming the first file that is not one
"""
import os
import struct
import sys

EM_AARCH64 = 0xB7


def problem(path):
    if not os.path.isfile(path):
        return "missing (did sam build run?)"
    if not os.access(path, os.X_OK):
        return "not executable"
    with open(path, "rb") as f:
        head = f.read(20)
    if head[:4] != b"\x7fELF":
        return "not an ELF file"
    if head[4] != 2 or head[5] != 1:
        return "not a 64-bit little-endian ELF file"
    (machine,) = struct.unpack_from("<H", head, 18)
    if machine != EM_AARCH64:
        return f"built for machine 0x{machine:x}, not arm64 (0xb7)"
    return None


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for p in paths:
        why = problem(p)
        if why:
            print(f"check_bootstrap: {p}: {why}", file=sys.stderr)
            return 1
    print(f"check_bootstrap: {len(paths)} arm64 Lambda bootstraps")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
