// Usage records of the metering ledger (one per request), usage queries and prices.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mx {

// kOpen: admitted, not finished (a reservation). The others are final and never change.
// Wall-clock time as unix milliseconds: the time base of records, keys and quotas.
int64_t unix_ms_now();

enum class UsageStatus { kOpen, kOk, kAborted, kError, kTimeout };
std::string_view usage_status_name(UsageStatus status);  // "open", "ok", "aborted", ...
std::optional<UsageStatus> parse_usage_status(std::string_view name);

struct TokenCounts {
  int64_t prompt = 0;      // all prompt tokens, cached ones included
  int64_t cached = 0;      // prompt tokens served from the prefix cache
  int64_t completion = 0;  // generated tokens, reasoning included
  int64_t reasoning = 0;
};

struct UsageRecord {
  std::string request_id;  // unique; the response id ("chatcmpl-...", "cmpl-...")
  std::string key_id;      // "" when the server runs without keys
  std::string tenant;
  std::string model;
  TokenCounts tokens;
  int64_t reserved_tokens = 0;  // prompt + max_tokens reserved at admission
  UsageStatus status = UsageStatus::kOpen;
  bool recovered = false;  // settled by recovery (its instance was gone), from the last progress
  double ttft_ms = 0.0;    // 0 when no token was produced
  double e2e_ms = 0.0;
  std::string worker;          // who computed it (hostname:port of the serve process)
  std::string instance_id;     // the Ledger instance that opened it ("": before instance ids)
  int64_t started_at_ms = 0;   // unix ms
  int64_t finished_at_ms = 0;  // unix ms; 0 while open
};

enum class UsageGroup { kNone, kHour, kDay, kModel, kKey };
std::optional<UsageGroup> parse_usage_group(std::string_view name);  // "hour", "day", ...

// Records with started_at_ms in [from_ms, to_ms); empty strings match everything.
struct UsageQuery {
  std::string key_id, tenant, model;
  int64_t from_ms = 0;
  int64_t to_ms = INT64_MAX;
  UsageGroup group = UsageGroup::kNone;
  bool include_open = false;  // open records count too (their progress so far)
};

// Prices in currency units per 1M tokens.
struct Price {
  double input = 0.0;
  double cached_input = 0.0;
  double output = 0.0;
};

struct PriceTable {
  std::map<std::string, Price> by_model;  // served-model name → price; missing: cost 0
  // (prompt - cached) * input + cached * cached_input + completion * output, per 1M.
  double cost(const std::string& model, const TokenCounts& tokens) const;
};

// One row of a usage report: the sums of the records in one group (hour / day bucket by
// started_at, UTC; model; key). Fields that are not grouped on are "" / 0.
struct UsageRow {
  int64_t bucket_start_ms = 0;  // kHour / kDay
  std::string key_id, tenant, model;
  int64_t requests = 0;
  TokenCounts tokens;
  double cost = 0.0;  // from the records' own models and the price table
};

}  // namespace mx
