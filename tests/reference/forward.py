#!/usr/bin/python3
"""Independent reference forward pass for mxserve's architectures (llama, qwen2, qwen3, qwen3_moe,
deepseek_v2/v3, glm4_moe, minimax_m2).

Reads a Hugging Face model folder (config.json + safetensors, parsed here by hand: the format is
an 8-byte header length, a JSON header and raw little-endian data) and computes the logits of
every position of a token sequence with PyTorch in float64, following the transformers modeling
code's definitions (RMSNorm, rotate-half RoPE with its rope_scaling variants, GQA attention, SwiGLU
MLP; for qwen3_moe the sparse MoE block of Qwen3MoeSparseMoeBlock: softmax router, top-k experts,
optional renormalization, a loop over experts; for deepseek_v2/v3 (forward_deepseek.py)
transformers' DeepseekV2/V3 modeling: multi-head latent attention in its plain (decompressed)
form, interleaved RoPE with YaRN and mscale, the MoE gate with softmax or sigmoid scores,
score-correction bias, group-limited top-k, normalization and routed scaling, and shared
experts; for glm4_moe (forward_glm4moe.py) transformers' Glm4Moe modeling: q/k/v biases, per-head
q/k norm, partial rotary, leading dense layers, sigmoid router with bias and shared experts, MTP
layers not run; for minimax_m2 (forward_minimax.py) MiniMax-M2's modeling: q/k RMSNorm over the
whole q and k widths, partial rotary, sigmoid router with score bias, normalized top-k, no shared
expert). FP8 (F8_E4M3) weights are dequantized with their weight_scale_inv block scales.
It shares no code with mxserve.

usage: forward.py --model DIR --tokens 1,2,3 --out logits.f32 [--kv-int8]  # [n_tokens, vocab] f32
       forward.py --mtp ...  # deepseek_v3 / glm4_moe MTP module (mtp_forward), [n - 1, vocab]
--kv-int8 rounds what a KV cache stores (K after RoPE and V per token and KV head; for MLA the
latent row [c | k_rope]) to symmetric int8 with one scale per row, absmax / 127 (the definition
of mxserve's --kv-type int8), and computes on with those values.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forward_deepseek as deepseek  # noqa: E402
import forward_glm4moe as glm4moe  # noqa: E402
import forward_minimax as minimax  # noqa: E402

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": None,
          "I32": np.int32, "I64": np.int64, "F8_E4M3": None}


def e4m3_values(codes):
    """OCP FP8 E4M3 (e4m3fn): sign, 4 exponent bits (bias 7), 3 mantissa bits; 0x7F/0xFF NaN."""
    codes = codes.astype(np.int64)
    sign = np.where(codes & 0x80, -1.0, 1.0)
    exp = (codes >> 3) & 0xF
    man = codes & 0x7
    normal = (1.0 + man / 8.0) * np.power(2.0, exp - 7)
    subnormal = (man / 8.0) * 2.0 ** -6
    values = sign * np.where(exp == 0, subnormal, normal)
    return np.where((codes & 0x7F) == 0x7F, np.nan, values)


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[base + begin: base + end]
        if info["dtype"] == "BF16":
            u16 = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            array = u16.view(np.float32)
        elif info["dtype"] == "F8_E4M3":
            array = e4m3_values(np.frombuffer(raw, dtype=np.uint8))
        else:
            array = np.frombuffer(raw, dtype=DTYPES[info["dtype"]])
        tensors[name] = torch.from_numpy(array.astype(np.float64).reshape(info["shape"]))
    return tensors


def load_model(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        for shard in shards:
            tensors.update(load_safetensors(os.path.join(folder, shard)))
    else:
        tensors = load_safetensors(os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    block = (config.get("quantization_config") or {}).get("weight_block_size", [128, 128])
    for name in [n for n in tensors if n.endswith(".weight_scale_inv")]:
        scale = tensors.pop(name)
        weight = name[: -len("_scale_inv")]
        full = scale.repeat_interleave(block[0], 0).repeat_interleave(block[1], 1)
        rows, cols = tensors[weight].shape
        tensors[weight] = tensors[weight] * full[:rows, :cols]
    return config, tensors


def rope_inv_freq(config, rotary_dim):
    """inv_freq and the attention scaling factor, as transformers' rope init functions."""
    base = config.get("rope_theta", 10000.0)
    inv_freq = 1.0 / (base ** (torch.arange(0, rotary_dim, 2, dtype=torch.float64) / rotary_dim))
    scaling = config.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    attention_factor = 1.0
    if kind == "linear":
        inv_freq = inv_freq / scaling["factor"]
    elif kind == "llama3":
        factor = scaling["factor"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        old_ctx = scaling["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
        smooth = (old_ctx / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        inv_freq = torch.where(medium, smoothed, scaled)
    elif kind == "yarn":
        factor = scaling["factor"]
        old_ctx = scaling.get("original_max_position_embeddings",
                              config["max_position_embeddings"])
        attention_factor = scaling.get("attention_factor") or (0.1 * math.log(factor) + 1.0)
        mscale, mscale_all = scaling.get("mscale"), scaling.get("mscale_all_dim")
        if not scaling.get("attention_factor") and mscale and mscale_all:
            attention_factor = yarn_mscale(factor, mscale) / yarn_mscale(factor, mscale_all)
        beta_fast, beta_slow = scaling.get("beta_fast", 32), scaling.get("beta_slow", 1)

        def correction_dim(rotations):
            return (rotary_dim * math.log(old_ctx / (rotations * 2 * math.pi))) / (2 * math.log(base))

        low = max(math.floor(correction_dim(beta_fast)), 0)
        high = min(math.ceil(correction_dim(beta_slow)), rotary_dim - 1)
        if low == high:
            high += 0.001
        ramp = ((torch.arange(rotary_dim // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
        extrapolation = 1 - ramp
        inv_freq = (inv_freq / factor) * (1 - extrapolation) + inv_freq * extrapolation
    elif kind != "default":
        sys.exit(f"forward.py: unsupported rope_scaling type {kind}")
    return inv_freq, attention_factor


def yarn_mscale(factor, mscale):
    return 1.0 if factor <= 1 else 0.1 * mscale * math.log(factor) + 1.0


def rms_norm(x, weight, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def mlp(w, prefix, h):
    gate = h @ w[prefix + "gate_proj.weight"].T
    up = h @ w[prefix + "up_proj.weight"].T
    return (torch.nn.functional.silu(gate) * up) @ w[prefix + "down_proj.weight"].T


def sparse_moe(config, w, p, h):
    """transformers' Qwen3MoeSparseMoeBlock: route each token to its top-k experts."""
    router_logits = h @ w[p + "mlp.gate.weight"].T
    probs = router_logits.softmax(-1)
    weights, experts = torch.topk(probs, config["num_experts_per_tok"], dim=-1)
    if config.get("norm_topk_prob", False):
        weights = weights / weights.sum(-1, keepdim=True)
    out = torch.zeros_like(h)
    for e in range(config["num_experts"]):
        token, slot = torch.where(experts == e)
        if len(token) == 0:
            continue
        y = mlp(w, p + f"mlp.experts.{e}.", h[token])
        out.index_add_(0, token, y * weights[token, slot, None])
    return out


def kv_int8(x):
    """Rows (last dim) rounded to int8 steps of absmax / 127, ties to even; zero rows stay zero."""
    scale = x.abs().amax(-1, keepdim=True) / 127.0
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.where(scale > 0, torch.round(x / safe).clamp(-127, 127) * scale, x)


KV_STORE = {"quantize": lambda x: x}  # what the cache does to a stored row (--kv-int8: kv_int8)


def forward(config, w, tokens):
    arch = config["model_type"]
    if arch in ("deepseek_v2", "deepseek_v3"):
        return deepseek.forward(config, w, tokens, rms_norm, rope_inv_freq, yarn_mscale)
    if arch == "glm4_moe":
        return glm4moe.forward(config, w, tokens, rms_norm, rope_inv_freq)
    if arch == "minimax_m2":
        return minimax.forward(config, w, tokens, rms_norm, rope_inv_freq)
    d_model = config["hidden_size"]
    n_heads = config["num_attention_heads"]
    n_kv = config.get("num_key_value_heads", n_heads)
    head_dim = config.get("head_dim") or d_model // n_heads
    eps = config["rms_norm_eps"]
    n = len(tokens)
    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    inv_freq, attn_factor = rope_inv_freq(config, head_dim)
    angles = torch.outer(torch.arange(n, dtype=torch.float64), inv_freq)
    emb = torch.cat((angles, angles), dim=-1)
    cos, sin = emb.cos() * attn_factor, emb.sin() * attn_factor
    mask = torch.full((n, n), float("-inf"), dtype=torch.float64).triu(1)
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)

        def proj(name):
            out = h @ w[p + f"self_attn.{name}.weight"].T
            bias = w.get(p + f"self_attn.{name}.bias")
            return out if bias is None else out + bias

        q = proj("q_proj").view(n, n_heads, head_dim)
        k = proj("k_proj").view(n, n_kv, head_dim)
        v = proj("v_proj").view(n, n_kv, head_dim)
        if arch in ("qwen3", "qwen3_moe"):
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q = q * cos[:, None, :] + rotate_half(q) * sin[:, None, :]
        k = k * cos[:, None, :] + rotate_half(k) * sin[:, None, :]
        k, v = KV_STORE["quantize"](k), KV_STORE["quantize"](v)
        group = n_heads // n_kv
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(head_dim) + mask
        attn = torch.einsum("hqk,khd->qhd", scores.softmax(-1), v).reshape(n, n_heads * head_dim)
        x = x + attn @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        if arch == "qwen3_moe":
            if config.get("decoder_sparse_step", 1) != 1 or config.get("mlp_only_layers"):
                sys.exit("forward.py: qwen3_moe with dense layers is not supported")
            x = x + sparse_moe(config, w, p, h)
        else:
            x = x + mlp(w, p + "mlp.", h)
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ head.T


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokens", required=True, help="comma-separated token ids")
    parser.add_argument("--out", required=True)
    parser.add_argument("--kv-int8", action="store_true", help="int8 KV cache rows (see above)")
    parser.add_argument("--mtp", action="store_true",
                        help="deepseek_v3 / glm4_moe: the MTP module's logits instead, [n_tokens - 1, vocab]")
    args = parser.parse_args()
    if args.kv_int8:
        KV_STORE["quantize"] = kv_int8
        deepseek.KV_STORE["quantize"] = kv_int8
    config, weights = load_model(args.model)
    tokens = [int(t) for t in args.tokens.split(",") if t]
    if args.mtp and config.get("model_type") == "glm4_moe":
        logits = glm4moe.mtp_forward(config, weights, tokens, rms_norm, rope_inv_freq)
    elif args.mtp:
        logits = deepseek.mtp_forward(config, weights, tokens, rms_norm, rope_inv_freq, yarn_mscale)
    else:
        logits = forward(config, weights, tokens)
    logits.to(torch.float32).numpy().tofile(args.out)


if __name__ == "__main__":
    main()
