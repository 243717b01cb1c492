"""DeepSeek-V2/V3 reference forward (float64 PyTorch), used by forward.py.

Follows transformers' DeepseekV2/V3 modeling, written independently of mxserve:
  - MLA in its plain form: q = q_b(rmsnorm(q_a(h))) (or q_proj(h)), [c | k_pe] = kv_a(h),
    c = rmsnorm(c), [k_nope | v] = kv_b(c) per head, interleaved RoPE on q_pe / k_pe (pairs
    (2i, 2i+1)), softmax scale qk_head_dim^-0.5 * mscale(factor, mscale_all_dim)^2 under YaRN;
  - MoE layers (from first_k_dense_replace on): gate logits h W^T, scores softmax (V2) or sigmoid
    (V3); choice scores + e_score_correction_bias (noaux_tc); groups scored by their max (V2
    group_limited_greedy) or the sum of their top-2 (V3 noaux_tc), the best topk_group kept;
    top-k experts; weights = scores (without bias) of the chosen, normalized when norm_topk_prob,
    times routed_scaling_factor (V3 always, V2 only when not normalized); plus shared experts.
    Experts outside the kept groups are excluded with -inf (transformers fills 0.0 there, which
    only differs when every in-group choice score is negative).
"""
import math

import torch


def rope_interleaved(x, cos, sin):
    """x [n, ..., d]: pairs (2i, 2i + 1) rotated by angle i; cos/sin [n, d/2] (broadcast)."""
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def mlp(h, w, prefix):
    gate = h @ w[prefix + "gate_proj.weight"].T
    up = h @ w[prefix + "up_proj.weight"].T
    return (torch.nn.functional.silu(gate) * up) @ w[prefix + "down_proj.weight"].T


