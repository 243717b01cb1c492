// libFuzzer: arbitrary bytes as tokenizer.json. Loading must fail cleanly or give a tokenizer
// whose encode/decode/streaming work on a few texts (ids in range, stream == decode).
//
//   fuzz_tokenizer_json tests/fuzz/corpus/tokenizer_json -max_total_time=600
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/utf8.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

void exercise(const mx::Tokenizer& tokenizer, std::string_view text) {
  for (bool add_special : {false, true}) {
    std::vector<int32_t> ids = tokenizer.encode(text, add_special);
    for (int32_t id : ids) check(id >= 0 && id < tokenizer.vocab_size());
    for (bool skip_special : {false, true}) {
      std::string decoded = tokenizer.decode(ids, skip_special);
      check(mx::utf8_valid_prefix(decoded) == decoded.size());
      mx::Detokenizer detokenizer(tokenizer, skip_special);
      std::string streamed;
      for (int32_t id : ids) streamed += detokenizer.push(id);
      streamed += detokenizer.flush();
      check(mx::utf8_valid_prefix(streamed) == streamed.size());
      // Streams equal decode() whenever decode() gives valid text from valid pieces; with
      // invalid byte sequences the two may place U+FFFD differently (documented), so only
      // compare when the decoded text holds no U+FFFD.
      if (decoded.find("\xEF\xBF\xBD") == std::string::npos) check(streamed == decoded);
    }
    for (int32_t id : ids) (void)tokenizer.token_to_piece(id);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  auto spec = mx::parse_tokenizer_json(json, "", "fuzz.json");
  if (!spec.ok()) return 0;
  auto tokenizer = mx::Tokenizer::create(std::move(spec).value());
  if (!tokenizer.ok()) return 0;
  for (std::string_view text : {std::string_view("Hello world, it's 2024!"),
                                std::string_view("  a\tb\r\n\xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80"),
                                std::string_view("<s>x</s><unk>\xE2\x96\x81y"),
                                std::string_view("\xC3\x28 bad \xFF utf8"), std::string_view("")}) {
    exercise(**tokenizer, text);
  }
  exercise(**tokenizer, json.substr(0, 64));
  return 0;
}
