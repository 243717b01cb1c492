#!/usr/bin/python3
"""Writes the small Hugging Face model folders and broken safetensors files under tests/data/hf/.

Run from anywhere:  /usr/bin/python3 tests/tools/make_hf_fixtures.py
Output is deterministic (fixed seeds), so re-running leaves git clean.

Safetensors is written by hand here (8-byte little-endian header length, JSON header padded with
spaces to a multiple of 8, then the data), independently of mxserve's C++ reader. For every good
folder, <folder>.expected.json lists each tensor's canonical name, dtype, shape, byte count and
FNV-1a 64 hash of its bytes; the C++ tests check the loaded WeightMap against it.
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "hf")

ELEM_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "I64": 8, "I32": 4,
              "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def fnv1a64(data: bytes) -> int:
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


class Tensor:
    def __init__(self, name, dtype, shape, data: bytes, canonical=None):
        assert len(data) == ELEM_BYTES[dtype] * int(np.prod(shape, dtype=np.int64)), name
        self.name, self.dtype, self.shape, self.data = name, dtype, list(shape), data
        self.canonical = canonical if canonical is not None else name


def safetensors_bytes(tensors, metadata=None):
    """Header entries in name order, data packed largest-element-first so every tensor is
    aligned to its element size (what the reference writer does too)."""
    order = sorted(tensors, key=lambda t: (-ELEM_BYTES[t.dtype], t.name))
    header, offset, blobs = {}, 0, []
    for t in order:
        header[t.name] = {"dtype": t.dtype, "shape": t.shape,
                          "data_offsets": [offset, offset + len(t.data)]}
        offset += len(t.data)
        blobs.append(t.data)
    if metadata is not None:
        header["__metadata__"] = metadata
    return raw_safetensors(json.dumps(header, sort_keys=True).encode(), b"".join(blobs))


def raw_safetensors(header: bytes, data: bytes, header_len=None):
    header += b" " * (-len(header) % 8)
    n = len(header) if header_len is None else header_len
    return struct.pack("<Q", n) + header + data


def write(path, payload):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "wb" if isinstance(payload, bytes) else "w"
    with open(path, mode) as f:
        f.write(payload)


def write_json(path, obj):
    write(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


# ---- tensor data -------------------------------------------------------------------------------

def f32(rng, shape):
    return rng.standard_normal(shape).astype("<f4").tobytes()


def bf16(rng, shape):
    t = torch.from_numpy(rng.standard_normal(shape).astype(np.float32)).to(torch.bfloat16)
    return t.view(torch.int16).numpy().astype("<i2").tobytes()


def f16(rng, shape):
    return rng.standard_normal(shape).astype("<f2").tobytes()


def fp8(rng, shape):
    """Random E4M3 bytes, avoiding the two NaN encodings (0x7F, 0xFF) as real weights do."""
    raw = rng.integers(0, 256, size=shape, dtype=np.uint8)
    raw[(raw & 0x7F) == 0x7F] = 0x3F
    return raw.tobytes()


def scale(rng, weight_shape, block=128):
    rows = -(-weight_shape[0] // block)
    cols = -(-weight_shape[1] // block)
    return [rows, cols], (rng.uniform(0.5, 2.0, (rows, cols)) / 448).astype("<f4").tobytes()


# ---- models ------------------------------------------------------------------------------------

LLAMA_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 64,
    "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0, "max_position_embeddings": 128, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "bos_token_id": 1, "eos_token_id": 2,
}


def llama_tensors():
    rng = np.random.default_rng(1234)
    H, F, V, KV = 16, 32, 64, 8
    ts = [Tensor("model.embed_tokens.weight", "BF16", [V, H], bf16(rng, (V, H)),
                 "token_embd.weight")]
    for n in range(2):
        p, b = f"model.layers.{n}.", f"blk.{n}."
        ts += [
            Tensor(p + "input_layernorm.weight", "F32", [H], f32(rng, (H,)), b + "attn_norm.weight"),
            Tensor(p + "post_attention_layernorm.weight", "F32", [H], f32(rng, (H,)),
                   b + "ffn_norm.weight"),
            Tensor(p + "self_attn.q_proj.weight", "BF16", [H, H], bf16(rng, (H, H)),
                   b + "attn_q.weight"),
            Tensor(p + "self_attn.k_proj.weight", "BF16", [KV, H], bf16(rng, (KV, H)),
                   b + "attn_k.weight"),
            Tensor(p + "self_attn.v_proj.weight", "BF16", [KV, H], bf16(rng, (KV, H)),
                   b + "attn_v.weight"),
            Tensor(p + "self_attn.o_proj.weight", "BF16", [H, H], bf16(rng, (H, H)),
                   b + "attn_output.weight"),
            Tensor(p + "mlp.gate_proj.weight", "BF16", [F, H], bf16(rng, (F, H)),
                   b + "ffn_gate.weight"),
            Tensor(p + "mlp.up_proj.weight", "BF16", [F, H], bf16(rng, (F, H)), b + "ffn_up.weight"),
            Tensor(p + "mlp.down_proj.weight", "BF16", [H, F], bf16(rng, (H, F)),
                   b + "ffn_down.weight"),
        ]
    # Old llama checkpoints carry RoPE buffers: no canonical name, kept under the HF name.
    ts.append(Tensor("model.layers.0.self_attn.rotary_emb.inv_freq", "F32", [2], f32(rng, (2,))))
    ts.append(Tensor("model.norm.weight", "F32", [H], f32(rng, (H,)), "output_norm.weight"))
    ts.append(Tensor("lm_head.weight", "F16", [V, H], f16(rng, (V, H)), "output.weight"))
    return ts


QWEN3_CONFIG = {
    "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 32,
    "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "head_dim": 4,
    "num_attention_heads": 2, "num_key_value_heads": 1, "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
}


def qwen3_tied_tensors():
    """Qwen3: per-head q/k RMSNorm, tied embeddings (no lm_head.weight in the file)."""
    rng = np.random.default_rng(77)
    H, F, V, D = 8, 16, 32, 4
    p, b = "model.layers.0.", "blk.0."
    specs = [("model.embed_tokens.weight", "token_embd.weight", [V, H]),
             (p + "input_layernorm.weight", b + "attn_norm.weight", [H]),
             (p + "post_attention_layernorm.weight", b + "ffn_norm.weight", [H]),
             (p + "self_attn.q_proj.weight", b + "attn_q.weight", [2 * D, H]),
             (p + "self_attn.k_proj.weight", b + "attn_k.weight", [D, H]),
             (p + "self_attn.v_proj.weight", b + "attn_v.weight", [D, H]),
             (p + "self_attn.o_proj.weight", b + "attn_output.weight", [H, 2 * D]),
             (p + "self_attn.q_norm.weight", b + "attn_q_norm.weight", [D]),
             (p + "self_attn.k_norm.weight", b + "attn_k_norm.weight", [D]),
             (p + "mlp.gate_proj.weight", b + "ffn_gate.weight", [F, H]),
             (p + "mlp.up_proj.weight", b + "ffn_up.weight", [F, H]),
             (p + "mlp.down_proj.weight", b + "ffn_down.weight", [H, F]),
             ("model.norm.weight", "output_norm.weight", [H])]
    return [Tensor(hf, "BF16", shape, bf16(rng, tuple(shape)), canonical)
            for hf, canonical, shape in specs]


def deepseek_config():
    return {
        "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
        "vocab_size": 64, "hidden_size": 32, "intermediate_size": 200,
        "moe_intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
        "num_key_value_heads": 2, "q_lora_rank": 24, "kv_lora_rank": 16,
        "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 8, "n_routed_experts": 2,
        "n_shared_experts": 1, "num_experts_per_tok": 1, "first_k_dense_replace": 1,
        "moe_layer_freq": 1, "n_group": 1, "topk_group": 1, "routed_scaling_factor": 2.5,
        "scoring_func": "sigmoid", "topk_method": "noaux_tc", "norm_topk_prob": True,
        "rms_norm_eps": 1e-6, "rope_theta": 10000, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3",
                                "quant_method": "fp8", "weight_block_size": [128, 128]},
    }


def fp8_linear(rng, hf, canonical, shape):
    """An FP8 weight and its block scales (the canonical stem gets .weight / .scale_inv)."""
    sshape, sdata = scale(rng, shape)
    return [Tensor(hf + ".weight", "F8_E4M3", shape, fp8(rng, shape), canonical + ".weight"),
            Tensor(hf + ".weight_scale_inv", "F32", sshape, sdata, canonical + ".scale_inv")]


def deepseek_tensors():
    rng = np.random.default_rng(4321)
    H, V = 32, 64
    ts = [Tensor("model.embed_tokens.weight", "BF16", [V, H], bf16(rng, (V, H)),
                 "token_embd.weight")]
    for n in range(2):
        p, b = f"model.layers.{n}.", f"blk.{n}."
        ts += [Tensor(p + "input_layernorm.weight", "BF16", [H], bf16(rng, (H,)),
                      b + "attn_norm.weight"),
               Tensor(p + "post_attention_layernorm.weight", "BF16", [H], bf16(rng, (H,)),
                      b + "ffn_norm.weight"),
               Tensor(p + "self_attn.q_a_layernorm.weight", "BF16", [24], bf16(rng, (24,)),
                      b + "attn_q_a_norm.weight"),
               Tensor(p + "self_attn.kv_a_layernorm.weight", "BF16", [16], bf16(rng, (16,)),
                      b + "attn_kv_a_norm.weight")]
        a = p + "self_attn."
        ts += fp8_linear(rng, a + "q_a_proj", b + "attn_q_a", [24, H])
        ts += fp8_linear(rng, a + "q_b_proj", b + "attn_q_b", [2 * 12, 24])
        ts += fp8_linear(rng, a + "kv_a_proj_with_mqa", b + "attn_kv_a_mqa", [16 + 4, H])
        ts += fp8_linear(rng, a + "kv_b_proj", b + "attn_kv_b", [2 * 16, 16])
        ts += fp8_linear(rng, a + "o_proj", b + "attn_output", [H, 2 * 8])
    # Layer 0: dense FFN, 200 wide so the block scales have partial blocks ([2, 1] and [1, 2]).
    m = "model.layers.0.mlp."
    ts += fp8_linear(rng, m + "gate_proj", "blk.0.ffn_gate", [200, H])
    ts += fp8_linear(rng, m + "up_proj", "blk.0.ffn_up", [200, H])
    ts += fp8_linear(rng, m + "down_proj", "blk.0.ffn_down", [H, 200])
    # Layer 1: MoE with 2 routed experts (kept per expert) and 1 shared expert.
    m = "model.layers.1.mlp."
    ts += [Tensor(m + "gate.weight", "BF16", [2, H], bf16(rng, (2, H)), "blk.1.ffn_gate_inp.weight"),
           Tensor(m + "gate.e_score_correction_bias", "F32", [2], f32(rng, (2,)),
                  "blk.1.exp_probs_b.bias")]
    for e in range(2):
        for proj, shape in (("gate", [16, H]), ("up", [16, H]), ("down", [H, 16])):
            ts += fp8_linear(rng, f"{m}experts.{e}.{proj}_proj", f"blk.1.ffn_{proj}_exps.{e}", shape)
    for proj, shape in (("gate", [16, H]), ("up", [16, H]), ("down", [H, 16])):
        ts += fp8_linear(rng, f"{m}shared_experts.{proj}_proj", f"blk.1.ffn_{proj}_shexp", shape)
    ts.append(Tensor("model.norm.weight", "BF16", [H], bf16(rng, (H,)), "output_norm.weight"))
    ts.append(Tensor("lm_head.weight", "BF16", [V, H], bf16(rng, (V, H)), "output.weight"))
    return ts


def expected(tensors):
    return {t.canonical: {"hf_name": t.name, "dtype": t.dtype, "shape": t.shape,
                          "nbytes": len(t.data), "fnv1a64": f"{fnv1a64(t.data):016x}"}
            for t in tensors}


TOKENIZER_PLACEHOLDER = {"version": "1.0", "model": {"type": "BPE", "vocab": {}, "merges": []},
                         "_comment": "placeholder: HF loader tests only record this path"}


def write_folder(name, config, files, index=None):
    folder = os.path.join(ROOT, name)
    if config is not None:
        write_json(os.path.join(folder, "config.json"), config)
    for file_name, payload in files.items():
        write(os.path.join(folder, file_name), payload)
    if index is not None:
        write_json(os.path.join(folder, "model.safetensors.index.json"), index)
    return folder


def index_for(shards):
    """shards: {file name: [Tensor]} → index JSON with total_size and weight_map."""
    weight_map = {t.name: f for f, ts in shards.items() for t in ts}
    total = sum(len(t.data) for ts in shards.values() for t in ts)
    return {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}


def write_good_models():
    meta = {"format": "pt"}
    llama = llama_tensors()
    write_folder("tiny_llama", LLAMA_CONFIG, {
        "model.safetensors": safetensors_bytes(llama, meta),
        "tokenizer.json": json.dumps(TOKENIZER_PLACEHOLDER) + "\n",
        "generation_config.json": json.dumps({"bos_token_id": 1, "eos_token_id": 2,
                                              "temperature": 0.6}) + "\n",
        "tokenizer_config.json": json.dumps({"bos_token": "<s>", "eos_token": "</s>"}) + "\n",
    })
    write_json(os.path.join(ROOT, "tiny_llama.expected.json"), expected(llama))

    # The same tensors in two shards: layer 1 and the head in the second.
    second = [t for t in llama if t.name.startswith(("model.layers.1.", "model.norm", "lm_head"))]
    first = [t for t in llama if t not in second]
    shards = {"model-00001-of-00002.safetensors": first,
              "model-00002-of-00002.safetensors": second}
    write_folder("tiny_llama_sharded", LLAMA_CONFIG,
                 {f: safetensors_bytes(ts, meta) for f, ts in shards.items()}, index_for(shards))
    write_json(os.path.join(ROOT, "tiny_llama_sharded.expected.json"), expected(llama))

    qwen = qwen3_tied_tensors()
    write_folder("tiny_qwen3_tied", QWEN3_CONFIG, {"model.safetensors": safetensors_bytes(qwen)})
    write_json(os.path.join(ROOT, "tiny_qwen3_tied.expected.json"), expected(qwen))

    ds = deepseek_tensors()
    write_folder("tiny_deepseek_v3_fp8", deepseek_config(),
                 {"model.safetensors": safetensors_bytes(ds, meta)})
    write_json(os.path.join(ROOT, "tiny_deepseek_v3_fp8.expected.json"), expected(ds))
    return llama, ds


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def header_file(header: dict, data_len: int):
    return raw_safetensors(json.dumps(header).encode(), bytes(range(256)) * (data_len // 256) +
                           bytes(range(data_len % 256)))


def write_bad_files():
    bad = os.path.join(ROOT, "bad")
    good = {"a.weight": entry("F32", [4, 4], 0, 64), "b.weight": entry("F16", [4], 64, 72)}
    files = {
        "truncated_header.safetensors": struct.pack("<Q", 16)[:5],
        "truncated_data.safetensors": header_file(good, 40),
        "header_beyond_file.safetensors": raw_safetensors(b'{"a.weight": {}}', b"", 4096),
        "header_too_large.safetensors": raw_safetensors(b"{}", b"", 1 << 40),
        "bad_json.safetensors": raw_safetensors(
            b'{"a.weight": {"dtype": "F32", "shape": [4, 4],, "data_offsets": [0, 64]}}',
            bytes(64)),
        "not_object.safetensors": raw_safetensors(b"[1, 2, 3]", b""),
        "bad_dtype.safetensors": header_file({"weird.weight": entry("F7", [4], 0, 4)}, 4),
        "offsets_out_of_range.safetensors": header_file(
            {"big.weight": entry("F32", [4, 4], 64, 128)}, 64),
        "offsets_reversed.safetensors": header_file(
            {"rev.weight": entry("F32", [4], 16, 0)}, 64),
        "overlap.safetensors": header_file({"a.weight": entry("F32", [4], 0, 16),
                                            "b.weight": entry("F32", [4], 8, 24)}, 24),
        "size_mismatch.safetensors": header_file(
            {"mismatch.weight": entry("F32", [4, 4], 0, 60)}, 64),
        "wrong_field_type.safetensors": header_file(
            {"typed.weight": {"dtype": "F32", "shape": "4x4", "data_offsets": [0, 64]}}, 64),
        "negative_dim.safetensors": header_file(
            {"neg.weight": entry("F32", [-1, 4], 0, 16)}, 16),
        "huge_dims.safetensors": header_file(
            {"huge.weight": entry("F32", [1 << 40, 1 << 40], 0, 16)}, 16),
        "duplicate_name.safetensors": raw_safetensors(
            b'{"dup.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
            b'"dup.weight": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', bytes(8)),
        "metadata_not_string.safetensors": header_file(
            {"__metadata__": {"format": 1}, "a.weight": entry("F32", [1], 0, 4)}, 4),
    }
    for name, payload in files.items():
        write(os.path.join(bad, name), payload)


def write_bad_folders(llama, ds):
    bad = os.path.join(ROOT, "bad")
    meta = {"format": "pt"}
    st = safetensors_bytes(llama, meta)
    write_folder("bad/missing_config", None, {"model.safetensors": st})
    write_folder("bad/bad_config_json", None, {"model.safetensors": st,
                                               "config.json": '{"model_type": "llama",\n  oops}\n'})
    write_folder("bad/unsupported_arch", dict(LLAMA_CONFIG, model_type="gpt2",
                                              architectures=["GPT2LMHeadModel"]),
                 {"model.safetensors": st})
    write_folder("bad/no_weights", LLAMA_CONFIG, {})
    write_folder("bad/corrupt_weights", LLAMA_CONFIG,
                 {"model.safetensors": st[:len(st) - 100]})  # data cut short

    half = len(llama) // 2
    shards = {"model-00001-of-00002.safetensors": llama[:half],
              "model-00002-of-00002.safetensors": llama[half:]}
    # The index names a second shard that was never downloaded.
    write_folder("bad/index_missing_shard", LLAMA_CONFIG,
                 {"model-00001-of-00002.safetensors": safetensors_bytes(llama[:half], meta)},
                 index_for(shards))
    # The index lists a tensor in shard 1 that shard 1 lacks.
    index = index_for(shards)
    index["weight_map"]["model.layers.9.mlp.up_proj.weight"] = "model-00001-of-00002.safetensors"
    write_folder("bad/index_missing_tensor", LLAMA_CONFIG,
                 {f: safetensors_bytes(ts, meta) for f, ts in shards.items()}, index)
    # A shard name that points outside the folder; the target exists, so only the name check
    # can stop it.
    write(os.path.join(bad, "escape.safetensors"), safetensors_bytes(llama[half:], meta))
    index = index_for(shards)
    for t in llama[half:]:
        index["weight_map"][t.name] = "../escape.safetensors"
    write_folder("bad/index_escape", LLAMA_CONFIG,
                 {"model-00001-of-00002.safetensors": safetensors_bytes(llama[:half], meta)},
                 index)
    # FP8 block scales with the wrong shape: [1, 1] for a [200, 32] weight (needs [2, 1]).
    broken = [Tensor(t.name, t.dtype, [1, 1], t.data[:4], t.canonical)
              if t.name == "model.layers.0.mlp.gate_proj.weight_scale_inv" else t for t in ds]
    write_folder("bad/fp8_scale_shape", deepseek_config(),
                 {"model.safetensors": safetensors_bytes(broken, meta)})


def write_fuzz_seeds():
    """Small valid files for tests/fuzz/fuzz_safetensors.cpp to mutate (the bad files above are
    copied next to them), a few hundred bytes each so mutations hit the header often."""
    seeds = os.path.join(ROOT, "..", "..", "fuzz", "corpus", "safetensors")
    if os.path.isdir(seeds):
        shutil.rmtree(seeds)
    rng = np.random.default_rng(99)
    small = [Tensor("model.layers.0.self_attn.q_proj.weight", "BF16", [2, 3], bf16(rng, (2, 3))),
             Tensor("model.norm.weight", "F32", [3], f32(rng, (3,))),
             Tensor("model.layers.0.mlp.experts.1.up_proj.weight", "F8_E4M3", [2, 2],
                    fp8(rng, (2, 2))),
             Tensor("model.layers.0.mlp.experts.1.up_proj.weight_scale_inv", "F32", [1, 1],
                    f32(rng, (1, 1)))]
    write(os.path.join(seeds, "small.safetensors"), safetensors_bytes(small, {"format": "pt"}))
    every = [Tensor(f"t.{d.lower()}", d, [2], bytes(2 * ELEM_BYTES[d])) for d in ELEM_BYTES]
    every += [Tensor("scalar", "F64", [], bytes(8)), Tensor("empty", "I32", [0, 5], b"")]
    write(os.path.join(seeds, "every_dtype.safetensors"), safetensors_bytes(every))
    write(os.path.join(seeds, "metadata_only.safetensors"),
          safetensors_bytes([], {"format": "pt", "note": "no tensors"}))
    write(os.path.join(seeds, "empty_header.safetensors"), raw_safetensors(b"{}", b""))
    for name in sorted(os.listdir(os.path.join(ROOT, "bad"))):
        if name.endswith(".safetensors") and name != "escape.safetensors":  # a good 8 KB file
            shutil.copy(os.path.join(ROOT, "bad", name), os.path.join(seeds, "bad_" + name))


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    llama, ds = write_good_models()
    write_bad_files()
    write_bad_folders(llama, ds)
    write_fuzz_seeds()
    print(f"wrote {ROOT}", file=sys.stderr)


if __name__ == "__main__":
    main()
