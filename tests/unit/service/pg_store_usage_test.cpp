// Usage reports of the PostgreSQL LedgerStore against a real server: grouping by hour, day,
// model and key with costs worked out by hand, include_open, filters and records() order. See
// pg_test_util.h for how to run them.
#include <vector>

#include "pg_test_util.h"

namespace mx {
namespace {

using pg_test::final_record;
using pg_test::open_record;

constexpr int64_t kDay0 = 1'700'006'400'000;  // 2023-11-15 00:00:00 UTC
constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

// Four final records over two days, three models and two keys, plus one open record:
//   r1 key_1 model-a day0 01:05  prompt 1000 cached 200 completion 500 reasoning 50
//   r2 key_1 model-b day0 01:50  prompt 2000 cached   0 completion 100
//   r3 key_2 model-a day0 02:00  prompt  100 cached 100 completion  10
//   r4 key_2 model-c day1 03:00  prompt  300 cached   0 completion  30   (no price: cost 0)
//   r5 key_1 model-a day0 02:30  open, progress prompt 50 cached 0 completion 5
// Prices per 1M: model-a in 1, cached 0.5, out 2; model-b in 3, cached 1, out 4. So costs:
//   r1 (800 * 1 + 200 * 0.5 + 500 * 2) / 1e6 = 1900e-6    r2 (2000 * 3 + 100 * 4) / 1e6 = 6400e-6
//   r3 (0 * 1 + 100 * 0.5 + 10 * 2) / 1e6 = 70e-6          r4 0      r5 (50 + 10) / 1e6 = 60e-6
class PgStoreUsageTest : public pg_test::PgStoreTest {
 protected:
  void SetUp() override {
    PgStoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    prices_.by_model["model-a"] = {1.0, 0.5, 2.0};
    prices_.by_model["model-b"] = {3.0, 1.0, 4.0};
    std::vector<LedgerOp> ops;
    add_final(ops, "r1", "key_1", "model-a", kDay0 + kHour + 5 * kMinute, {1000, 200, 500, 50});
    add_final(ops, "r2", "key_1", "model-b", kDay0 + kHour + 50 * kMinute, {2000, 0, 100, 0});
    add_final(ops, "r3", "key_2", "model-a", kDay0 + 2 * kHour, {100, 100, 10, 0});
    add_final(ops, "r4", "key_2", "model-c", kDay0 + kDay + 3 * kHour, {300, 0, 30, 0});
    ops.push_back(
        LedgerOpen{open_record("r5", "key_1", "model-a", kDay0 + 2 * kHour + 30 * kMinute)});
    ops.push_back(LedgerProgress{"r5", {50, 0, 5, 0}, 9.0});
    auto written = store_->write_batch(ops);
    ASSERT_TRUE(written.ok()) << written.error().message;
  }

  static void add_final(std::vector<LedgerOp>& ops, const std::string& id, const std::string& key,
                        const std::string& model, int64_t started_at_ms, TokenCounts tokens) {
    UsageRecord record = open_record(id, key, model, started_at_ms);
    ops.push_back(LedgerOpen{record});
    ops.push_back(LedgerFinal{final_record(record, tokens)});
  }

  std::vector<UsageRow> usage(UsageGroup group, bool include_open = false) {
    UsageQuery query;
    query.group = group;
    query.include_open = include_open;
    return usage(query);
  }
  std::vector<UsageRow> usage(const UsageQuery& query) {
    Result<std::vector<UsageRow>> rows = store_->usage(query, prices_);
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows.ok() ? rows.value() : std::vector<UsageRow>{};
  }

  PriceTable prices_;
};

struct Expected {
  int64_t bucket_start_ms;
  std::string key_id, model;
  int64_t requests, prompt, cached, completion, reasoning;
  double cost;
};

void expect_rows(const std::vector<UsageRow>& rows, const std::vector<Expected>& expected) {
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "row " << i);
    EXPECT_EQ(rows[i].bucket_start_ms, expected[i].bucket_start_ms);
    EXPECT_EQ(rows[i].key_id, expected[i].key_id);
    EXPECT_EQ(rows[i].tenant, "");  // never grouped on
    EXPECT_EQ(rows[i].model, expected[i].model);
    EXPECT_EQ(rows[i].requests, expected[i].requests);
    EXPECT_EQ(rows[i].tokens.prompt, expected[i].prompt);
    EXPECT_EQ(rows[i].tokens.cached, expected[i].cached);
    EXPECT_EQ(rows[i].tokens.completion, expected[i].completion);
    EXPECT_EQ(rows[i].tokens.reasoning, expected[i].reasoning);
    EXPECT_NEAR(rows[i].cost, expected[i].cost, 1e-12);
  }
}

