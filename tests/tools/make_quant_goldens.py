#!/usr/bin/env python3
"""Writes tests/data/quants: random GGML blocks of every type mxserve reads, and the floats that
llama.cpp's own Python package (gguf-py) dequantizes them to. The C++ test
tests/unit/kernels/quant_goldens_test.cpp checks mx::dequantize_row against these files.

NOT run by CI: it needs a llama.cpp source snapshot for gguf-py (pure numpy), e.g.
    PYTHONPATH=/tmp/llama.cpp/gguf-py /usr/bin/python3 tests/tools/make_quant_goldens.py
The output is committed; re-running with the same seed and gguf-py reproduces it byte for byte.

Files, per type T (lower-case GGML name):
    T.bin   n_blocks raw blocks exactly as in a GGUF file
    T.f32   the dequantized values, little-endian float32, n_blocks * block_elems
plus two quantize goldens for the plain half types (input floats -> expected 16-bit patterns):
    f16_quantize.f32 / f16_quantize.bin   numpy's float32 -> float16 (round to nearest even)
    bf16_quantize.f32 / bf16_quantize.bin gguf-py's BF16.quantize (round to nearest even)
and manifest.json (types, block counts, seed, the gguf-py used).

Blocks are random bytes with their fp16 scale fields replaced by sane random finite values
(including one subnormal and one zero scale per type), so every decoded value is finite.
Q8_K (an activation type) is not in gguf-py: its floats are computed here with numpy as
d * q (float32 * int8), the definition in ggml's block_q8_K.
"""
import json
import os
import sys

import numpy as np

try:
    import gguf
    from gguf import GGMLQuantizationType as QT
    from gguf import quants
except ImportError:
    sys.exit("gguf-py not found: run with PYTHONPATH=<llama.cpp>/gguf-py")

SEED = 20250601
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "quants")

# name -> (ggml type, byte offsets of fp16 scale fields, blocks to write)
TYPES = {
    "q4_0": (QT.Q4_0, [0], 16),
    "q4_1": (QT.Q4_1, [0, 2], 16),
    "q5_0": (QT.Q5_0, [0], 16),
    "q5_1": (QT.Q5_1, [0, 2], 16),
    "q8_0": (QT.Q8_0, [0], 16),
    "q2_K": (QT.Q2_K, [80, 82], 4),
    "q3_K": (QT.Q3_K, [108], 4),
    "q4_K": (QT.Q4_K, [0, 2], 4),
    "q5_K": (QT.Q5_K, [0, 2], 4),
    "q6_K": (QT.Q6_K, [208], 4),
}


def random_scales(rng, n):
    """Finite fp16 scales of mixed sign and magnitude; one subnormal and one zero."""
    scales = (rng.standard_normal(n) * 10.0 ** rng.uniform(-4, 0, n)).astype(np.float16)
    scales[0] = np.float16(3.0e-6)  # subnormal in fp16
    scales[1 % n] = np.float16(0.0)
    return scales


