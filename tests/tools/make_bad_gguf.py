#!/usr/bin/env python3
"""Writes tests/data/gguf/bad/*.gguf: small malformed GGUF files, one defect each, plus
expected.json (error code and the words the message must contain: the file name and the
offending key or tensor). Checked by tests/unit/io/gguf_bad_files_test.cpp. Also writes two
small valid files into the fuzz seed corpus (tests/fuzz/corpus/gguf/).

Needs only the Python standard library (the GGUF bytes are assembled here by hand, so each
defect is exact):  python3 tests/tools/make_bad_gguf.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
BAD_DIR = os.path.join(HERE, "..", "data", "gguf", "bad")
CORPUS_DIR = os.path.join(HERE, "..", "fuzz", "corpus", "gguf")

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0 = 0, 1, 2, 8


def gguf_str(text):
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def kv(key, vtype, payload):
    return gguf_str(key) + struct.pack("<I", vtype) + payload


def kv_u32(key, value):
    return kv(key, U32, struct.pack("<I", value))


def kv_string(key, value):
    return kv(key, STRING, gguf_str(value))


def tensor_info(name, ne, ggml_type, offset):
    return (gguf_str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
            + struct.pack("<IQ", ggml_type, offset))


def pad(data, alignment):
    return data + b"\0" * ((-len(data)) % alignment)


def gguf_file(kvs, infos, data=b"", alignment=32, version=3, magic=b"GGUF",
              n_tensors=None, n_kv=None):
    header = magic + struct.pack("<IQQ", version, len(infos) if n_tensors is None else n_tensors,
                                 len(kvs) if n_kv is None else n_kv)
    return pad(header + b"".join(kvs) + b"".join(infos), alignment) + data


def base_parts():
    """A valid little model: 3 keys, two f32 tensors of 8x4 (128 bytes each)."""
    kvs = [kv_string("general.architecture", "llama"), kv_u32("llama.context_length", 2048),
           kv_string("general.name", "tiny test model")]
    infos = [tensor_info("token_embd.weight", [4, 8], GGML_F32, 0),
             tensor_info("blk.0.attn_q.weight", [4, 8], GGML_F32, 128)]
    data = bytes(range(256))
    return kvs, infos, data


def valid_file():
    kvs, infos, data = base_parts()
    return gguf_file(kvs, infos, data)


def offset_of(blob, needle):
    at = blob.find(needle)
    assert at >= 0, needle
    return at


def cases():
    """name -> (bytes, error code, words the message must contain)."""
    kvs, infos, data = base_parts()
    good = valid_file()
    out = {}

    def add(name, blob, code, *words):
        out[name] = (blob, code, list(words))

    add("truncated_header", good[:13], "corrupt_data", "header", "ends while reading")
    add("empty_file", b"", "corrupt_data", "header", "magic")
    add("wrong_magic", b"GGML" + good[4:], "corrupt_data", "not a GGUF file")
    add("wrong_version", good[:4] + struct.pack("<I", 4) + good[8:], "unsupported", "version 4")
    add("version_1", good[:4] + struct.pack("<I", 1) + good[8:], "unsupported", "version 1")
    add("big_endian", good[:4] + struct.pack(">I", 3) + good[8:], "unsupported", "big-endian")
    name_at = offset_of(good, b"tiny test model")
    add("truncated_kv", good[:name_at + 4], "corrupt_data", "metadata key 'general.name'", "string value")
    q_at = offset_of(good, b"blk.0.attn_q.weight")
    add("truncated_tensor_info", good[:q_at + 30], "corrupt_data", "tensor 'blk.0.attn_q.weight'")
    add("truncated_data", good[:-10], "corrupt_data", "tensor 'blk.0.attn_q.weight'",
        "runs past the end of the file", "truncated")
    add("bad_alignment", gguf_file(kvs + [kv_u32("general.alignment", 48)], infos, data),
        "corrupt_data", "metadata key 'general.alignment'", "48 is not a power of two")
    add("zero_alignment", gguf_file(kvs + [kv_u32("general.alignment", 0)], infos, data),
        "corrupt_data", "metadata key 'general.alignment'")
    add("string_alignment", gguf_file(kvs + [kv_string("general.alignment", "32")], infos, data),
        "corrupt_data", "metadata key 'general.alignment'", "found string")
    add("misaligned_offset",
        gguf_file(kvs, [infos[0], tensor_info("blk.0.attn_q.weight", [4, 8], GGML_F32, 144)], data + bytes(32)),
        "corrupt_data", "tensor 'blk.0.attn_q.weight'", "not a multiple of the alignment 32")
    add("offset_beyond_end",
        gguf_file(kvs, [infos[0], tensor_info("blk.0.attn_q.weight", [4, 8], GGML_F32, 1 << 40)], data),
        "corrupt_data", "tensor 'blk.0.attn_q.weight'", "runs past the end of the file")
    add("offset_overflows",
        gguf_file(kvs, [infos[0], tensor_info("blk.0.attn_q.weight", [4, 8], GGML_F32, 2**64 - 32)], data),
        "corrupt_data", "tensor 'blk.0.attn_q.weight'", "runs past the end of the file")
    add("overlapping_tensors",
        gguf_file(kvs, [infos[0], tensor_info("blk.0.attn_q.weight", [4, 8], GGML_F32, 96)], data),
        "corrupt_data", "tensor 'blk.0.attn_q.weight'", "overlaps tensor 'token_embd.weight'")
    add("absurd_tensor_count", gguf_file(kvs, infos, data, n_tensors=2**63), "corrupt_data",
        "header", "tensor count 9223372036854775808")
    add("absurd_kv_count", gguf_file(kvs, infos, data, n_kv=2**62), "corrupt_data",
        "header", "metadata count 4611686018427387904")
    add("absurd_string", gguf_file([kv("general.name", STRING, struct.pack("<Q", 2**40) + b"abc")], [], b""),
        "corrupt_data", "metadata key 'general.name'", "1099511627776 bytes")
    add("absurd_key_length", gguf_file([struct.pack("<Q", 2**63) + b"xyz"], [], b""),
        "corrupt_data", "metadata entry #0", "9223372036854775808 bytes")
    add("absurd_array", gguf_file([kv("tokenizer.ggml.scores", ARRAY, struct.pack("<IQ", F32, 2**60))], [], b""),
        "corrupt_data", "metadata key 'tokenizer.ggml.scores'", "count 1152921504606846976")
    add("absurd_string_array", gguf_file([kv("tokenizer.ggml.tokens", ARRAY, struct.pack("<IQ", STRING, 2**61))], [], b""),
        "corrupt_data", "metadata key 'tokenizer.ggml.tokens'", "count 2305843009213693952")
    add("absurd_dims", gguf_file(kvs, [tensor_info("blk.0.ffn_up.weight", [2**40, 2**40], GGML_F32, 0)], data),
        "corrupt_data", "tensor 'blk.0.ffn_up.weight'", "overflows")
    add("huge_tensor", gguf_file(kvs, [tensor_info("blk.0.ffn_up.weight", [2**30, 2**30], GGML_F32, 0)], data),
        "corrupt_data", "tensor 'blk.0.ffn_up.weight'", "runs past the end of the file")
    add("zero_dim", gguf_file(kvs, [tensor_info("output.weight", [4, 0], GGML_F32, 0)], data),
        "corrupt_data", "tensor 'output.weight'", "ne[1] = 0 is zero")
    add("too_many_dims", gguf_file(kvs, [tensor_info("output.weight", [1, 1, 1, 1, 4], GGML_F32, 0)], data),
        "corrupt_data", "tensor 'output.weight'", "5 dimensions")
    add("unknown_tensor_type", gguf_file(kvs, [tensor_info("output.weight", [4, 8], 77, 0)], data),
        "corrupt_data", "tensor 'output.weight'", "unknown tensor type id 77")
    add("unsupported_tensor_type", gguf_file(kvs, [tensor_info("output.weight", [256], 4, 0)], data),
        "unsupported", "tensor 'output.weight'", "q4_2")
    add("unknown_value_type", gguf_file([kv("general.weird", 13, b"\0" * 8)], [], b""),
        "corrupt_data", "metadata key 'general.weird'", "unknown value type 13")
    add("unknown_array_type", gguf_file([kv("general.weird", ARRAY, struct.pack("<IQ", 99, 1))], [], b""),
        "corrupt_data", "metadata key 'general.weird'", "unknown value type 99")
    add("row_not_block_multiple", gguf_file(kvs, [tensor_info("blk.0.attn_k.weight", [48, 2], GGML_Q4_0, 0)], data),
        "corrupt_data", "tensor 'blk.0.attn_k.weight'", "not a multiple of the q4_0 block size 32")
    add("duplicate_tensor", gguf_file(kvs, [infos[0], tensor_info("token_embd.weight", [4, 8], GGML_F32, 128)], data),
        "corrupt_data", "tensor 'token_embd.weight'", "appears twice")
    add("duplicate_key", gguf_file(kvs + [kv_u32("llama.context_length", 4096)], infos, data),
        "corrupt_data", "metadata key 'llama.context_length'", "appears twice")
    add("empty_key", gguf_file([kv("", U32, struct.pack("<I", 1))], [], b""),
        "corrupt_data", "metadata entry #0", "empty")
    add("bad_bool", gguf_file([kv("general.flag", BOOL, b"\x02")], [], b""),
        "corrupt_data", "metadata key 'general.flag'", "neither 0 nor 1")
    nested = struct.pack("<IQ", ARRAY, 1) * 9 + struct.pack("<IQ", U8, 0)
    add("nested_too_deep", gguf_file([kv("general.deep", ARRAY, nested)], [], b""),
        "corrupt_data", "metadata key 'general.deep'", "nested more than 8 deep")
    add("data_section_past_end", gguf_file(kvs, infos, b"")[:-8], "corrupt_data",
        "data section", "past the end of the file")
    add("control_chars_in_name", gguf_file(kvs, [tensor_info("bad\x01name\n", [4, 8], 77, 0)], data),
        "corrupt_data", "tensor 'bad\\x01name\\x0a'")
    return out


def main():
    os.makedirs(BAD_DIR, exist_ok=True)
    expected = {}
    for name, (blob, code, words) in sorted(cases().items()):
        with open(os.path.join(BAD_DIR, name + ".gguf"), "wb") as f:
            f.write(blob)
        expected[name] = {"code": code, "message_contains": [name + ".gguf"] + words}
    with open(os.path.join(BAD_DIR, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    os.makedirs(CORPUS_DIR, exist_ok=True)
    with open(os.path.join(CORPUS_DIR, "tiny_valid.gguf"), "wb") as f:
        f.write(valid_file())
    kvs = [kv("tokenizer.ggml.tokens", ARRAY, struct.pack("<IQ", STRING, 3) + gguf_str("a") + gguf_str("") + gguf_str("bc")),
           kv("x.nested", ARRAY, struct.pack("<IQ", ARRAY, 2) + struct.pack("<IQ", I16, 2) + b"\1\0\2\0"
              + struct.pack("<IQ", F64, 1) + struct.pack("<d", 1.5)),
           kv("general.alignment", U32, struct.pack("<I", 64))]
    q8_row = struct.pack("<e", 0.5) + bytes(range(32))
    with open(os.path.join(CORPUS_DIR, "arrays_q8.gguf"), "wb") as f:
        f.write(gguf_file(kvs, [tensor_info("q8", [32, 2], GGML_Q8_0, 0)], q8_row * 2, alignment=64))
    print("wrote", len(expected), "bad files to", BAD_DIR)


if __name__ == "__main__":
    main()
