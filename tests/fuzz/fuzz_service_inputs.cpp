// libFuzzer target for what a caller or operator hands the Tokens service as text: the query
// string of /v1/usage (parse_query), ISO 8601 times (parse_utc_time, as from/to/expires), the
// price file (parse_price_table). None may crash or throw; a parsed time must print back
// (format_utc_time) and parse again to the same instant; a parsed price table must price any
// counts without producing NaN from finite prices.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/url_query.h"
#include "service/usage_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto query = mx::parse_query("/v1/usage?" + text);
  if (!query.ok() && query.error().to_json().empty()) std::abort();

  auto when = mx::parse_utc_time(text);
  if (when.ok()) {
    auto again = mx::parse_utc_time(mx::format_utc_time(when->unix_ms));
    if (!again.ok() || again->unix_ms != when->unix_ms) std::abort();
  }

  auto prices = mx::parse_price_table(text);
  if (prices.ok()) {
    mx::TokenCounts counts{1000, 10, 500, 0};
    for (const auto& [model, price] : prices->by_model) {
      const bool finite = std::isfinite(price.input) && std::isfinite(price.cached_input) &&
                          std::isfinite(price.output);
      if (finite && std::isnan(prices->cost(model, counts))) std::abort();
    }
  }
  return 0;
}
