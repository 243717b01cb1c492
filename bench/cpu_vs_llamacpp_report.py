#!/usr/bin/python3
"""Summarizes the raw runs of bench/cpu_vs_llamacpp.sh into one JSON file and a Markdown table.

usage: cpu_vs_llamacpp_report.py RAW_DIR OUT_JSON THREADS PP TG MODEL.gguf...
RAW_DIR holds <name>.mx.<round>.json (mxserve bench --json), <name>.llama.<round>.json
(llama-bench -o json), bandwidth (one GB/s per line), load_start, load_end.
"""
import datetime
import glob
import json
import os
import platform
import statistics
import struct
import sys

# GGUF tensor types: (elements per block, bytes per block).
GGML_TYPES = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24),
              8: (32, 34), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
              14: (256, 210), 30: (1, 2)}


def gguf_tensors(path):
    """({name: bytes} of every tensor, {key: value} of the integer metadata) of a GGUF file
    (header only)."""
    with open(path, "rb") as f:
        def u32(): return struct.unpack("<I", f.read(4))[0]
        def u64(): return struct.unpack("<Q", f.read(8))[0]
        def string(): return f.read(u64()).decode("utf-8", "replace")
        scalar = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

        ints = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 10: "<Q", 11: "<q"}

        def skip_value(vtype):
            if vtype == 8:
                string()
            elif vtype == 9:
                inner, count = u32(), u64()
                for _ in range(count):
                    skip_value(inner)
            elif vtype in ints:
                return struct.unpack(ints[vtype], f.read(scalar[vtype]))[0]
            else:
                f.read(scalar[vtype])
            return None
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        u32()
        n_tensors, n_kv = u64(), u64()
        metadata = {}
        for _ in range(n_kv):
            key = string()
            value = skip_value(u32())
            if value is not None:
                metadata[key] = value
        sizes = {}
        for _ in range(n_tensors):
            name = string()
            dims = [u64() for _ in range(u32())]
            ttype = u32()
            u64()
            elems = 1
            for d in dims:
                elems *= d
            block, nbytes = GGML_TYPES[ttype]
            sizes[name] = elems // block * nbytes
        return sizes, metadata


def bytes_per_token(path):
    """Weight bytes one decode step reads: layers + output matrix (tied: the embedding). For
    mixture-of-experts models only the active experts count: each stacked expert tensor
    (ffn_*_exps) contributes expert_used_count / expert_count of its bytes."""
    sizes, metadata = gguf_tensors(path)
    count = next((v for k, v in metadata.items() if k.endswith(".expert_count")), 0)
    used = next((v for k, v in metadata.items() if k.endswith(".expert_used_count")), 0)
    active = used / count if count else 1.0

    def layer_bytes(name, nbytes):
        return nbytes * active if "_exps." in name else nbytes
    total = sum(layer_bytes(k, v) for k, v in sizes.items() if k.startswith("blk."))
    total += sizes.get("output.weight", sizes.get("token_embd.weight", 0))
    total += sizes.get("output_norm.weight", 0)
    return total


def mx_samples(raw, name, test):
    out = []
    for p in sorted(glob.glob(f"{raw}/{name}.mx.*.json")):
        with open(p) as f:
            out += json.load(f)["results"][test]["samples"]
    return out


def llama_samples(raw, name, pp, tg):
    out = {"pp": [], "tg": []}
    for p in sorted(glob.glob(f"{raw}/{name}.llama.*.json")):
        with open(p) as f:
            for rec in json.load(f):
                key = "pp" if rec["n_gen"] == 0 and rec["n_prompt"] == pp else (
                    "tg" if rec["n_prompt"] == 0 and rec["n_gen"] == tg else None)
                if key:
                    out[key] += rec["samples_ts"]
    return out


def main():
    raw, out_path, threads, pp, tg = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        int(sys.argv[4]), int(sys.argv[5])
    models = sys.argv[6:]
    with open(f"{raw}/bandwidth") as f:
        bws = [float(x) for x in f.read().split()]
    bw = statistics.median(bws)
    rows = []
    for model in models:
        name = os.path.basename(model)[:-len(".gguf")]
        mx_pp, mx_tg = mx_samples(raw, name, f"pp{pp}"), mx_samples(raw, name, f"tg{tg}")
        ll = llama_samples(raw, name, pp, tg)
        bpt = bytes_per_token(model)
        roof = bw * 1e9 / bpt
        r = {"model": name, "file": model, "weight_bytes_per_token": bpt,
             "roofline_tg_tokens_per_s": round(roof, 2)}
        for engine, pps, tgs in (("mxserve", mx_pp, mx_tg), ("llama.cpp", ll["pp"], ll["tg"])):
            r[engine] = {f"pp{pp}": round(statistics.median(pps), 2),
                         f"tg{tg}": round(statistics.median(tgs), 2),
                         f"pp{pp}_samples": [round(x, 2) for x in pps],
                         f"tg{tg}_samples": [round(x, 2) for x in tgs],
                         "tg_roofline_fraction": round(statistics.median(tgs) / roof, 3)}
        r["ratio"] = {t: round(r["mxserve"][t] / r["llama.cpp"][t], 2)
                      for t in (f"pp{pp}", f"tg{tg}")}
        rows.append(r)
    with open(f"{raw}/load_start") as f:
        load_start = float(f.read())
    with open(f"{raw}/load_end") as f:
        load_end = float(f.read())
    result = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
              "host": platform.node(), "threads": threads, "pp": pp, "tg": tg,
              "load_average_start": load_start, "load_average_end": load_end,
              "bandwidth_gb_s_median": bw, "bandwidth_gb_s_samples": bws, "models": rows}
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"| model | mxserve pp{pp} | llama.cpp pp{pp} | ratio | mxserve tg{tg} | "
          f"llama.cpp tg{tg} | ratio | tg roofline | mxserve / llama.cpp of roofline |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        m, ll = r["mxserve"], r["llama.cpp"]
        print(f"| {r['model']} | {m[f'pp{pp}']} | {ll[f'pp{pp}']} | {r['ratio'][f'pp{pp}']} | "
              f"{m[f'tg{tg}']} | {ll[f'tg{tg}']} | {r['ratio'][f'tg{tg}']} | "
              f"{r['roofline_tg_tokens_per_s']} | {m['tg_roofline_fraction']} / "
              f"{ll['tg_roofline_fraction']} |")
    print(f"\nbandwidth {bw} GB/s (median of {len(bws)}), load average {load_start} -> "
          f"{load_end}; written to {out_path}")


if __name__ == "__main__":
    main()
