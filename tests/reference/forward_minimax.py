"""MiniMax-M2 (minimax_m2) reference forward (float64 PyTorch), used by forward.py.

Follows the MiniMax-M2 modeling published with the checkpoint (MiniMaxM2Attention,
MiniMaxM2SparseMoeBlock), written independently of mxserve:
  - attention: q/k/v/o projections without biases; when use_qk_norm (qk_norm_type "per_layer")
    one RMSNorm over the whole flattened q [n_heads * head_dim] and one over the whole k
    [n_kv_heads * head_dim] (not per head), before RoPE; rotary embedding on the first rotary_dim
    dims of each head (inv_freq over that width), rotate-half within them, the rest passed
    through; GQA; softmax scale head_dim^-0.5; full attention in every layer;
  - FFN: every layer a sparse MoE block: router logits h W^T, scores = sigmoid (or softmax, per
    scoring_func); choice = scores + e_score_correction_bias (when use_routing_bias); top-k by
    choice; weights = scores (without bias) of the chosen, divided by their sum (clamped at
    1e-12), times routed_scaling_factor when the config has one; each expert
    w2(silu(w1 x) * w3 x); no shared expert.
"""
import torch


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotary_dim(config, head_dim):
    if config.get("rotary_dim"):
        return config["rotary_dim"]
    return int(head_dim * config.get("partial_rotary_factor", 1.0))


def rope(x, cos, sin):
    """x [n, heads, head_dim]; cos, sin [n, rotary] (both halves of the angles)."""
    r = cos.shape[-1]
    rotated = x[..., :r] * cos[:, None, :] + rotate_half(x[..., :r]) * sin[:, None, :]
    return torch.cat((rotated, x[..., r:]), dim=-1)


def attention(config, w, a, h, cos, sin, mask, rms_norm):
    n = len(h)
    n_heads, n_kv = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config["head_dim"]
    q = h @ w[a + "q_proj.weight"].T  # [n, n_heads * head_dim]
    k = h @ w[a + "k_proj.weight"].T  # [n, n_kv * head_dim]
    v = (h @ w[a + "v_proj.weight"].T).view(n, n_kv, head_dim)
    if config.get("use_qk_norm", True):
        q = rms_norm(q, w[a + "q_norm.weight"], config["rms_norm_eps"])
        k = rms_norm(k, w[a + "k_norm.weight"], config["rms_norm_eps"])
    q = rope(q.view(n, n_heads, head_dim), cos, sin)
    k = rope(k.view(n, n_kv, head_dim), cos, sin)
    group = n_heads // n_kv
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    scores = torch.einsum("qhd,khd->hqk", q, k) * head_dim ** -0.5 + mask
    out = torch.einsum("hqk,khd->qhd", scores.softmax(-1), v).reshape(n, n_heads * head_dim)
    return out @ w[a + "o_proj.weight"].T


def expert(w, prefix, x):
    gate = torch.nn.functional.silu(x @ w[prefix + "w1.weight"].T)
    return (gate * (x @ w[prefix + "w3.weight"].T)) @ w[prefix + "w2.weight"].T


def sparse_moe(config, w, b, h):
    logits = h @ w[b + "gate.weight"].T
    if config.get("scoring_func", "sigmoid") == "sigmoid":
        scores = logits.sigmoid()
    else:
        scores = logits.softmax(-1)
    choice = scores
    if config.get("use_routing_bias", True):
        choice = scores + w[b + "e_score_correction_bias"]
    ids = choice.topk(config["num_experts_per_tok"], dim=-1).indices
    weights = scores.gather(1, ids)
    weights = weights / weights.sum(-1, keepdim=True).clamp(min=1e-12)
    weights = weights * config.get("routed_scaling_factor", 1.0)
    out = torch.zeros_like(h)
    for e in range(config["num_local_experts"]):
        token, slot = torch.where(ids == e)
        if len(token):
            y = expert(w, f"{b}experts.{e}.", h[token])
            out.index_add_(0, token, y * weights[token, slot, None])
    return out


def forward(config, w, tokens, rms_norm, rope_inv_freq):
    n = len(tokens)
    eps = config["rms_norm_eps"]
    inv_freq, attn_factor = rope_inv_freq(config, rotary_dim(config, config["head_dim"]))
    angles = torch.outer(torch.arange(n, dtype=torch.float64), inv_freq)
    emb = torch.cat((angles, angles), dim=-1)
    cos, sin = emb.cos() * attn_factor, emb.sin() * attn_factor
    mask = torch.full((n, n), float("-inf"), dtype=torch.float64).triu(1)
    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        x = x + attention(config, w, p + "self_attn.", h, cos, sin, mask, rms_norm)
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        x = x + sparse_moe(config, w, p + "block_sparse_moe.", h)
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ head.T

