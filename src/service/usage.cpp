#include "service/usage.h"

#include <array>
#include <chrono>
#include <utility>

namespace mx {
namespace {

constexpr std::array<std::pair<UsageStatus, std::string_view>, 5> kStatusNames = {{
    {UsageStatus::kOpen, "open"},
    {UsageStatus::kOk, "ok"},
    {UsageStatus::kAborted, "aborted"},
    {UsageStatus::kError, "error"},
    {UsageStatus::kTimeout, "timeout"},
}};

constexpr std::array<std::pair<UsageGroup, std::string_view>, 5> kGroupNames = {{
    {UsageGroup::kNone, "none"},
    {UsageGroup::kHour, "hour"},
    {UsageGroup::kDay, "day"},
    {UsageGroup::kModel, "model"},
    {UsageGroup::kKey, "key"},
}};

}  // namespace

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view usage_status_name(UsageStatus status) {
  for (const auto& [value, name] : kStatusNames) {
    if (value == status) return name;
  }
  return "unknown";
}

std::optional<UsageStatus> parse_usage_status(std::string_view name) {
  for (const auto& [value, text] : kStatusNames) {
    if (text == name) return value;
  }
  return std::nullopt;
}

std::optional<UsageGroup> parse_usage_group(std::string_view name) {
  for (const auto& [value, text] : kGroupNames) {
    if (text == name) return value;
  }
  return std::nullopt;
}

double PriceTable::cost(const std::string& model, const TokenCounts& tokens) const {
  auto it = by_model.find(model);
  if (it == by_model.end()) return 0.0;
  const Price& p = it->second;
  double uncached = static_cast<double>(tokens.prompt - tokens.cached);
  return (uncached * p.input + static_cast<double>(tokens.cached) * p.cached_input +
          static_cast<double>(tokens.completion) * p.output) /
         1e6;
}

}  // namespace mx