def make_blocks(rng, qtype, scale_offsets, n_blocks):
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    for offset in scale_offsets:
        blocks[:, offset:offset + 2] = random_scales(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    return blocks


def write(name, array):
    path = os.path.join(OUT_DIR, name)
    array.tofile(path)
    return path


def quant_goldens(rng, manifest):
    for name, (qtype, scale_offsets, n_blocks) in TYPES.items():
        blocks = make_blocks(rng, qtype, scale_offsets, n_blocks)
        values = quants.dequantize(blocks, qtype).astype(np.float32).reshape(-1)
        assert np.all(np.isfinite(values)), name
        write(name + ".bin", blocks)
        write(name + ".f32", values)
        manifest["types"][name] = {"blocks": n_blocks, "elements": int(values.size), "by": "gguf-py"}

    # Q8_K: float32 d, int8 qs[256], int16 bsums[16] (292 bytes); x = d * q.
    n_blocks = 4
    d = (rng.standard_normal(n_blocks) * 1e-2).astype(np.float32)
    qs = rng.integers(-128, 128, size=(n_blocks, 256), dtype=np.int8)
    bsums = qs.reshape(n_blocks, 16, 16).astype(np.int16).sum(axis=2, dtype=np.int16)
    blocks = np.concatenate([d.view(np.uint8).reshape(n_blocks, 4), qs.view(np.uint8),
                             bsums.view(np.uint8).reshape(n_blocks, 32)], axis=1)
    assert blocks.shape == (n_blocks, 292)
    write("q8_K.bin", blocks)
    write("q8_K.f32", (d[:, None] * qs.astype(np.float32)).reshape(-1))
    manifest["types"]["q8_K"] = {"blocks": n_blocks, "elements": n_blocks * 256, "by": "numpy d*q"}


# Written from their own generator after everything above, so adding them left the earlier
# files byte for byte as they were.
IQ_SEED = SEED + 1
IQ_TYPES = {
    "iq4_nl": (QT.IQ4_NL, [0], 16),
    "iq4_xs": (QT.IQ4_XS, [0], 4),
}


def iq_goldens(manifest):
    rng = np.random.default_rng(IQ_SEED)
    for name, (qtype, scale_offsets, n_blocks) in IQ_TYPES.items():
        blocks = make_blocks(rng, qtype, scale_offsets, n_blocks)
        values = quants.dequantize(blocks, qtype).astype(np.float32).reshape(-1)
        assert np.all(np.isfinite(values)), name
        write(name + ".bin", blocks)
        write(name + ".f32", values)
        manifest["types"][name] = {"blocks": n_blocks, "elements": int(values.size), "by": "gguf-py"}


# The grid types, MXFP4 and the ternary types, again from their own generator after the above.
# Random bytes are valid codebook indices and signs in every field; only the scales are set.
GRID_SEED = SEED + 2
GRID_TYPES = {
    "iq2_xxs": (QT.IQ2_XXS, [0], 4),
    "iq2_xs": (QT.IQ2_XS, [0], 4),
    "iq2_s": (QT.IQ2_S, [0], 4),
    "iq3_xxs": (QT.IQ3_XXS, [0], 4),
    "iq3_s": (QT.IQ3_S, [0], 4),
    "iq1_s": (QT.IQ1_S, [0], 4),
    "iq1_m": (QT.IQ1_M, [], 4),
    "tq1_0": (QT.TQ1_0, [52], 4),
    "tq2_0": (QT.TQ2_0, [64], 4),
    "mxfp4": (QT.MXFP4, [], 16),
}


def grid_goldens(manifest):
    rng = np.random.default_rng(GRID_SEED)
    for name, (qtype, scale_offsets, n_blocks) in GRID_TYPES.items():
        blocks = make_blocks(rng, qtype, scale_offsets, n_blocks)
        if qtype == QT.IQ1_M:
            # The fp16 d sits in the top nibbles of the four uint16 scales at bytes 48-55.
            d = random_scales(rng, n_blocks).view(np.uint16)
            scales = blocks[:, 48:56].copy().view(np.uint16)
            for w in range(4):
                nibble = (d >> np.uint16(4 * w)) & np.uint16(0xF)
                scales[:, w] = (scales[:, w] & np.uint16(0x0FFF)) | (nibble << np.uint16(12))
            blocks[:, 48:56] = scales.view(np.uint8)
        if qtype == QT.MXFP4:
            # e8m0 exponents around 2^0 (255 would overflow float32 with the value 12), plus the
            # two subnormal scales (e = 0, 1).
            blocks[:, 0] = rng.integers(100, 156, size=n_blocks, dtype=np.uint8)
            blocks[0, 0], blocks[1, 0] = 0, 1
        values = quants.dequantize(blocks, qtype).astype(np.float32).reshape(-1)
        assert np.all(np.isfinite(values)), name
        write(name + ".bin", blocks)
        write(name + ".f32", values)
        manifest["types"][name] = {"blocks": n_blocks, "elements": int(values.size), "by": "gguf-py"}


def half_goldens(rng, manifest):
    # Dequantize: random 16-bit patterns plus every special class (zeros, subnormals, max,
    # Inf, NaN with payloads). gguf-py's F16/BF16 "dequantize" is numpy's exact widening.
    special = np.array([0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x7E00,
                        0x7C01, 0xFE00, 0x3C00, 0xBC00, 0x3555], dtype=np.uint16)
    patterns = np.concatenate([special, rng.integers(0, 65536, 1010, dtype=np.uint16)])
    write("f16.bin", patterns)
    write("f16.f32", patterns.view(np.float16).astype(np.float32))
    write("bf16.bin", patterns)
    write("bf16.f32", quants.dequantize(patterns.view(np.uint8), QT.BF16).astype(np.float32).reshape(-1))
    manifest["types"]["f16"] = {"blocks": int(patterns.size), "elements": int(patterns.size), "by": "numpy"}
    manifest["types"]["bf16"] = {"blocks": int(patterns.size), "elements": int(patterns.size), "by": "gguf-py"}

    # Quantize: floats around every rounding boundary of both formats.
    ties = []
    for bits in rng.integers(0, 2**32, 256, dtype=np.uint64):
        b = int(bits) & 0xFFFFE000  # an f16-representable mantissa when in range ...
        ties += [b | 0x1000, b | 0x0FFF, b | 0x1001]  # ... then exactly half, just under, just over
        c = int(bits) & 0xFFFF0000
        ties += [c | 0x8000, c | 0x7FFF, c | 0x8001]
    extra = [0.0, -0.0, 65504.0, 65519.99, 65520.0, -65520.0, 1e-8, 2.98e-8, 2.9802322e-8,
             5.96e-8, 6.1e-5, 6.097555e-5, 1e30, np.inf, -np.inf, 3.4028235e38]
    inputs = np.concatenate([np.array(ties, dtype=np.uint32).view(np.float32),
                             np.array(extra, dtype=np.float32),
                             (rng.standard_normal(512) * 10.0 ** rng.uniform(-9, 6, 512)).astype(np.float32)])
    inputs = inputs[np.isfinite(inputs) | np.isinf(inputs)]  # NaNs: payload rules differ, tested apart
    with np.errstate(over="ignore"):
        write("f16_quantize.f32", inputs)
        write("f16_quantize.bin", inputs.astype(np.float16).view(np.uint16))
    write("bf16_quantize.f32", inputs)
    write("bf16_quantize.bin", quants.quantize(inputs, QT.BF16).view(np.uint16))
    manifest["quantize_inputs"] = int(inputs.size)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    rng = np.random.default_rng(SEED)
    manifest = {"seed": SEED, "generator": "tests/tools/make_quant_goldens.py",
                "reference": "llama.cpp gguf-py " + os.path.dirname(gguf.__file__), "types": {}}
    quant_goldens(rng, manifest)
    half_goldens(rng, manifest)
    iq_goldens(manifest)
    grid_goldens(manifest)
    with open(os.path.join(OUT_DIR, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", OUT_DIR)


if __name__ == "__main__":
    main()