TEST_F(PgStoreUsageTest, GroupByHour) {
  expect_rows(usage(UsageGroup::kHour),
              {{kDay0 + kHour, "", "", 2, 3000, 200, 600, 50, 8300e-6},
               {kDay0 + 2 * kHour, "", "", 1, 100, 100, 10, 0, 70e-6},
               {kDay0 + kDay + 3 * kHour, "", "", 1, 300, 0, 30, 0, 0.0}});
}

TEST_F(PgStoreUsageTest, GroupByDay) {
  expect_rows(usage(UsageGroup::kDay), {{kDay0, "", "", 3, 3100, 300, 610, 50, 8370e-6},
                                        {kDay0 + kDay, "", "", 1, 300, 0, 30, 0, 0.0}});
}

TEST_F(PgStoreUsageTest, GroupByModel) {
  expect_rows(usage(UsageGroup::kModel), {{0, "", "model-a", 2, 1100, 300, 510, 50, 1970e-6},
                                          {0, "", "model-b", 1, 2000, 0, 100, 0, 6400e-6},
                                          {0, "", "model-c", 1, 300, 0, 30, 0, 0.0}});
}

TEST_F(PgStoreUsageTest, GroupByKey) {
  expect_rows(usage(UsageGroup::kKey), {{0, "key_1", "", 2, 3000, 200, 600, 50, 8300e-6},
                                        {0, "key_2", "", 2, 400, 100, 40, 0, 70e-6}});
}

TEST_F(PgStoreUsageTest, NoGroupIsOneTotalEvenWhenEmpty) {
  expect_rows(usage(UsageGroup::kNone), {{0, "", "", 4, 3400, 300, 640, 50, 8370e-6}});
  UsageQuery nothing;
  nothing.key_id = "key_nobody";
  expect_rows(usage(nothing), {{0, "", "", 0, 0, 0, 0, 0, 0.0}});
}

TEST_F(PgStoreUsageTest, IncludeOpenCountsProgressSoFar) {
  expect_rows(usage(UsageGroup::kNone, true), {{0, "", "", 5, 3450, 300, 645, 50, 8430e-6}});
  expect_rows(usage(UsageGroup::kHour, true),
              {{kDay0 + kHour, "", "", 2, 3000, 200, 600, 50, 8300e-6},
               {kDay0 + 2 * kHour, "", "", 2, 150, 100, 15, 0, 130e-6},
               {kDay0 + kDay + 3 * kHour, "", "", 1, 300, 0, 30, 0, 0.0}});
}

TEST_F(PgStoreUsageTest, FiltersAndTimeRange) {
  UsageQuery by_key;
  by_key.key_id = "key_2";
  expect_rows(usage(by_key), {{0, "", "", 2, 400, 100, 40, 0, 70e-6}});
  UsageQuery by_tenant;
  by_tenant.tenant = "tenant_of_key_1";
  by_tenant.include_open = true;
  expect_rows(usage(by_tenant), {{0, "", "", 3, 3050, 200, 605, 50, 8360e-6}});
  UsageQuery by_model;
  by_model.model = "model-a";
  by_model.group = UsageGroup::kKey;
  expect_rows(usage(by_model), {{0, "key_1", "", 1, 1000, 200, 500, 50, 1900e-6},
                                {0, "key_2", "", 1, 100, 100, 10, 0, 70e-6}});
  // [from, to): r3 starts exactly at from (in), r4 exactly at to (out).
  UsageQuery range;
  range.from_ms = kDay0 + 2 * kHour;
  range.to_ms = kDay0 + kDay + 3 * kHour;
  expect_rows(usage(range), {{0, "", "", 1, 100, 100, 10, 0, 70e-6}});
}

TEST_F(PgStoreUsageTest, RecordsOldestFirstWithFilters) {
  UsageQuery query;
  query.include_open = true;
  Result<std::vector<UsageRecord>> all = store_->records(query);
  ASSERT_TRUE(all.ok()) << all.error().message;
  std::vector<std::string> ids;
  for (const UsageRecord& record : *all) ids.push_back(record.request_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"r1", "r2", "r3", "r5", "r4"}));
  query.include_open = false;
  query.key_id = "key_1";
  query.group = UsageGroup::kDay;  // ignored by records()
  Result<std::vector<UsageRecord>> key_1 = store_->records(query);
  ASSERT_TRUE(key_1.ok());
  ASSERT_EQ(key_1->size(), 2u);
  EXPECT_EQ((*key_1)[0].request_id, "r1");
  EXPECT_EQ((*key_1)[1].request_id, "r2");
}

}  // namespace
}  // namespace mx
