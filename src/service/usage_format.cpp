#include "service/usage_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <nlohmann/json.hpp>

#include "service/stored_text.h"

namespace mx {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 3> kPriceFields = {"input", "cached_input", "output"};

Result<Price> parse_price(const std::string& model, const json& entry) {
  if (!entry.is_object()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "prices for model '{}': expected an object like {{\"input\": 0.5, "
                      "\"cached_input\": 0.1, \"output\": 2.0}}",
                      model);
  }
  std::array<double, 3> values = {0.0, -1.0, 0.0};  // cached_input < 0: not given
  for (const auto& [field, value] : entry.items()) {
    auto it = std::find(kPriceFields.begin(), kPriceFields.end(), field);
    if (it == kPriceFields.end()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "prices for model '{}': unknown field '{}' (expected input, "
                        "cached_input, output)",
                        model, field);
    }
    if (!value.is_number() || value.get<double>() < 0.0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "prices for model '{}': '{}' must be a number >= 0 (per 1M tokens), "
                        "got {}",
                        model, field, value.dump());
    }
    values[static_cast<size_t>(it - kPriceFields.begin())] = value.get<double>();
  }
  return Price{values[0], values[1] < 0.0 ? values[0] : values[1], values[2]};
}

json counters_json(const UsageRow& row) {
  return {{"requests", row.requests},
          {"prompt_tokens", row.tokens.prompt},
          {"cached_tokens", row.tokens.cached},
          {"completion_tokens", row.tokens.completion},
          {"reasoning_tokens", row.tokens.reasoning},
          {"cost", row.cost}};
}

