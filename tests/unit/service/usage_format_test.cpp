#include "service/usage_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace mx {
namespace {

constexpr int64_t kNov23At7 = 1'795'417'200'000;  // 2026-11-23T07:00:00Z

TEST(PriceTableTest, ParsesPricesPerMillionTokens) {
  auto table = parse_price_table(
      R"({"qwen3": {"input": 0.5, "cached_input": 0.1, "output": 2.0}, "llama": {"input": 1}})");
  ASSERT_TRUE(table.ok()) << table.error().message;
  ASSERT_EQ(table->by_model.size(), 2u);
  EXPECT_DOUBLE_EQ(table->by_model.at("qwen3").cached_input, 0.1);
  // cached_input defaults to input; output to 0.
  EXPECT_DOUBLE_EQ(table->by_model.at("llama").cached_input, 1.0);
  EXPECT_DOUBLE_EQ(table->by_model.at("llama").output, 0.0);
  // (1000 - 400) * 0.5 + 400 * 0.1 + 2000 * 2.0 = 300 + 40 + 4000 per 1M tokens.
  EXPECT_DOUBLE_EQ(table->cost("qwen3", {1000, 400, 2000, 0}), 4340.0 / 1e6);
  EXPECT_DOUBLE_EQ(table->cost("unknown", {1000, 0, 1000, 0}), 0.0);
}

TEST(PriceTableTest, RejectsMistakes) {
  for (const char* text : {"", "[1]", "{\"m\": 3}", "{\"m\": {\"inptu\": 1}}",
                           "{\"m\": {\"input\": -1}}", "{\"m\": {\"output\": \"2\"}}"}) {
    auto table = parse_price_table(text);
    EXPECT_FALSE(table.ok()) << text;
  }
  auto typo = parse_price_table(R"({"m": {"inptu": 1}})");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.error().message.find("unknown field 'inptu'"), std::string::npos)
      << typo.error().message;
}

