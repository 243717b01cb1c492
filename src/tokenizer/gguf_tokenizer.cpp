#include "tokenizer/gguf_tokenizer.h"

namespace mx {

Result<TokenizerSpec> load_gguf_tokenizer(const std::string& path) {
  return make_error(ErrorCode::kUnsupported, "{}: GGUF tokenizers are not supported yet", path);
}

}  // namespace mx