// A stored string as one CSV cell: invalid UTF-8 replaced (U+FFFD); RFC 4180 quoting of a
// comma, quote or line break, inner quotes doubled; and, against formula injection (OWASP), a
// cell a spreadsheet would run as a formula — starting with = + - @, tab or CR — gets a
// leading ' and is quoted.
std::string csv_field(std::string_view stored) {
  std::string text = replace_invalid_utf8(stored);
  const bool formula =
      !text.empty() && std::string_view("=+-@\t\r").find(text[0]) != std::string_view::npos;
  if (formula) text.insert(0, "'");
  if (!formula && text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// Reads exactly `digits` decimal digits at text[pos...]; advances pos.
bool read_number(std::string_view text, size_t& pos, size_t digits, int& out) {
  if (pos + digits > text.size()) return false;
  out = 0;
  for (size_t i = 0; i < digits; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += digits;
  return true;
}

bool read_char(std::string_view text, size_t& pos, std::string_view allowed) {
  if (pos >= text.size() || allowed.find(text[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

// "Z", "+HH:MM", "-HH:MM", "+HHMM", or nothing (UTC); the offset in ms east of UTC.
bool read_zone(std::string_view text, size_t& pos, int64_t& offset_ms) {
  offset_ms = 0;
  if (pos == text.size() || read_char(text, pos, "Zz")) return true;
  if (pos >= text.size() || (text[pos] != '+' && text[pos] != '-')) return false;
  int sign = text[pos++] == '-' ? -1 : 1;
  int hours = 0, minutes = 0;
  if (!read_number(text, pos, 2, hours)) return false;
  read_char(text, pos, ":");
  if (!read_number(text, pos, 2, minutes) || hours > 23 || minutes > 59) return false;
  offset_ms = sign * (hours * 3'600'000LL + minutes * 60'000LL);
  return true;
}

// The time of day after 'T' or ' ': HH:MM[:SS[.fraction]]; ms since midnight.
bool read_time_of_day(std::string_view text, size_t& pos, int64_t& ms) {
  int hours = 0, minutes = 0, seconds = 0;
  if (!read_number(text, pos, 2, hours) || !read_char(text, pos, ":") ||
      !read_number(text, pos, 2, minutes) || hours > 23 || minutes > 59) {
    return false;
  }
  int64_t fraction_ms = 0;
  if (read_char(text, pos, ":")) {
    if (!read_number(text, pos, 2, seconds) || seconds > 59) return false;
    if (read_char(text, pos, ".")) {
      int digit = 0, scale = 100;
      size_t start = pos;
      while (read_number(text, pos, 1, digit)) {
        fraction_ms += digit * scale;
        scale /= 10;  // digits past milliseconds are dropped
      }
      if (pos == start) return false;
    }
  }
  ms = hours * 3'600'000LL + minutes * 60'000LL + seconds * 1'000LL + fraction_ms;
  return true;
}

}  // namespace

Result<PriceTable> parse_price_table(const std::string& json_text) {
  json parsed = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the price file must be a JSON object like {{\"MODEL\": {{\"input\": 0.5, "
                      "\"cached_input\": 0.1, \"output\": 2.0}}}} (per 1M tokens)");
  }
  PriceTable table;
  for (const auto& [model, entry] : parsed.items()) {
    MX_ASSIGN_OR_RETURN(table.by_model[model], parse_price(model, entry));
  }
  return table;
}

std::string_view usage_group_name(UsageGroup group) {
  switch (group) {
    case UsageGroup::kNone:
      return "none";
    case UsageGroup::kHour:
      return "hour";
    case UsageGroup::kDay:
      return "day";
    case UsageGroup::kModel:
      return "model";
    case UsageGroup::kKey:
      return "key";
  }
  return "none";
}

UsageRow usage_totals(const std::vector<UsageRow>& rows) {
  UsageRow total;
  for (const UsageRow& row : rows) {
    total.requests += row.requests;
    total.tokens.prompt += row.tokens.prompt;
    total.tokens.cached += row.tokens.cached;
    total.tokens.completion += row.tokens.completion;
    total.tokens.reasoning += row.tokens.reasoning;
    total.cost += row.cost;
  }
  return total;
}

std::string usage_report_json(const std::vector<UsageRow>& rows, UsageGroup group) {
  bool by_time = group == UsageGroup::kHour || group == UsageGroup::kDay;
  json data = json::array();
  for (const UsageRow& row : rows) {
    json item = {{"bucket_start", by_time ? json(format_utc_time(row.bucket_start_ms)) : json()},
                 {"bucket_start_ms", row.bucket_start_ms},
                 {"key_id", row.key_id},
                 {"tenant", row.tenant},
                 {"model", row.model}};
    item.update(counters_json(row));
    data.push_back(std::move(item));
  }
  json report = {{"object", "list"},
                 {"group_by", usage_group_name(group)},
                 {"data", std::move(data)},
                 {"totals", counters_json(usage_totals(rows))}};
  return json_text(report);
}

std::string usage_report_csv(const std::vector<UsageRow>& rows, UsageGroup group) {
  bool by_time = group == UsageGroup::kHour || group == UsageGroup::kDay;
  std::string out =
      "bucket_start,bucket_start_ms,key_id,tenant,model,requests,prompt_tokens,cached_tokens,"
      "completion_tokens,reasoning_tokens,cost\n";
  for (const UsageRow& row : rows) {
    std::string bucket = by_time ? format_utc_time(row.bucket_start_ms) : "";
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", bucket, row.bucket_start_ms,
                       csv_field(row.key_id), csv_field(row.tenant), csv_field(row.model),
                       row.requests, row.tokens.prompt, row.tokens.cached, row.tokens.completion,
                       row.tokens.reasoning, row.cost);
  }
  return out;
}

std::string usage_records_json(const std::vector<UsageRecord>& records, const PriceTable& prices) {
  json data = json::array();
  for (const UsageRecord& r : records) {
    data.push_back({{"request_id", r.request_id},
                    {"key_id", r.key_id},
                    {"tenant", r.tenant},
                    {"model", r.model},
                    {"status", usage_status_name(r.status)},
                    {"recovered", r.recovered},
                    {"prompt_tokens", r.tokens.prompt},
                    {"cached_tokens", r.tokens.cached},
                    {"completion_tokens", r.tokens.completion},
                    {"reasoning_tokens", r.tokens.reasoning},
                    {"reserved_tokens", r.reserved_tokens},
                    {"ttft_ms", r.ttft_ms},
                    {"e2e_ms", r.e2e_ms},
                    {"worker", r.worker},
                    {"instance_id", r.instance_id},
                    {"started_at", format_utc_time(r.started_at_ms)},
                    {"started_at_ms", r.started_at_ms},
                    {"finished_at_ms", r.finished_at_ms},
                    {"cost", prices.cost(r.model, r.tokens)}});
  }
  return json_text(json({{"object", "list"}, {"data", std::move(data)}}));
}

std::string usage_records_csv(const std::vector<UsageRecord>& records, const PriceTable& prices) {
  std::string out =
      "request_id,key_id,tenant,model,status,recovered,prompt_tokens,cached_tokens,"
      "completion_tokens,reasoning_tokens,reserved_tokens,ttft_ms,e2e_ms,worker,started_at,"
      "started_at_ms,finished_at_ms,cost\n";
  for (const UsageRecord& r : records) {
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                       csv_field(r.request_id), csv_field(r.key_id), csv_field(r.tenant),
                       csv_field(r.model), usage_status_name(r.status), r.recovered ? 1 : 0,
                       r.tokens.prompt, r.tokens.cached, r.tokens.completion, r.tokens.reasoning,
                       r.reserved_tokens, r.ttft_ms, r.e2e_ms, csv_field(r.worker),
                       format_utc_time(r.started_at_ms), r.started_at_ms, r.finished_at_ms,
                       prices.cost(r.model, r.tokens));
  }
  return out;
}

std::string format_utc_time(int64_t unix_ms) {
  using namespace std::chrono;
  sys_time<milliseconds> time{milliseconds(unix_ms)};
  sys_days day = floor<days>(time);
  year_month_day date(day);
  hh_mm_ss<milliseconds> clock(time - day);
  std::string out =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  clock.hours().count(), clock.minutes().count(), clock.seconds().count());
  if (clock.subseconds().count() != 0) out += fmt::format(".{:03}", clock.subseconds().count());
  return out + "Z";
}

Result<ParsedTime> parse_utc_time(std::string_view text) {
  using namespace std::chrono;
  auto bad = [&] {
    return make_error(ErrorCode::kInvalidArgument,
                      "'{}' is not a date or time: expected YYYY-MM-DD or ISO 8601 like "
                      "2026-11-23T07:00:00Z",
                      text);
  };
  size_t pos = 0;
  int y = 0, m = 0, d = 0;
  if (!read_number(text, pos, 4, y) || !read_char(text, pos, "-") ||
      !read_number(text, pos, 2, m) || !read_char(text, pos, "-") ||
      !read_number(text, pos, 2, d)) {
    return bad();
  }
  year_month_day date{year(y), month(static_cast<unsigned>(m)), day(static_cast<unsigned>(d))};
  if (!date.ok()) return bad();
  ParsedTime parsed;
  parsed.unix_ms = duration_cast<milliseconds>(sys_days(date).time_since_epoch()).count();
  if (pos == text.size()) {
    parsed.date_only = true;
    return parsed;
  }
  int64_t time_ms = 0, offset_ms = 0;
  if (!read_char(text, pos, "Tt ") || !read_time_of_day(text, pos, time_ms) ||
      !read_zone(text, pos, offset_ms) || pos != text.size()) {
    return bad();
  }
  parsed.unix_ms += time_ms - offset_ms;
  return parsed;
}

std::string api_key_status(const ApiKey& key, int64_t now_ms) {
  std::string reason = key_unusable_reason(key, now_ms);
  return reason.empty() ? "active" : reason;
}

nlohmann::json api_key_json(const ApiKey& key, int64_t now_ms) {
  auto time_or_null = [](int64_t ms) {
    return ms ? nlohmann::json(format_utc_time(ms)) : nlohmann::json();
  };
  return {{"id", key.id},
          {"name", key.name},
          {"tenant", key.tenant},
          {"models", key.models},
          {"tokens_per_day", key.tokens_per_day},
          {"tokens_per_minute", key.tokens_per_minute},
          {"requests_per_minute", key.requests_per_minute},
          {"expires_at", time_or_null(key.expires_at_ms)},
          {"expires_at_ms", key.expires_at_ms},
          {"admin", key.admin},
          {"revoked", key.revoked},
          {"status", api_key_status(key, now_ms)},
          {"created_at", time_or_null(key.created_at_ms)},
          {"created_at_ms", key.created_at_ms}};
}

}  // namespace mx
