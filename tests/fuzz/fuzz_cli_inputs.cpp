// libFuzzer target for what the command-line tools read from a server or a user: /metrics text
// holding expert counters (parse_expert_tokens, as `mxserve experts` reads it) and server URLs
// (parse_http_url). Nothing may crash or throw; parsed counters must render back to text that
// parses to the same counts, and the report functions must accept whatever parsed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/expert_load.h"
#include "server/http_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto counts = mx::parse_expert_tokens(text);
  if (counts.ok()) {
    std::string again;
    mx::render_expert_tokens(*counts, again);
    auto reparsed = mx::parse_expert_tokens(again);
    if (!reparsed.ok() || reparsed->tokens != counts->tokens) std::abort();
    if (mx::expert_report_text(*counts, 1.0).empty()) std::abort();
    if (mx::expert_report_json(*counts, 1.0).empty()) std::abort();
    if (!mx::expert_counts_delta(*counts, *counts).ok()) std::abort();
  }
  auto url = mx::parse_http_url(text);
  if (url.ok() && url->host.empty()) std::abort();
  return 0;
}
