// Usage reports as mxserve prints and serves them (`mxserve usage`, GET /v1/usage): JSON and
// CSV of report rows and of single records, the price file, and UTC times.
//
// Report JSON: {"object":"list","group_by":"hour","data":[ROW...],"totals":TOTALS} where ROW is
// {"bucket_start":"2026-11-23T07:00:00Z" (null unless grouped by hour or day),
//  "bucket_start_ms", "key_id", "tenant", "model", "requests", "prompt_tokens",
//  "cached_tokens", "completion_tokens", "reasoning_tokens", "cost"} and TOTALS has the
// counters and the cost. CSV: a header line of the same names, one line per row, no totals.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "service/api_key.h"
#include "service/usage.h"

namespace mx {

// {"MODEL": {"input": 0.5, "cached_input": 0.1, "output": 2.0}, ...}: currency units per 1M
// tokens. A missing field is 0, except cached_input, which defaults to input (cached tokens
// are billed in full unless a discount is given). Unknown fields are errors (typos).
Result<PriceTable> parse_price_table(const std::string& json_text);

std::string_view usage_group_name(UsageGroup group);  // "none", "hour", "day", "model", "key"

// The sums of all rows (bucket, key, tenant and model left empty).
UsageRow usage_totals(const std::vector<UsageRow>& rows);
std::string usage_report_json(const std::vector<UsageRow>& rows, UsageGroup group);
std::string usage_report_csv(const std::vector<UsageRow>& rows, UsageGroup group);

// Records with their cost under `prices`: {"object":"list","data":[...]} / CSV with a header.
std::string usage_records_json(const std::vector<UsageRecord>& records, const PriceTable& prices);
std::string usage_records_csv(const std::vector<UsageRecord>& records, const PriceTable& prices);

// "active", or why the key cannot be used ("revoked", "expired").
std::string api_key_status(const ApiKey& key, int64_t now_ms);
// A key as `keys list --json` and GET /admin/keys show it (never the secret or its hash).
nlohmann::json api_key_json(const ApiKey& key, int64_t now_ms);

// "2026-11-23T07:00:00Z"; milliseconds are shown (".250Z") only when not zero.
std::string format_utc_time(int64_t unix_ms);

struct ParsedTime {
  int64_t unix_ms = 0;
  bool date_only = false;  // "YYYY-MM-DD": the caller may read it as the whole day
};
// "2026-11-23", "2026-11-23T07:00", "2026-11-23T07:00:00.5Z", "2026-11-23 07:00:00+01:00".
// A time without a zone is UTC.
Result<ParsedTime> parse_utc_time(std::string_view text);

}  // namespace mx