def route(config, w, p, h):
    """(expert ids [n, k], weights [n, k]) of each token."""
    logits = h @ w[p + "mlp.gate.weight"].T
    n_experts = logits.shape[-1]
    sigmoid = config.get("scoring_func", "softmax") == "sigmoid"
    scores = logits.sigmoid() if sigmoid else logits.softmax(-1)
    method = config.get("topk_method", "greedy")
    choice = scores.clone()
    bias = w.get(p + "mlp.gate.e_score_correction_bias")
    if bias is not None:
        choice = choice + bias
    groups, keep = config.get("n_group") or 1, config.get("topk_group") or 1
    if method != "greedy" and groups > 1:
        grouped = choice.view(len(h), groups, n_experts // groups)
        if method == "noaux_tc":
            group_scores = grouped.topk(2, dim=-1).values.sum(-1)
        else:
            group_scores = grouped.max(-1).values
        kept = group_scores.topk(keep, dim=-1).indices
        mask = torch.zeros_like(group_scores, dtype=torch.bool).scatter_(1, kept, True)
        mask = mask.repeat_interleave(n_experts // groups, dim=1)
        choice = choice.masked_fill(~mask, float("-inf"))
    top_k = config["num_experts_per_tok"]
    ids = choice.topk(top_k, dim=-1).indices
    weights = scores.gather(1, ids)
    normalize = config.get("norm_topk_prob", False)
    scaling = config.get("routed_scaling_factor", 1.0)
    if normalize and top_k > 1:
        weights = weights / (weights.sum(-1, keepdim=True) + 1e-20)
        if config["model_type"] == "deepseek_v3":
            weights = weights * scaling
    else:
        weights = weights * scaling
    return ids, weights


def moe(config, w, p, h):
    ids, weights = route(config, w, p, h)
    out = torch.zeros_like(h)
    for t in range(len(h)):
        for k in range(ids.shape[1]):
            e = int(ids[t, k])
            out[t] += weights[t, k] * mlp(h[t:t + 1], w, f"{p}mlp.experts.{e}.")[0]
    if config.get("n_shared_experts"):
        out = out + mlp(h, w, p + "mlp.shared_experts.")
    return out


KV_STORE = {"quantize": lambda x: x}  # what the cache does to a latent row (forward.py --kv-int8)


def attention(config, w, p, h, cos, sin, scale, mask, rms_norm, eps):
    n, n_heads = len(h), config["num_attention_heads"]
    nope, rope = config["qk_nope_head_dim"], config["qk_rope_head_dim"]
    v_dim, rank = config["v_head_dim"], config["kv_lora_rank"]
    a = p + "self_attn."
    if config.get("q_lora_rank"):
        q = rms_norm(h @ w[a + "q_a_proj.weight"].T, w[a + "q_a_layernorm.weight"], eps)
        q = q @ w[a + "q_b_proj.weight"].T
    else:
        q = h @ w[a + "q_proj.weight"].T
    q = q.view(n, n_heads, nope + rope)
    q_nope, q_pe = q[..., :nope], q[..., nope:]
    ckv = h @ w[a + "kv_a_proj_with_mqa.weight"].T
    c, k_pe = ckv[:, :rank], ckv[:, rank:]
    c = rms_norm(c, w[a + "kv_a_layernorm.weight"], eps)
    # The cached row is [c | roped k_pe]; the stored values feed everything after.
    cached = KV_STORE["quantize"](torch.cat((c, rope_interleaved(k_pe, cos, sin)), -1))
    c, k_pe_roped = cached[:, :rank], cached[:, rank:]
    kv = (c @ w[a + "kv_b_proj.weight"].T).view(n, n_heads, nope + v_dim)
    k_nope, v = kv[..., :nope], kv[..., nope:]
    q_pe = rope_interleaved(q_pe, cos[:, None, :], sin[:, None, :])
    k_pe = k_pe_roped[:, None, :].expand(n, n_heads, rope)
    q = torch.cat((q_nope, q_pe), -1)
    k = torch.cat((k_nope, k_pe), -1)
    scores = torch.einsum("qhd,khd->hqk", q, k) * scale + mask
    out = torch.einsum("hqk,khd->qhd", scores.softmax(-1), v).reshape(n, n_heads * v_dim)
    return out @ w[a + "o_proj.weight"].T


class Stack:
    """RoPE tables, softmax scale and causal mask for n positions; runs decoder layers."""

    def __init__(self, config, n, rms_norm, rope_inv_freq, yarn_mscale):
        self.config, self.rms_norm, self.eps = config, rms_norm, config["rms_norm_eps"]
        rope = config["qk_rope_head_dim"]
        inv_freq, attn_factor = rope_inv_freq(config, rope)
        angles = torch.outer(torch.arange(n, dtype=torch.float64), inv_freq)
        self.cos, self.sin = angles.cos() * attn_factor, angles.sin() * attn_factor
        self.scale = (config["qk_nope_head_dim"] + rope) ** -0.5
        scaling = config.get("rope_scaling") or {}
        if scaling.get("rope_type", scaling.get("type")) == "yarn" and scaling.get("mscale_all_dim"):
            m = yarn_mscale(scaling["factor"], scaling["mscale_all_dim"])
            self.scale = self.scale * m * m
        self.mask = torch.full((n, n), float("-inf"), dtype=torch.float64).triu(1)

    def layer(self, w, layer, x):
        config, rms_norm, eps = self.config, self.rms_norm, self.eps
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        x = x + attention(config, w, p, h, self.cos, self.sin, self.scale, self.mask, rms_norm, eps)
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        has_moe = config.get("n_routed_experts") is not None
        if has_moe and layer >= config.get("first_k_dense_replace", 0):
            return x + moe(config, w, p, h)
        return x + mlp(h, w, p + "mlp.")


def hidden_states(config, w, tokens, stack):
    """The final hidden state of every position, before the output norm."""
    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    for layer in range(config["num_hidden_layers"]):
        x = stack.layer(w, layer, x)
    return x


def forward(config, w, tokens, rms_norm, rope_inv_freq, yarn_mscale):
    stack = Stack(config, len(tokens), rms_norm, rope_inv_freq, yarn_mscale)
    x = rms_norm(hidden_states(config, w, tokens, stack), w["model.norm.weight"],
                 config["rms_norm_eps"])
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ head.T


def mtp_from_hidden(config, w, tokens, h, layer_fn, rms_norm):
    """The MTP module on the main model's hidden states h [n - 1, d] (row i: position i):
      x = eh_proj([enorm(embed(t_{i+1})) | hnorm(h_i)]); x = layer_fn(x, layer);
      logits = shared_head.head(shared_head.norm(x))
    embed_tokens / shared_head.head fall back to the main model's when the folder omits them."""
    eps = config["rms_norm_eps"]
    layer = config["num_hidden_layers"]
    p = f"model.layers.{layer}."
    embed = w.get(p + "embed_tokens.weight", w["model.embed_tokens.weight"])
    e = embed[torch.tensor(tokens[1:])]
    x = torch.cat((rms_norm(e, w[p + "enorm.weight"], eps), rms_norm(h, w[p + "hnorm.weight"], eps)),
                  -1) @ w[p + "eh_proj.weight"].T
    x = rms_norm(layer_fn(x, layer), w[p + "shared_head.norm.weight"], eps)
    head = w.get(p + "shared_head.head.weight",
                 w.get("lm_head.weight", w["model.embed_tokens.weight"]))
    return x @ head.T


def mtp_forward(config, w, tokens, rms_norm, rope_inv_freq, yarn_mscale):
    """DeepSeek-V3's multi-token prediction module (model.layers.{num_hidden_layers}, as in its
    official inference code): row i (i < n - 1) predicts token i + 2 from the main model's
    hidden state h_i and the embedding of token i + 1, the layer run at position i."""
    n = len(tokens)
    stack = Stack(config, n, rms_norm, rope_inv_freq, yarn_mscale)
    h = hidden_states(config, w, tokens, stack)[:-1]
    short = Stack(config, n - 1, rms_norm, rope_inv_freq, yarn_mscale)
    return mtp_from_hidden(config, w, tokens, h, lambda x, layer: short.layer(w, layer, x),
                           rms_norm)
