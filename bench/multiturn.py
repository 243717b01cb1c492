#!/usr/bin/python3
"""Multi-turn chat workload for the KV tiers: C conversations, T turns each, interleaved
round-robin (turn t of every conversation before turn t+1 of any), each turn = the whole history
(previous prompts and answers) + a new user message, sent to /v1/completions as one growing
text, streamed. Measures per request the time to first token (first streamed text) and the
cached prompt tokens the server reports. Prints one JSON object per request on stdout.

usage: multiturn.py --url http://127.0.0.1:8080 [--conversations 4 --turns 10
                    --user-words 160 --answer-tokens 32 --seed 1]
"""
import argparse
import http.client
import json
import random
import sys
import time
import urllib.parse

WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at "
         "which but have an they you were her she there been one all we their has would when "
         "cache block token server request memory disk answer question model time data system "
         "turn context history user reply price tier host read write").split()


def message(rng, n_words):
    return " ".join(rng.choice(WORDS) for _ in range(n_words)) + ".\n"


def complete(url, prompt, max_tokens):
    parsed = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=600)
    body = json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                       "stream": True, "stream_options": {"include_usage": True}})
    start = time.perf_counter()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    if response.status != 200:
        sys.exit(f"HTTP {response.status}: {response.read()[:300]!r}")
    ttft, text, usage = None, [], None
    for raw in response:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        if event.get("usage"):
            usage = event["usage"]
        for choice in event.get("choices", []):
            if choice.get("text"):
                if ttft is None:
                    ttft = time.perf_counter() - start
                text.append(choice["text"])
    e2e = time.perf_counter() - start
    conn.close()
    return "".join(text), ttft if ttft is not None else e2e, e2e, usage


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--conversations", type=int, default=4)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--user-words", type=int, default=160)
    parser.add_argument("--answer-tokens", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    histories = ["" for _ in range(args.conversations)]
    for turn in range(1, args.turns + 1):
        for conv in range(args.conversations):
            prompt = histories[conv] + "User: " + message(rng, args.user_words) + "Assistant:"
            text, ttft, e2e, usage = complete(args.url, prompt, args.answer_tokens)
            histories[conv] = prompt + text + "\n"
            details = (usage or {}).get("prompt_tokens_details") or {}
            print(json.dumps({"conversation": conv, "turn": turn,
                              "prompt_tokens": (usage or {}).get("prompt_tokens"),
                              "cached_tokens": details.get("cached_tokens"),
                              "ttft_s": round(ttft, 4), "e2e_s": round(e2e, 4)}), flush=True)


if __name__ == "__main__":
    main()
