#!/usr/bin/python3
"""`mxserve quantize` end to end: W8A8 (and Q8_0) models made from f32 test models, against the
independent PyTorch reference (forward.py) on the f32 weights.

For every dense architecture: a tiny random-weight f32 model in both formats (HF folder, GGUF
file) from mxserve's own tool, quantized with `mxserve quantize --type w8a8` from each (the HF
path also covers llama's Q/K row permutation to GGUF order and the tokenizer export) and with
`--type q8_0` from the GGUF; each output is loaded by `mxserve logits` and compared with the
reference logits of the f32 folder: RMS error relative to the logits' standard deviation and
top-1 agreement (check_logits.py explains why these models are sensitive). Bounds below.
usage: check_w8a8.py MXSERVE_BINARY WORK_DIR
"""
import os
import re
import subprocess
import sys

import numpy as np

from check_logits import HERE, NODE, TOKENIZERS, TOKENS, compare, logits, run

# (max RMS error / std, min top-1 agreement) against the f32 reference.
# Measured (2026-11-23): w8a8 0.036-0.069 and top-1 0.80-0.90; q8_0 0.028-0.050 and 0.90-0.95.
# W8A8 is a little further off than q8_0 here: one scale per weight row and per token is
# coarser than one per 32 elements, and these random models have no outlier structure that
# per-channel scales would help with. A wrong scale, a missing offset correction or permuted
# rows give ~1.4 (uncorrelated logits).
BOUNDS = {"w8a8": (0.12, 0.7), "q8_0": (0.08, 0.8)}
# `perplexity --kl-divergence` of the w8a8 model against the f32 base on 2 chunks of 64 tokens
# of docs/architecture.md: (max mean KLD, min same-top-token %). Measured on qwen3 (4 chunks of
# 128): KLD 0.011, same top 82%. The f32 model against itself must give 0 and 100%.
KLD_BOUNDS = (0.05, 60.0)


def kld_report(binary, model, base):
    result = subprocess.run([binary, "perplexity", "-m", model, "--kl-divergence", base],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"FAILED: perplexity --kl-divergence on {model}\n{result.stderr}")
    kld = float(re.search(r"KLD mean\s*=\s*([-0-9.e+]+)", result.stdout).group(1))
    same = float(re.search(r"same top token\s*=\s*([-0-9.e+]+)", result.stdout).group(1))
    return kld, same


def check_kld(binary, work, f32_model, w8a8_model):
    text = os.path.join(HERE, "..", "..", "docs", "architecture.md")
    base = os.path.join(work, "base.kld")
    run([binary, "perplexity", "-m", f32_model, "-f", text, "-c", "64", "--chunks", "2",
         "--kl-divergence-base", base])
    ok = True
    for name, model, (max_kld, min_same) in (("f32 vs itself", f32_model, (1e-6, 100.0)),
                                            ("w8a8 vs f32", w8a8_model, KLD_BOUNDS)):
        kld, same = kld_report(binary, model, base)
        good = kld <= max_kld and same >= min_same
        print(f"{'ok  ' if good else 'FAIL'} KL divergence {name}: mean {kld:.2e} "
              f"(bound {max_kld:g}), same top token {same:.1f}% (bound {min_same:g}%)")
        ok &= good
    return ok


def check_arch(binary, work, arch):
    tok_dir = f"{NODE}/{TOKENIZERS[arch]}/models"
    tokens = TOKENS[TOKENIZERS[arch]]
    base = os.path.join(work, arch)
    make = [binary, "make-test-model", "--arch", arch, "--tokenizer", tok_dir, "--seed", "7"]
    run(make + ["--format", "hf", "--type", "f32", "--out", base + "-hf-f32"])
    run(make + ["--type", "f32", "--out", base + "-f32.gguf"])
    ref_file = base + "-ref.f32"
    run(["/usr/bin/python3", os.path.join(HERE, "forward.py"), "--model", base + "-hf-f32",
         "--tokens", ",".join(map(str, tokens)), "--out", ref_file])
    ref = np.fromfile(ref_file, dtype=np.float32).reshape(len(tokens), -1)
    out = base + "-ours.f32"
    ok = True
    cases = [("w8a8", "gguf", base + "-f32.gguf"), ("w8a8", "hf", base + "-hf-f32"),
             ("q8_0", "gguf", base + "-f32.gguf")]
    for qtype, src_kind, src in cases:
        path = f"{base}-{src_kind}-{qtype}.gguf"
        run([binary, "quantize", "-m", src, "--type", qtype, "--out", path])
        ok &= compare(f"{arch} {qtype} quantized from {src_kind} f32",
                      logits(binary, path, tokens, out), ref, *BOUNDS[qtype], rms=True)
        if arch == "qwen3" and qtype == "w8a8" and src_kind == "gguf":
            ok &= check_kld(binary, work, base + "-f32.gguf", path)
        os.remove(path)
    return ok


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    results = [check_arch(binary, work, arch) for arch in ("qwen3", "qwen2", "llama")]
    if not all(results):
        sys.exit("quantized logits differ from the PyTorch reference beyond the stated bounds")
    print("all quantized logits match the PyTorch reference within the stated bounds")


if __name__ == "__main__":
    main()
