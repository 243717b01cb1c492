// Reads the tokenizer vocabulary from a GGUF file's metadata and lists the token ids whose text
// is not valid UTF-8 on its own (byte tokens 0x80-0xFF, pieces of a multi-byte character).
//
// Why: the benchmark models are random-weight files, so they generate such tokens often, and
// llama-server (built from source here) ends a stream with HTTP 500 "The model produced output
// that does not match the expected Content-only format" when its output parser meets invalid
// UTF-8 — in a quick test 5 of 8 requests of 64 tokens died mid-stream, which frees their slots
// early and makes any throughput comparison meaningless. loadgen --ban-invalid-utf8 sends these
// ids with logit_bias -100 so every output is valid UTF-8 text. A real model rarely emits them.

import fs from 'node:fs';

const TYPE = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8,
               ARRAY: 9, U64: 10, I64: 11, F64: 12 };
const SCALAR_SIZE = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

class Reader {  // sequential reads from a file, buffered
  constructor(file) {
    this.fd = fs.openSync(file, 'r');
    this.buf = Buffer.alloc(0);
    this.bufStart = 0;  // file offset of buf[0]
    this.pos = 0;       // file offset of the next read
  }
  ensure(n) {
    const have = this.bufStart + this.buf.length - this.pos;
    if (have >= n) return;
    const size = Math.max(n, 16 << 20);
    const chunk = Buffer.alloc(size);
    const got = fs.readSync(this.fd, chunk, 0, size, this.pos);
    if (got < n) throw new Error('GGUF: unexpected end of file in the metadata');
    this.buf = chunk.subarray(0, got);
    this.bufStart = this.pos;
  }
  take(n) {
    this.ensure(n);
    const off = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(off, off + n);
  }
  u32() { return this.take(4).readUInt32LE(0); }
  u64() { return Number(this.take(8).readBigUInt64LE(0)); }
  string() { return this.take(this.u64()).toString('utf8'); }
  close() { fs.closeSync(this.fd); }
}

function readValue(r, type, keep) {
  if (type === TYPE.STRING) return r.string();
  if (type === TYPE.ARRAY) {
    const itemType = r.u32(), n = r.u64();
    if (!keep) {  // skip without decoding
      if (itemType === TYPE.STRING) for (let i = 0; i < n; i++) r.take(r.u64());
      else if (itemType === TYPE.ARRAY) for (let i = 0; i < n; i++) readValue(r, TYPE.ARRAY, false);
      else r.take(SCALAR_SIZE[itemType] * n);
      return null;
    }
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = readValue(r, itemType, true);
    return out;
  }
  const b = r.take(SCALAR_SIZE[type]);
  switch (type) {
    case TYPE.U8: return b.readUInt8(0);
    case TYPE.I8: return b.readInt8(0);
    case TYPE.U16: return b.readUInt16LE(0);
    case TYPE.I16: return b.readInt16LE(0);
    case TYPE.U32: return b.readUInt32LE(0);
    case TYPE.I32: return b.readInt32LE(0);
    case TYPE.F32: return b.readFloatLE(0);
    case TYPE.BOOL: return b.readUInt8(0) !== 0;
    case TYPE.U64: return Number(b.readBigUInt64LE(0));
    case TYPE.I64: return Number(b.readBigInt64LE(0));
    case TYPE.F64: return b.readDoubleLE(0);
    default: throw new Error(`GGUF: unknown metadata type ${type}`);
  }
}

// { model: 'gpt2' | 'llama' | ..., tokens: string[], types: number[] | null }
export function readGgufVocab(file) {
  const r = new Reader(file);
  try {
    if (r.take(4).toString('latin1') !== 'GGUF') throw new Error(`${file} is not a GGUF file`);
    const version = r.u32();
    if (version < 2) throw new Error(`GGUF version ${version} is not supported`);
    r.u64();  // tensor count
    const kvCount = r.u64();
    const wanted = new Set(['tokenizer.ggml.model', 'tokenizer.ggml.tokens', 'tokenizer.ggml.token_type']);
    const found = {};
    for (let i = 0; i < kvCount && Object.keys(found).length < wanted.size; i++) {
      const key = r.string();
      const type = r.u32();
      found[key] = readValue(r, type, wanted.has(key));
      if (!wanted.has(key)) delete found[key];
    }
    if (!found['tokenizer.ggml.tokens']) throw new Error(`${file} has no tokenizer.ggml.tokens`);
    return { model: found['tokenizer.ggml.model'] ?? 'unknown', tokens: found['tokenizer.ggml.tokens'],
             types: found['tokenizer.ggml.token_type'] ?? null };
  } finally {
    r.close();
  }
}

// GPT-2 byte-level BPE: each byte is written as one printable code point.
function byteDecoder() {
  const bs = [];
  for (let c = 0x21; c <= 0x7e; c++) bs.push(c);
  for (let c = 0xa1; c <= 0xac; c++) bs.push(c);
  for (let c = 0xae; c <= 0xff; c++) bs.push(c);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
  return new Map(cs.map((c, i) => [String.fromCodePoint(c), bs[i]]));
}

// Token ids (normal tokens only: type 1, or all when the file has no types) whose bytes are not
// valid UTF-8 by themselves.
export function invalidUtf8TokenIds(vocab) {
  const fatal = new TextDecoder('utf-8', { fatal: true });
  const ids = [];
  if (vocab.model === 'gpt2') {
    const dec = byteDecoder();
    vocab.tokens.forEach((t, id) => {
      if (vocab.types && vocab.types[id] !== 1) return;
      const bytes = [];
      for (const ch of t) {
        const b = dec.get(ch);
        if (b === undefined) return;  // not a byte-level token: leave it alone
        bytes.push(b);
      }
      try { fatal.decode(Uint8Array.from(bytes)); } catch { ids.push(id); }
    });
  } else {
    // SentencePiece-style vocabularies: text pieces are valid UTF-8 in the file; the byte
    // fallback tokens <0x80>..<0xFF> are not valid alone (type 6 = byte).
    vocab.tokens.forEach((t, id) => {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
      if (m && parseInt(m[1], 16) >= 0x80) ids.push(id);
    });
  }
  return ids;
}
