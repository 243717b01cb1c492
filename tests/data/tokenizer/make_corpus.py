#!/usr/bin/env python3
"""Writes corpus/corpus.jsonl: the texts the tokenizers are checked on, one JSON object per
line ({"name": ..., "text": ...}). Hand-written entries cover every script and the corner
cases of each pipeline stage (NFC, regex pre-splits, added tokens, byte fallback, whitespace).
Deterministic: rerun after editing and commit both files."""
import json
import os

E = []


def add(name, text):
    E.append({"name": name, "text": text})


add("empty", "")
add("single_space", " ")
add("single_newline", "\n")
add("hello", "Hello world")
add("leading_space", " leading space")
add("leading_spaces", "    four leading spaces")
add("trailing_spaces", "trailing spaces   ")
add("only_spaces", "          ")
add("space_runs", "a  b   c    d     e")
add("tabs", "col1\tcol2\t\tcol3\t")
add("newlines", "line1\nline2\n\nline4\n\n\n")
add("crlf", "line1\r\nline2\r\n\r\nline4\r\n")
add("cr_only", "old\rmac\r\rline")
add("mixed_ws", " \t \n \r\n\t\t  \n   x")
add("ws_before_newline", "text   \n   more  \t\n")
add("long_space_run", "start" + " " * 1000 + "end")
add("long_newline_run", "\n" * 300)
# Latin with diacritics (precomposed) and the same text decomposed (NFD): NFC matters.
add("latin_diacritics", "Crème brûlée à la française, naïve café, Ångström, Øresund, Straße, "
    "Łódź, Dvořák, Šťastný, Gödel, São Paulo, señor, Ærøskøbing, ĳzer, Œuvre")
add("latin_nfd", "Cre\u0300me bru\u0302le\u0301e a\u0300 la franc\u0327aise, nai\u0308ve cafe\u0301")
add("vietnamese", "Tiếng Việt có dấu: Hà Nội, Đà Nẵng, phở bò, người Việt")
add("vietnamese_nfd", "Tie\u0302\u0301ng Vie\u0323\u0302t co\u0301 da\u0302\u0301u")
add("combining_stack", "e\u0301\u0302\u0303 a\u0308\u0304 o\u031b\u0323 Z\u0351\u0352\u0353a\u0354l\u0355g\u0356o\u0357")
add("cyrillic", "Съешь же ещё этих мягких французских булок, да выпей чаю. ПРИВЕТ, Мир! Ёлка.")
add("greek", "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Ελληνικά: αβγ ΑΒΓ ά έ ή ί ό ύ ώ ϊ ΐ")
add("arabic", "مرحبا بالعالم! هذه جملة عربية للاختبار، مع أرقام ١٢٣٤٥ وعلامات ترقيم؟")
add("hebrew", "שלום עולם! זהו משפט בעברית עם ניקוד: שָׁלוֹם")
add("devanagari", "नमस्ते दुनिया! यह हिन्दी में एक वाक्य है। क्षत्रिय, ज्ञान, श्री")
add("thai", "สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ ๑๒๓")
add("chinese", "你好，世界！这是一个中文句子，用于测试分词器。我们使用简体字和繁體字。")
add("japanese", "こんにちは世界！カタカナとひらがな、漢字が混ざった日本語の文章です。ｶﾞｷﾞ")
add("korean", "안녕하세요 세계! 한국어 문장입니다. 한글은 음절 단위로 씁니다.")
add("korean_jamo", "\u1112\u1161\u11ab\u1100\u1173\u11af \u110b\u1161\u11ab")
add("emoji", "I love 🍕 and 🎉! 😀😃😄 ❤️ ✨ 🚀")
add("emoji_zwj", "Family: 👨‍👩‍👧‍👦, couple: 👩‍❤️‍👨, technologist: 🧑🏿‍💻, rainbow flag: 🏳️‍🌈")
add("emoji_skin", "👍🏻 👍🏼 👍🏽 👍🏾 👍🏿 👋🏽 🤝🏾")
add("flags", "🇺🇸 🇯🇵 🇩🇪 🇫🇷 🇨🇳 🇧🇷 🏴󠁧󠁢󠁳󠁣󠁴󠁿")
add("emoji_only", "🤖🤖🤖🦄🦄")
add("digits", "12345678901234567890 and 3.14159 and 1,000,000 and 007")
add("long_digits", "9" * 301)
add("digits_mixed", "abc123def4567ghi89 v1.2.3 2024-01-15T10:30:00Z")
add("other_digits", "Arabic ٣٤٥ Devanagari १२३ fullwidth １２３ circled ①②③ roman Ⅻ")
add("contractions", "I'm you're he's she'd we've they'll it's don't can't won't")
add("contractions_case", "I'M YOU'RE HE'S They'Ll We'Ve IT'S DON'T wE'rE i'D")
add("apostrophes", "rock 'n' roll, 'quoted', ''double'', y'all, ’curly’s, o'clock")
add("url", "See https://example.com/path/to/page?query=1&other=two#fragment or http://x.y/z.")
add("email", "Write to john.doe+tag@example.co.uk or admin@localhost.")
add("json", '{"name": "mxserve", "version": [0, 1, 0], "nested": {"ok": true, "none": null}, "pi": 3.14}')
add("python", "def fib(n):\n\tif n < 2:\n\t\treturn n  \n\treturn fib(n - 1) + fib(n - 2)   \n\n"
    "class Foo(object):\n    def __init__(self):\n        self.x = {'a': [1, 2, 3]}\n")
