"""GLM-4.5 (glm4_moe) reference forward (float64 PyTorch), used by forward.py.

Follows transformers' Glm4Moe modeling (Glm4MoeAttention, Glm4MoeMoE, Glm4MoeTopkRouter),
written independently of mxserve:
  - attention: q/k/v projections with biases when attention_bias (o_proj without); when
    use_qk_norm an RMSNorm over each q and k head (before RoPE); rotary embedding on the first
    int(head_dim * partial_rotary_factor) dims of each head with inv_freq computed over that
    width, rotate-half within them, the rest passed through; GQA; softmax scale head_dim^-0.5;
  - FFN: dense SwiGLU MLP (intermediate_size) in the first first_k_dense_replace layers; then
    the MoE: router logits h W^T (float32 in transformers, float64 here), scores = sigmoid;
    choice = scores + e_score_correction_bias; groups scored by the sum of their top-2 choice
    scores, the best topk_group kept (others masked); top-k by choice; weights = scores (no bias)
    of the chosen, divided by their sum (+1e-20) when norm_topk_prob, times
    routed_scaling_factor; plus the shared experts' MLP (n_shared_experts * moe_intermediate).
  - Only model.layers.0 .. num_hidden_layers-1 run in forward(): the num_nextn_predict_layers
    MTP layers stored after them are not part of Glm4MoeModel (transformers ignores them on
    load); mtp_forward() runs the first one as DeepSeek-V3's MTP module.
"""
import math

import torch

from forward_deepseek import mtp_from_hidden


def mlp(h, w, prefix):
    gate = h @ w[prefix + "gate_proj.weight"].T
    up = h @ w[prefix + "up_proj.weight"].T
    return (torch.nn.functional.silu(gate) * up) @ w[prefix + "down_proj.weight"].T


def route(config, w, p, h):
    """Glm4MoeMoE.route_tokens_to_experts: (expert ids [n, k], weights [n, k])."""
    scores = (h @ w[p + "mlp.gate.weight"].T).sigmoid()
    n_experts = scores.shape[-1]
    choice = scores + w[p + "mlp.gate.e_score_correction_bias"]
    groups, keep = config.get("n_group", 1), config.get("topk_group", 1)
    grouped = choice.view(len(h), groups, n_experts // groups)
    group_scores = grouped.topk(min(2, n_experts // groups), dim=-1).values.sum(-1)
    kept = group_scores.topk(keep, dim=-1).indices
    mask = torch.zeros_like(group_scores, dtype=torch.bool).scatter_(1, kept, True)
    mask = mask.repeat_interleave(n_experts // groups, dim=1)
    choice = choice.masked_fill(~mask, 0.0)  # transformers fills 0.0
    ids = choice.topk(config["num_experts_per_tok"], dim=-1).indices
    weights = scores.gather(1, ids)
    if config.get("norm_topk_prob", True):
        weights = weights / (weights.sum(-1, keepdim=True) + 1e-20)
    return ids, weights * config.get("routed_scaling_factor", 1.0)


def moe(config, w, p, h):
    ids, weights = route(config, w, p, h)
    out = torch.zeros_like(h)
    for e in range(config["n_routed_experts"]):
        token, slot = torch.where(ids == e)
        if len(token) == 0:
            continue
        y = mlp(h[token], w, f"{p}mlp.experts.{e}.")
        out.index_add_(0, token, y * weights[token, slot, None])
    return out + mlp(h, w, p + "mlp.shared_experts.")


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_partial_rope(x, cos, sin):
    """x [n, heads, head_dim]; cos/sin [n, rotary_dim] (the two halves repeated)."""
    rotary = cos.shape[-1]
    x_rot, x_pass = x[..., :rotary], x[..., rotary:]
    x_rot = x_rot * cos[:, None, :] + rotate_half(x_rot) * sin[:, None, :]
    return torch.cat((x_rot, x_pass), dim=-1)


def attention(config, w, p, h, cos, sin, mask, rms_norm):
    n = len(h)
    n_heads = config["num_attention_heads"]
    n_kv = config["num_key_value_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // n_heads
    eps = config["rms_norm_eps"]
    a = p + "self_attn."

    def proj(name, heads):
        out = h @ w[a + name + ".weight"].T
        bias = w.get(a + name + ".bias")
        return (out if bias is None else out + bias).view(n, heads, head_dim)

    q, k, v = proj("q_proj", n_heads), proj("k_proj", n_kv), proj("v_proj", n_kv)
    if config.get("use_qk_norm", False):
        q = rms_norm(q, w[a + "q_norm.weight"], eps)
        k = rms_norm(k, w[a + "k_norm.weight"], eps)
    q, k = apply_partial_rope(q, cos, sin), apply_partial_rope(k, cos, sin)
    k = k.repeat_interleave(n_heads // n_kv, dim=1)
    v = v.repeat_interleave(n_heads // n_kv, dim=1)
    scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(head_dim) + mask
    out = torch.einsum("hqk,khd->qhd", scores.softmax(-1), v).reshape(n, n_heads * head_dim)
    return out @ w[a + "o_proj.weight"].T


def partial_rotary_factor(config):
    if "partial_rotary_factor" in config:
        return config["partial_rotary_factor"]
    return (config.get("rope_parameters") or {}).get("partial_rotary_factor", 0.5)


class Stack:
    """The decoder layers over n positions (RoPE tables and the causal mask built once)."""

    def __init__(self, config, n, rms_norm, rope_inv_freq):
        self.config, self.rms_norm, self.eps = config, rms_norm, config["rms_norm_eps"]
        head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
        rotary_dim = int(head_dim * partial_rotary_factor(config))
        inv_freq, attn_factor = rope_inv_freq(config, rotary_dim)
        angles = torch.outer(torch.arange(n, dtype=torch.float64), inv_freq)
        emb = torch.cat((angles, angles), dim=-1)
        self.cos, self.sin = emb.cos() * attn_factor, emb.sin() * attn_factor
        self.mask = torch.full((n, n), float("-inf"), dtype=torch.float64).triu(1)

    def layer(self, w, layer, x):
        config, rms_norm, eps = self.config, self.rms_norm, self.eps
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        x = x + attention(config, w, p, h, self.cos, self.sin, self.mask, rms_norm)
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        first_moe = config.get("first_k_dense_replace", 0)
        return x + (moe(config, w, p, h) if layer >= first_moe else mlp(h, w, p + "mlp."))


def hidden_states(config, w, tokens, stack):
    """The final hidden state of every position, before the output norm."""
    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    for layer in range(config["num_hidden_layers"]):
        x = stack.layer(w, layer, x)
    return x


def forward(config, w, tokens, rms_norm, rope_inv_freq):
    stack = Stack(config, len(tokens), rms_norm, rope_inv_freq)
    x = rms_norm(hidden_states(config, w, tokens, stack), w["model.norm.weight"],
                 config["rms_norm_eps"])
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ head.T


def mtp_forward(config, w, tokens, rms_norm, rope_inv_freq):
    """GLM-4.5's MTP layer (model.layers.{num_hidden_layers}): the same module as DeepSeek-V3's
    (forward_deepseek.mtp_from_hidden) around a GLM decoder layer run at position i."""
    n = len(tokens)
    h = hidden_states(config, w, tokens, Stack(config, n, rms_norm, rope_inv_freq))[:-1]
    short = Stack(config, n - 1, rms_norm, rope_inv_freq)
    return mtp_from_hidden(config, w, tokens, h, lambda x, layer: short.layer(w, layer, x),
                           rms_norm)
