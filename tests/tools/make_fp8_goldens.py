#!/usr/bin/python3
"""Writes the FP8 E4M3 goldens under tests/data/fp8/, derived from the format definition.

Run:  /usr/bin/python3 tests/tools/make_fp8_goldens.py      (deterministic; numpy only)

torch 1.13 has no float8 dtype, so values come straight from the definition of E4M3 as used by
DeepSeek-V3 checkpoints ("e4m3fn", OCP FP8 spec): 1 sign bit, 4 exponent bits (bias 7),
3 mantissa bits; exponent 0 is subnormal (m/8 * 2^-6); no infinities; S.1111.111 is NaN (so the
largest finite value is S.1111.110 = 1.75 * 2^8 = 448). This code shares nothing with the C++.

Files:
  e4m3_values.txt       256 lines "0xBB <value>", value as Python float.hex() or "nan"
  <case>.meta           "rows cols block_rows block_cols" of a block-scaled dequantization case
  <case>.weight.bin     uint8 [rows, cols] E4M3 codes (a few NaN codes included)
  <case>.scale_inv.bin  float32 LE [ceil(rows/block_rows), ceil(cols/block_cols)]
  <case>.expected.bin   float32 LE [rows, cols]: value(code) * scale_inv[r // br][c // bc],
                        the product rounded once to float32
"""
import math
import os
from fractions import Fraction

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "fp8")


def e4m3_value(code: int):
    """Exact value of an E4M3 code as a Fraction, or None for NaN."""
    sign = -1 if code & 0x80 else 1
    exponent = (code >> 3) & 0xF
    mantissa = code & 0x7
    if exponent == 0xF and mantissa == 0x7:
        return None
    if exponent == 0:
        magnitude = Fraction(mantissa, 8) * Fraction(1, 2 ** 6)
    else:
        magnitude = (1 + Fraction(mantissa, 8)) * Fraction(2) ** (exponent - 7)
    return sign * magnitude


def table():
    values = [e4m3_value(code) for code in range(256)]
    # Sanity checks on the definition, independent of any implementation.
    finite = [v for v in values if v is not None]
    assert len(finite) == 254, "exactly two NaN codes (0x7F, 0xFF)"
    assert max(finite) == 448 and min(finite) == -448
    assert min(v for v in finite if v > 0) == Fraction(1, 2 ** 9), "smallest subnormal 2^-9"
    positives = values[:0x7F]
    assert all(a < b for a, b in zip(positives, positives[1:])), "codes 0..0x7E increase"
    assert values[0x38] == 1 and values[0x40] == 2 and values[0x08] == Fraction(1, 64)
    return values


def as_float(code, value):
    """Python float of a code's value; Fraction has no -0, so the sign of zero comes from the
    code's sign bit."""
    if value is None:
        return math.nan
    return math.copysign(float(value), -1.0 if code & 0x80 else 1.0)


def write_table(values):
    lines = []
    for code, value in enumerate(values):
        # float.hex() is exact: every E4M3 value is a short binary fraction.
        text = "nan" if value is None else as_float(code, value).hex()
        lines.append(f"0x{code:02X} {text}\n")
    with open(os.path.join(OUT, "e4m3_values.txt"), "w") as f:
        f.writelines(lines)


def write_case(name, rows, cols, block_rows, block_cols, seed, values):
    rng = np.random.default_rng(seed)
    weight = rng.integers(0, 256, size=(rows, cols), dtype=np.uint8)
    weight[0, 0], weight[rows - 1, cols - 1], weight[rows // 2, 3] = 0x7F, 0xFF, 0x80  # NaN, -0
    srows, scols = math.ceil(rows / block_rows), math.ceil(cols / block_cols)
    scale = (rng.uniform(0.25, 4.0, (srows, scols)) / 448).astype(np.float32)
    lut = np.array([as_float(code, v) for code, v in enumerate(values)], dtype=np.float32)
    scale_full = np.repeat(np.repeat(scale, block_rows, 0), block_cols, 1)[:rows, :cols]
    expected = (lut[weight] * scale_full).astype(np.float32)  # one float32 rounding
    with open(os.path.join(OUT, f"{name}.meta"), "w") as f:
        f.write(f"{rows} {cols} {block_rows} {block_cols}\n")
    weight.tofile(os.path.join(OUT, f"{name}.weight.bin"))
    scale.astype("<f4").tofile(os.path.join(OUT, f"{name}.scale_inv.bin"))
    expected.astype("<f4").tofile(os.path.join(OUT, f"{name}.expected.bin"))


def main():
    os.makedirs(OUT, exist_ok=True)
    values = table()
    write_table(values)
    # DeepSeek-V3 blocks (128 x 128) with partial blocks on both axes: scales [3, 2].
    write_case("block128", 260, 136, 128, 128, 7, values)
    # Small, non-square blocks: scales [3, 4].
    write_case("block32x16", 70, 50, 32, 16, 8, values)


if __name__ == "__main__":
    main()
