#!/usr/bin/env python3
"""Writes tests/data/gguf/reference.gguf with llama.cpp's own GGUFWriter (gguf-py), and
reference.json: every metadata key and tensor as gguf-py wrote them, for
tests/unit/io/gguf_reference_test.cpp. Also copies the file into the fuzz seed corpus.

NOT run by CI: it needs a llama.cpp source snapshot for gguf-py (pure numpy):
    PYTHONPATH=/tmp/llama.cpp/gguf-py /usr/bin/python3 tests/tools/make_reference_gguf.py
The output is committed.

The file holds every metadata value type (each integer width at its extremes, float32/64,
bool, strings with UTF-8 and an empty-looking edge), arrays of each, arrays of strings, nested
arrays (of ints and of strings), a tokenizer-shaped vocabulary, a non-default alignment (64),
and tensors of 1 to 4 dimensions in f32, f16, bf16, i32, q8_0, q4_0, q4_K and q6_K. The JSON
lists tensors with their GGUF ne[] (innermost first), raw bytes in hex, and for float and
quantized types the values gguf-py dequantizes them to.
"""
import json
import os
import shutil
import sys

import numpy as np

try:
    import gguf
    from gguf import GGMLQuantizationType as QT
    from gguf import GGUFValueType as VT
    from gguf import quants
except ImportError:
    sys.exit("gguf-py not found: run with PYTHONPATH=<llama.cpp>/gguf-py")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "..", "data", "gguf")
CORPUS_DIR = os.path.join(HERE, "..", "fuzz", "corpus", "gguf")
ALIGNMENT = 64
SEED = 7

F32 = lambda x: float(np.float32(x))  # the value a float32 field actually holds

# key -> (gguf value type, value, element type for arrays). Python ints/floats are packed by
# gguf-py with the declared type; JSON gets the same value.
METADATA = [
    ("test.uint8", VT.UINT8, 255, None),
    ("test.int8", VT.INT8, -128, None),
    ("test.uint16", VT.UINT16, 65535, None),
    ("test.int16", VT.INT16, -32768, None),
    ("test.uint32", VT.UINT32, 4294967295, None),
    ("test.int32", VT.INT32, -2147483648, None),
    ("test.uint64", VT.UINT64, 18446744073709551615, None),
    ("test.int64", VT.INT64, -9223372036854775808, None),
    ("test.float32", VT.FLOAT32, F32(3.14159265), None),
    ("test.float64", VT.FLOAT64, 2.718281828459045, None),
    ("test.bool_true", VT.BOOL, True, None),
    ("test.bool_false", VT.BOOL, False, None),
    ("test.string", VT.STRING, "h\u00e9llo w\u00f6rld \u2713 \U0001F600", None),
    ("test.string_spaces", VT.STRING, "  leading and trailing\n\ttabs ", None),
    ("test.context_length", VT.UINT32, 4096, None),
    ("test.small_i64", VT.INT64, 42, None),
    ("test.array.uint8", VT.ARRAY, [0, 1, 254, 255], VT.UINT8),
    ("test.array.int8", VT.ARRAY, [-128, 0, 127], VT.INT8),
    ("test.array.uint16", VT.ARRAY, [0, 65535], VT.UINT16),
    ("test.array.int16", VT.ARRAY, [-32768, 32767], VT.INT16),
    ("test.array.uint32", VT.ARRAY, [0, 7, 4294967295], VT.UINT32),
    ("test.array.int32", VT.ARRAY, [-2147483648, -1, 0, 1, 2147483647], VT.INT32),
    ("test.array.uint64", VT.ARRAY, [0, 18446744073709551615], VT.UINT64),
    ("test.array.int64", VT.ARRAY, [-9223372036854775808, 9223372036854775807], VT.INT64),
    ("test.array.float32", VT.ARRAY, [F32(0.5), F32(-1.25), F32(1e-30), F32(3.4e38)], VT.FLOAT32),
    ("test.array.float64", VT.ARRAY, [1e-300, -2.5, 1e300], VT.FLOAT64),
    ("test.array.bool", VT.ARRAY, [True, False, True], VT.BOOL),
    ("test.array.string", VT.ARRAY, ["", "a", "\u00fcnic\u00f6de", "with space"], VT.STRING),
    ("test.array.nested_int32", VT.ARRAY, [[1, 2], [3], [4, 5, 6]], VT.ARRAY),
    ("test.array.nested_string", VT.ARRAY, [["a", "b"], ["c"]], VT.ARRAY),
    ("tokenizer.ggml.model", VT.STRING, "gpt2", None),
    ("tokenizer.ggml.tokens", VT.ARRAY, ["<s>", "</s>", "\u0120the", "\u0120a", "hello", "!"], VT.STRING),
    ("tokenizer.ggml.token_type", VT.ARRAY, [3, 3, 1, 1, 1, 1], VT.INT32),
    ("tokenizer.ggml.scores", VT.ARRAY, [0.0, 0.0, F32(-1.5), F32(-2.25), F32(-3.0), F32(-4.5)], VT.FLOAT32),
    ("tokenizer.ggml.merges", VT.ARRAY, ["\u0120 t", "\u0120t he", "h e"], VT.STRING),
]