add("cpp", "#include <vector>\nint main() {\n  std::vector<int> v{1, 2, 3};\n  for (auto& x : v) x *= 2;  // double\n  return 0;\n}\n")
add("html", "<html><body><div class=\"x\">Hello &amp; goodbye</div><br/></body></html>")
add("markdown", "# Title\n\n- item **bold** and _italic_\n- `code` and [link](http://a.b)\n\n```js\nconsole.log(1);\n```\n")
add("punctuation", "Hello!!! What??? Wait... (really) [yes] {no} <maybe> \"quote\" — dash – en … ellipsis")
add("smart_quotes", "“Smart quotes” and ‘single’ and «guillemets» and „German“")
add("symbols", "© ® ™ € £ ¥ ° ± × ÷ ≠ ≤ ≥ ∞ ∑ √ ∫ → ← ↑ ↓ ♠ ♥ ★ ☆")
add("math", "E = mc² and a² + b² = c², ∀x ∈ ℝ: x² ≥ 0, f′(x), ½ ¼")
add("mixed_scripts", "Hello世界Привет🌍مرحبا123abc")
add("camel_case", "getElementById XMLHttpRequest iPhone McDonald's")
add("nbsp_and_friends", "a\u00a0b\u2009c\u200bd\u3000e\u2002f\u00adg\u202fh")
add("controls", "bell\u0007 esc\u001b[31mred\u001b[0m del\u007f nul\u0000 end")
add("fullwidth", "ＡＢＣ ａｂｃ！？（）")
add("ligatures", "ﬁnance ﬂow ﬀ Ⅸ ㍿ ㎏")
add("hangul_mixed_punct", "한국어(Korean)와 English를 섞어서 씁니다: 1,234원!")
# Added-token / special-token strings of every model, at the start, middle and end.
add("special_qwen", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n")
add("special_endoftext", "first doc<|endoftext|>second doc<|endoftext|>")
add("special_think", "<think>\nLet me reason.\n</think>\n\nThe answer is 42.")
add("special_tool", "<tool_call>\n{\"name\": \"f\"}\n</tool_call><tool_response>ok</tool_response>")
add("special_deepseek", "<｜begin▁of▁sentence｜>You are helpful.<｜User｜>Hi<｜Assistant｜>Hello<｜end▁of▁sentence｜>")
add("special_llama3", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>")
add("special_llama2", "<s>[INST] Hello [/INST] Hi</s><s>[INST] again [/INST]")
add("special_s_spacing", "text<s>text <s> text  <s>  </s>x<unk>y")
add("special_partial", "<|im_start <|im_end| <|endoftext <s <｜begin▁of <|begin_of_text")
add("special_repeated", "<|im_start|><|im_start|><|im_end|><s><s></s>")
add("special_fim", "<|fim_prefix|>def f():<|fim_suffix|>\n    return 1<|fim_middle|>")
# Byte fallback for Llama 2: rare characters not in a 32k vocabulary.
add("rare_chars", "𝕳𝖊𝖑𝖑𝖔 𝒲ℴ𝓇𝓁𝒹 ꙮ 𓀀 𐍈 ᚠᚢᚦ ⵣ ꧁꧂")
add("rare_cjk", "龘靐齉齾爩麤 𠀀𠀁 𪚥")
add("long_word", "a" * 500)
add("long_mixed_word", "Pneumonoultramicroscopicsilicovolcanoconiosis" * 5)
add("long_chinese_run", "中华人民共和国成立于一九四九年十月一日首都北京是全国的政治文化中心" * 6)
add("repeated_punct", "!" * 200 + "?" * 50 + "." * 100)
add("english_paragraph",
    "The quick brown fox jumps over the lazy dog. It's a sentence that contains every letter of "
    "the English alphabet, which is why typists have used it for more than a century to test "
    "their machines. In 1885, the phrase appeared in The Boston Journal; by 1903 it was the "
    "standard exercise in typing manuals. Today, programmers still use it to check fonts, "
    "keyboards and, yes, tokenizers: every word, number (like 42 or 3.14) and punctuation mark "
    "must come out exactly as the model's own tokenizer would produce it. Otherwise the model "
    "sees text it was never trained on, answers worse, and the bill counts the wrong number of "
    "tokens! Don't you think that's important? I'd say it's CRUCIAL -- they'll agree, we've "
    "checked.\n\nA second paragraph follows after a blank line, with    extra   spaces, a tab\there, "
    "and a trailing newline.\n")
add("chinese_paragraph",
    "人工智能是计算机科学的一个分支，它企图了解智能的实质，并生产出一种新的能以人类智能相似的方式"
    "做出反应的智能机器。该领域的研究包括机器人、语言识别、图像识别、自然语言处理和专家系统等。"
    "人工智能从诞生以来，理论和技术日益成熟，应用领域也不断扩大，可以设想，未来人工智能带来的科技"
    "产品，将会是人类智慧的“容器”。2023年，大语言模型（LLM）取得了突破性进展，例如GPT-4和Qwen等"
    "模型能够理解和生成自然语言文本。\n\n第二段：分词器必须与模型训练时使用的完全一致，否则模型"
    "的输出质量会下降，计费的词元数量也会出错。")
add("japanese_paragraph",
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で"
    "ニャーニャー泣いていた事だけは記憶している。")
add("multilingual_chat", "User: ¿Cómo estás? Assistant: Très bien, merci! 谢谢 ありがとう 감사합니다 Спасибо شكرا")
add("spaces_before_punct", "word , word . word ! word ? word ; word :")
add("space_digits", " 1 22 333 4444 55555 666666")
add("apostrophe_digits", "'90s '1 '12 rock'n'roll")
add("underscore_ident", "snake_case_name __dunder__ _private CONSTANT_VALUE")
add("path", "/usr/local/bin/python3 C:\\Windows\\System32\\drivers\\etc\\hosts ~/.bashrc")
add("sql", "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%smith%';")
add("regex_text", r"^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@\d{3}\s+\p{L}$")
add("base64", "SGVsbG8gV29ybGQhIFRoaXMgaXMgYmFzZTY0IGVuY29kZWQgdGV4dC4=")
add("hex", "0xDEADBEEF 0x00ff 0b1010 1e-10 6.02e23")
add("repeated_words", "the the the the the the the the the the the the the the the the")
add("case_variants", "hello Hello HELLO hElLo")
add("sentence_no_space", "end.Start,next;last:final!")
add("newline_then_space", "a\n b\n  c\n\t d")
add("space_newline_mix", "  \n  \n  ")
add("trailing_newline_space", "x\n ")
add("unicode_spaces_runs", "a\u3000\u3000b\u00a0\u00a0c\u2003\u2003d")
add("korean_english_space", "안녕 hello 세상 world")
add("thai_digits_mixed", "ราคา 1,500 บาท (๑,๕๐๐)")
add("emoji_text_mix", "Great job!👏👏 Let's go🚀🚀🚀 ok👌")
add("variation_selectors", "☺︎ ☺️ ✔︎ ✔️ 1️⃣ #️⃣")

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "corpus.jsonl")
names = [e["name"] for e in E]
assert len(names) == len(set(names)), "duplicate corpus names"
with open(out, "w", encoding="utf-8") as f:
    for e in E:
        f.write(json.dumps(e, ensure_ascii=False) + "\n")
print(f"{len(E)} entries -> {out}")

# Random texts from a pool of tricky pieces: catches interactions the hand-written entries miss
# (a contraction after a combining mark, CR before a special token, ...). Fixed seed.
import random

rng = random.Random(20240917)
POOL = [
    " ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2009", "a", "Z", "é", "e\u0301",
    "ß", "İ", "ı", "Ω", "ж", "Ж", "λ", "ش", "ש", "क्ष", "ि", "ก", "ั", "中", "文", "の", "カ", "한",
    "\u1100\u1161", "1", "23", "456", "٣", "１", "'", "'s", "'S", "'ll", "'LL", "'Re", "’", "\"", "!",
    "?", ".", ",", "...", "-", "_", "/", "\\", "(", ")", "[", "]", "{", "}", "<", ">", "|", "@", "#",
    "$", "%", "^", "&", "*", "+", "=", "~", "`", ";", ":", "😀", "👍🏽", "👨‍👩‍👧", "🇺🇸", "❤️", "\u200d",
    "\ufe0f", "©", "€", "½", "ﬁ", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>",
    "<unk>", "<think>", "</think>", "<|begin_of_text|>", "<|eot_id|>", "<｜begin▁of▁sentence｜>",
    "<｜User｜>", "▁", "<|im", "start|>", "<0x41>", "hello", "World", "THE", "don", "http://",
    "www.", ".com", "\u0000", "\u001b", "\u007f", "𝕳", "𠀀", "ꙮ",
]
random_entries = []
for i in range(600):
    n = rng.randint(1, 40)
    text = "".join(rng.choice(POOL) for _ in range(n))
    random_entries.append({"name": f"random_{i:03d}", "text": text})
out_random = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "random.jsonl")
with open(out_random, "w", encoding="utf-8") as f:
    for e in random_entries:
        f.write(json.dumps(e, ensure_ascii=False) + "\n")
print(f"{len(random_entries)} entries -> {out_random}")
