#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

namespace mx {

struct Regex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Code() { pcre2_code_free(code); }
};

namespace {

// Per-thread match state. The JIT stack grows to 8 MiB: long runs of one character class
// (a megabyte of spaces) need more than PCRE2's 32 KiB default.
struct ThreadMatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  ThreadMatchState() { pcre2_jit_stack_assign(context, nullptr, jit_stack); }
  ~ThreadMatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_data_free(data);
  }
  ThreadMatchState(const ThreadMatchState&) = delete;
  ThreadMatchState& operator=(const ThreadMatchState&) = delete;
};

ThreadMatchState& thread_state() {
  thread_local ThreadMatchState state;
  return state;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

Result<Regex> Regex::compile(std::string_view pattern) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "regex '{}': {} at offset {}", pattern,
                      pcre2_message(error_code), error_offset);
  }
  auto compiled = std::make_shared<Code>();
  compiled->code = code;
  // JIT is an optimization; without it (unsupported CPU, SELinux) matching still works.
  compiled->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  Regex regex;
  regex.code_ = std::move(compiled);
  regex.pattern_ = std::string(pattern);
  return regex;
}

Result<Regex> Regex::literal(std::string_view literal) {
  std::string quoted = "\\Q";
  // \Q...\E quotes everything except a literal "\E", which has to end and restart the quote.
  size_t pos = 0;
  while (true) {
    size_t found = literal.find("\\E", pos);
    if (found == std::string_view::npos) break;
    quoted.append(literal.substr(pos, found - pos));
    quoted += "\\E\\\\E\\Q";
    pos = found + 2;
  }
  quoted.append(literal.substr(pos));
  quoted += "\\E";
  return compile(quoted);
}

bool Regex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  ThreadMatchState& state = thread_state();
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start <= text.size()) {
    int rc = pcre2_match(code_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK,
                         state.data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH) return true;
    if (rc < 0) return false;
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
    size_t begin = ovector[0], end = ovector[1];
    if (end > begin) {
      out.emplace_back(begin, end);
      start = end;
      continue;
    }
    // An empty match: step over one whole character and search again.
    if (begin >= text.size()) return true;
    start = begin + 1;
    while (start < text.size() && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) ++start;
  }
  return true;
}

}  // namespace mx