TEST(UtcTimeTest, FormatsIso8601) {
  EXPECT_EQ(format_utc_time(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_utc_time(kNov23At7), "2026-11-23T07:00:00Z");
  EXPECT_EQ(format_utc_time(kNov23At7 + 61'250), "2026-11-23T07:01:01.250Z");
}

TEST(UtcTimeTest, ParsesDatesAndTimes) {
  struct Case {
    const char* text;
    int64_t unix_ms;
    bool date_only;
  };
  const Case cases[] = {
      {"2026-11-23", kNov23At7 - 7 * 3'600'000, true},
      {"2026-11-23T07:00", kNov23At7, false},
      {"2026-11-23T07:00:00Z", kNov23At7, false},
      {"2026-11-23 07:00:00", kNov23At7, false},
      {"2026-11-23T07:00:01.5Z", kNov23At7 + 1'500, false},
      {"2026-11-23T08:30:00+01:30", kNov23At7, false},
      {"2026-11-23T05:00:00-0200", kNov23At7, false},
      {"2024-02-29", 1'709'164'800'000, true},
  };
  for (const Case& c : cases) {
    auto parsed = parse_utc_time(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.error().message;
    EXPECT_EQ(parsed->unix_ms, c.unix_ms) << c.text;
    EXPECT_EQ(parsed->date_only, c.date_only) << c.text;
  }
}

TEST(UtcTimeTest, RejectsInvalidDates) {
  for (const char* text : {"", "2026", "2026-13-01", "2025-02-29", "2026-11-31", "26-11-23",
                           "2026-11-23T24:00", "2026-11-23T07:60", "2026-11-23T07:00:00Q",
                           "2026-11-23x", "yesterday", "2026-11-23T07:00:00."}) {
    auto parsed = parse_utc_time(text);
    EXPECT_FALSE(parsed.ok()) << text;
  }
  auto bad = parse_utc_time("2026-13-01");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("YYYY-MM-DD"), std::string::npos);
}

std::vector<UsageRow> two_hour_rows() {
  UsageRow first;
  first.bucket_start_ms = kNov23At7;
  first.requests = 2;
  first.tokens = {100, 10, 50, 5};
  first.cost = 0.25;
  UsageRow second;
  second.bucket_start_ms = kNov23At7 + 3'600'000;
  second.requests = 1;
  second.tokens = {30, 0, 20, 0};
  second.cost = 0.5;
  return {first, second};
}

TEST(UsageReportTest, JsonHasRowsAndTotals) {
  nlohmann::json report =
      nlohmann::json::parse(usage_report_json(two_hour_rows(), UsageGroup::kHour));
  EXPECT_EQ(report["object"], "list");
  EXPECT_EQ(report["group_by"], "hour");
  ASSERT_EQ(report["data"].size(), 2u);
  EXPECT_EQ(report["data"][0]["bucket_start"], "2026-11-23T07:00:00Z");
  EXPECT_EQ(report["data"][1]["bucket_start"], "2026-11-23T08:00:00Z");
  EXPECT_EQ(report["data"][0]["bucket_start_ms"], kNov23At7);
  EXPECT_EQ(report["data"][0]["cached_tokens"], 10);
  EXPECT_EQ(report["data"][0]["reasoning_tokens"], 5);
  EXPECT_EQ(report["totals"]["requests"], 3);
  EXPECT_EQ(report["totals"]["prompt_tokens"], 130);
  EXPECT_EQ(report["totals"]["completion_tokens"], 70);
  EXPECT_DOUBLE_EQ(report["totals"]["cost"].get<double>(), 0.75);
}

TEST(UsageReportTest, EmptyAndUntimedReports) {
  nlohmann::json empty = nlohmann::json::parse(usage_report_json({}, UsageGroup::kNone));
  EXPECT_EQ(empty["group_by"], "none");
  EXPECT_TRUE(empty["data"].is_array());
  EXPECT_TRUE(empty["data"].empty());
  EXPECT_EQ(empty["totals"]["requests"], 0);
  EXPECT_EQ(empty["totals"]["cost"], 0.0);

  UsageRow by_model;
  by_model.model = "qwen3";
  by_model.requests = 1;
  nlohmann::json report = nlohmann::json::parse(usage_report_json({by_model}, UsageGroup::kModel));
  EXPECT_TRUE(report["data"][0]["bucket_start"].is_null());
  EXPECT_EQ(report["data"][0]["model"], "qwen3");
}

TEST(UsageReportTest, CsvQuotesFieldsThatNeedIt) {
  std::vector<UsageRow> rows = two_hour_rows();
  std::string csv = usage_report_csv(rows, UsageGroup::kHour);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "bucket_start,bucket_start_ms,key_id,tenant,model,requests,prompt_tokens,"
            "cached_tokens,completion_tokens,reasoning_tokens,cost");
  EXPECT_NE(csv.find("\n2026-11-23T07:00:00Z,1795417200000,,,,2,100,10,50,5,0.25\n"),
            std::string::npos)
      << csv;
  UsageRow odd;
  odd.tenant = "acme, \"inc\"";
  std::string quoted = usage_report_csv({odd}, UsageGroup::kKey);
  EXPECT_NE(quoted.find("\n,0,,\"acme, \"\"inc\"\"\",,0,"), std::string::npos) << quoted;
}

TEST(UsageReportTest, RecordsCarryTheirCost) {
  UsageRecord record;
  record.request_id = "chatcmpl-1";
  record.model = "qwen3";
  record.tokens = {1000, 0, 1000, 0};
  record.status = UsageStatus::kOk;
  record.started_at_ms = kNov23At7;
  PriceTable prices;
  prices.by_model["qwen3"] = {1.0, 1.0, 3.0};
  nlohmann::json json = nlohmann::json::parse(usage_records_json({record}, prices));
  ASSERT_EQ(json["data"].size(), 1u);
  EXPECT_EQ(json["data"][0]["status"], "ok");
  EXPECT_EQ(json["data"][0]["started_at"], "2026-11-23T07:00:00Z");
  EXPECT_DOUBLE_EQ(json["data"][0]["cost"].get<double>(), 0.004);
  std::string csv = usage_records_csv({record}, prices);
  EXPECT_NE(csv.find("\nchatcmpl-1,,,qwen3,ok,0,1000,0,1000,0,0,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",0.004\n"), std::string::npos) << csv;
}

// OWASP CSV injection: a cell starting with = + - @, tab or CR is quoted with a leading '.
TEST(UsageReportTest, CsvCellsNeverStartAFormula) {
  for (const char* tenant : {"=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"}) {
    UsageRow row;
    row.tenant = tenant;
    std::string csv = usage_report_csv({row}, UsageGroup::kKey);
    std::string line = csv.substr(csv.find('\n') + 1);
    EXPECT_EQ(line.substr(0, 6 + std::string(tenant).size()), std::string(",0,,\"'") + tenant)
        << csv;
  }
  UsageRecord record;
  record.request_id = "r1";
  record.model = "=HYPERLINK(\"x\")";
  std::string csv = usage_records_csv({record}, PriceTable{});
  EXPECT_NE(csv.find("\nr1,,,\"'=HYPERLINK(\"\"x\"\")\",open,"), std::string::npos) << csv;
}

// A record stored with bytes that are not UTF-8 (written before validation, or straight into
// the database) renders with U+FFFD instead of failing the whole report.
TEST(UsageReportTest, InvalidUtf8IsReplacedNotFatal) {
  UsageRow row;
  row.tenant = "bad\xff";
  std::string json_text;
  ASSERT_NO_THROW(json_text = usage_report_json({row}, UsageGroup::kKey));
  EXPECT_EQ(nlohmann::json::parse(json_text)["data"][0]["tenant"], "bad\xef\xbf\xbd");
  EXPECT_NE(usage_report_csv({row}, UsageGroup::kKey).find(",bad\xef\xbf\xbd,"), std::string::npos);
  UsageRecord record;
  record.tenant = "bad\xff";
  ASSERT_NO_THROW(json_text = usage_records_json({record}, PriceTable{}));
  EXPECT_EQ(nlohmann::json::parse(json_text)["data"][0]["tenant"], "bad\xef\xbf\xbd");
}

}  // namespace
}  // namespace mx