def tensors(rng):
    """(name, numpy array to write, raw ggml type or None, shape outermost-first)."""
    out = []
    f32 = rng.standard_normal((2, 3, 4)).astype(np.float32)
    out.append(("blk.0.f32_3d", f32, None, [2, 3, 4]))
    out.append(("blk.0.f16", rng.standard_normal((5, 8)).astype(np.float16), None, [5, 8]))
    bf16 = quants.quantize(rng.standard_normal((3, 16)).astype(np.float32), QT.BF16)
    out.append(("blk.0.bf16", bf16, QT.BF16, [3, 16]))
    out.append(("blk.0.i32", np.arange(-3, 4, dtype=np.int32), None, [7]))
    out.append(("blk.0.f32_4d", rng.standard_normal((2, 1, 3, 2)).astype(np.float32), None, [2, 1, 3, 2]))
    q8 = quants.quantize(rng.standard_normal((4, 64)).astype(np.float32), QT.Q8_0)
    out.append(("blk.1.q8_0", q8, QT.Q8_0, [4, 64]))
    q4 = quants.quantize(rng.standard_normal((2, 32)).astype(np.float32), QT.Q4_0)
    out.append(("blk.1.q4_0", q4, QT.Q4_0, [2, 32]))
    for name, qtype, d_offsets in (("blk.1.q4_K", QT.Q4_K, [0, 2]), ("blk.1.q6_K", QT.Q6_K, [208])):
        block_bytes = gguf.GGML_QUANT_SIZES[qtype][1]
        raw = rng.integers(0, 256, size=(2, block_bytes), dtype=np.uint8)  # 2 rows of 1 block
        for off in d_offsets:
            raw[:, off:off + 2] = (rng.standard_normal(2) * 0.01).astype(np.float16).view(np.uint8).reshape(2, 2)
        out.append((name, raw, qtype, [2, 256]))
    out.append(("output_norm.weight", np.ones(8, dtype=np.float32), None, [8]))
    return out


def tensor_values(array, raw_type):
    if raw_type is None:
        if array.dtype in (np.float32, np.float16):
            return [float(v) for v in array.astype(np.float32).reshape(-1)]
        return None
    return [float(v) for v in quants.dequantize(array, raw_type).astype(np.float32).reshape(-1)]


def type_name(array, raw_type):
    if raw_type is not None:
        return raw_type.name.lower().replace("_k", "_K")
    return {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16", np.dtype(np.int32): "i32"}[array.dtype]


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, "reference.gguf")
    writer = gguf.GGUFWriter(path, arch="testarch")
    writer.add_custom_alignment(ALIGNMENT)
    expected = {"alignment": ALIGNMENT, "metadata": [], "tensors": []}
    # GGUFWriter adds general.architecture first, then general.alignment.
    expected["metadata"].append({"key": "general.architecture", "type": "string", "value": "testarch"})
    expected["metadata"].append({"key": "general.alignment", "type": "uint32", "value": ALIGNMENT})
    for key, vtype, value, sub_type in METADATA:
        writer.add_key_value(key, value, vtype, sub_type=sub_type)
        entry = {"key": key, "type": vtype.name.lower(), "value": value}
        if sub_type is not None:
            entry["element_type"] = sub_type.name.lower()
        expected["metadata"].append(entry)
    rng = np.random.default_rng(SEED)
    for name, array, raw_type, shape in tensors(rng):
        writer.add_tensor(name, array, raw_dtype=raw_type)
        expected["tensors"].append({
            "name": name, "type": type_name(array, raw_type), "shape": shape,
            "ne": list(reversed(shape)), "hex": array.tobytes().hex(),
            "values": tensor_values(array, raw_type)})
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    # Offsets as gguf-py's reader sees them (independent of our parser).
    reader = gguf.GGUFReader(path)
    data_start = min(t.data_offset for t in reader.tensors)
    for entry, t in zip(expected["tensors"], reader.tensors):
        assert entry["name"] == t.name
        entry["offset"] = int(t.data_offset - data_start)
    expected["data_offset"] = int(data_start)
    expected["file_size"] = os.path.getsize(path)
    with open(os.path.join(OUT_DIR, "reference.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.makedirs(CORPUS_DIR, exist_ok=True)
    shutil.copy(path, os.path.join(CORPUS_DIR, "reference.gguf"))
    print("wrote", path, expected["file_size"], "bytes")


if __name__ == "__main__":
    main()
