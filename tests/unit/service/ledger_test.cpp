#include "service/ledger.h"

#include <gtest/gtest.h>

#include <mutex>

#include "service_test_util.h"

namespace mx {
namespace {

using test::final_record;
using test::open_record;
using test::TempDir;
using namespace std::chrono_literals;

constexpr int64_t kT0 = 1'795'417'200'000;

// Forwards to a real store, fails the first `failures` write_batch calls (a full disk, a
// restarting server) and counts what was committed.
class FlakyStore final : public LedgerStore {
 public:
  struct Seen {
    int calls = 0;
    int commits = 0;
    std::vector<size_t> batch_sizes;
    int opens = 0, progresses = 0, finals = 0;
  };

  FlakyStore(std::unique_ptr<LedgerStore> inner, int failures)
      : inner_(std::move(inner)), failures_left_(failures) {}

  Seen seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }

  std::string describe() const override { return "flaky " + inner_->describe(); }
  // Batches of heartbeats alone pass and are not counted: the counts are of records' ops.
  Result<LedgerWriteOutcome> write_batch(const std::vector<LedgerOp>& ops) override {
    size_t records = 0;
    for (const LedgerOp& op : ops) records += !std::holds_alternative<LedgerHeartbeat>(op);
    if (records == 0) return inner_->write_batch(ops);
    std::lock_guard lock(mutex_);
    ++seen_.calls;
    if (failures_left_ > 0) {
      --failures_left_;
      return make_error(ErrorCode::kIoError, "disk full (injected by the test)");
    }
    MX_ASSIGN_OR_RETURN(LedgerWriteOutcome outcome, inner_->write_batch(ops));
    for (const LedgerOp& op : ops) {
      seen_.opens += std::holds_alternative<LedgerOpen>(op);
      seen_.progresses += std::holds_alternative<LedgerProgress>(op);
      seen_.finals += std::holds_alternative<LedgerFinal>(op);
    }
    ++seen_.commits;
    seen_.batch_sizes.push_back(records);
    return outcome;
  }
  Result<int64_t> recover_open(const std::string& self, const std::vector<std::string>& gone,
                               int64_t now_ms) override {
    return inner_->recover_open(self, gone, now_ms);
  }
  Result<std::vector<LedgerInstance>> instances() override { return inner_->instances(); }
  Result<std::vector<UsageRow>> usage(const UsageQuery& q, const PriceTable& p) override {
    return inner_->usage(q, p);
  }
  Result<std::vector<UsageRecord>> records(const UsageQuery& q) override {
    return inner_->records(q);
  }
  Result<QuotaDecision> reserve_quota(const ApiKey& key, int64_t tokens, int64_t now_ms) override {
    return inner_->reserve_quota(key, tokens, now_ms);
  }
  Status release_quota(const std::string& key_id, int64_t tokens, int64_t at_ms) override {
    return inner_->release_quota(key_id, tokens, at_ms);
  }
  Status insert_key(const ApiKey& key) override { return inner_->insert_key(key); }
  Status update_key(const ApiKey& key) override { return inner_->update_key(key); }
  Result<std::optional<ApiKey>> find_key(const std::string& id) override {
    return inner_->find_key(id);
  }
  Result<std::optional<ApiKey>> find_key_by_hash(const std::string& hash) override {
    return inner_->find_key_by_hash(hash);
  }
  Result<std::vector<ApiKey>> list_keys() override { return inner_->list_keys(); }

 private:
  mutable std::mutex mutex_;
  std::unique_ptr<LedgerStore> inner_;
  int failures_left_;
  Seen seen_;
};

// A ledger over SQLite in a temp dir, through a FlakyStore.
struct LedgerFixture {
  TempDir dir;
  FlakyStore* flaky = nullptr;  // owned by ledger
  std::unique_ptr<Ledger> ledger;

  explicit LedgerFixture(LedgerOptions options = {}, int failures = 0) {
    auto sqlite = open_ledger_store(dir.path());
    EXPECT_TRUE(sqlite.ok()) << sqlite.error().message;
    auto store = std::make_unique<FlakyStore>(std::move(sqlite).value(), failures);
    flaky = store.get();
    auto started = Ledger::start(std::move(store), options);
    EXPECT_TRUE(started.ok()) << started.error().message;
    ledger = std::move(started).value();
  }
  UsageRecord record(const std::string& id) {
    UsageQuery query;
    query.include_open = true;
    auto records = ledger->store().records(query);
    EXPECT_TRUE(records.ok());
    for (const UsageRecord& r : *records) {
      if (r.request_id == id) return r;
    }
    ADD_FAILURE() << "no record " << id;
    return {};
  }
  void flush() {
    Status status = ledger->flush();
    ASSERT_TRUE(status.ok());
  }
};

LedgerOptions slow_options() {  // nothing commits until a flush, a full batch or the end
  LedgerOptions options;
  options.flush_interval = 1h;
  return options;
}

TEST(LedgerTest, CallbacksRunAfterTheCommit) {
  LedgerFixture f;
  ASSERT_TRUE(f.ledger->open(open_record("r1", "key_a", "m", kT0, 10)));
  int64_t seen_in_callback = -1;
  f.ledger->progress("r1", {10, 0, 5, 0}, 20.0,
                     [&] { seen_in_callback = f.record("r1").tokens.completion; });
  f.flush();
  EXPECT_EQ(seen_in_callback, 5);
  EXPECT_EQ(f.ledger->open_records(), 1);
}

TEST(LedgerTest, ProgressCoalescesPerRecord) {
  LedgerFixture f(slow_options());
  ASSERT_TRUE(f.ledger->open(open_record("r1", "key_a", "m", kT0, 10)));
  std::vector<int> order;
  for (int i = 1; i <= 100; ++i) {
    f.ledger->progress("r1", {10, 0, i, 0}, 20.0, [&order, i] { order.push_back(i); });
  }
  f.flush();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[static_cast<size_t>(i)], i + 1);
  FlakyStore::Seen seen = f.flaky->seen();
  EXPECT_EQ(seen.commits, 1);
  EXPECT_EQ(seen.progresses, 1);  // the latest counts, once
  EXPECT_EQ(f.record("r1").tokens.completion, 100);
}

TEST(LedgerTest, CallbacksRunInCallOrder) {
  LedgerFixture f(slow_options());
  ASSERT_TRUE(f.ledger->open(open_record("a", "key_a", "m", kT0, 10)));
  ASSERT_TRUE(f.ledger->open(open_record("b", "key_a", "m", kT0, 10)));
  std::vector<std::string> order;
  auto note = [&order](std::string what) { return [&order, what] { order.push_back(what); }; };
  f.ledger->progress("a", {10, 0, 1, 0}, 1.0, note("progress a"));
  f.ledger->progress("b", {10, 0, 1, 0}, 1.0, note("progress b"));
  f.ledger->finalize(final_record(open_record("a", "key_a", "m", kT0, 10), {10, 0, 2, 0}),
                     note("final a"));
  f.ledger->progress("a", {10, 0, 3, 0}, 1.0, note("late progress a"));
  f.ledger->finalize(final_record(open_record("b", "key_a", "m", kT0, 10), {10, 0, 2, 0}),
                     note("final b"));
  f.flush();
  EXPECT_EQ(order, (std::vector<std::string>{"progress a", "progress b", "final a",
                                             "late progress a", "final b"}));
}

TEST(LedgerTest, FlushFromACallbackIsRefused) {
  LedgerFixture f;
  ASSERT_TRUE(f.ledger->open(open_record("r1", "key_a", "m", kT0, 10)));
  std::optional<bool> flushed;
  f.ledger->progress("r1", {10, 0, 1, 0}, 1.0, [&] { flushed = f.ledger->flush().ok(); });
  f.flush();
  EXPECT_EQ(flushed, false);  // instead of waiting for itself forever
}

TEST(LedgerTest, FinalizeCountsOnce) {
  LedgerFixture f;
  UsageRecord record = open_record("r1", "key_a", "m", kT0, 10);
  ASSERT_TRUE(f.ledger->open(record));
  int callbacks = 0;
  f.ledger->finalize(final_record(record, {10, 0, 9, 0}), [&] { ++callbacks; });
  f.ledger->finalize(final_record(record, {10, 0, 99, 0}, UsageStatus::kError),
                     [&] { ++callbacks; });
  f.ledger->progress("r1", {10, 0, 100, 0}, 1.0, [&] { ++callbacks; });
  f.flush();
  EXPECT_EQ(callbacks, 3);
  FlakyStore::Seen seen = f.flaky->seen();
  EXPECT_EQ(seen.finals, 1);
  EXPECT_EQ(seen.progresses, 0);
  UsageRecord stored = f.record("r1");
  EXPECT_EQ(stored.status, UsageStatus::kOk);
  EXPECT_EQ(stored.tokens.completion, 9);
  EXPECT_EQ(f.ledger->open_records(), 0);
}

TEST(LedgerTest, MaxOpenBoundsAdmission) {
  LedgerOptions options = slow_options();
  options.max_open = 2;
  LedgerFixture f(options);
  UsageRecord a = open_record("a", "key_a", "m", kT0);
  EXPECT_TRUE(f.ledger->open(a));
  EXPECT_TRUE(f.ledger->open(open_record("b", "key_a", "m", kT0)));
  EXPECT_FALSE(f.ledger->open(open_record("c", "key_a", "m", kT0)));
  EXPECT_EQ(f.ledger->open_records(), 2);
  // A's slot is free once its final is committed, not before: the queue stays bounded
  // while the store is slow or down.
  f.ledger->finalize(final_record(a, {0, 0, 0, 0}));
  EXPECT_FALSE(f.ledger->open(open_record("c", "key_a", "m", kT0)));
  f.flush();
  EXPECT_EQ(f.ledger->open_records(), 1);
  EXPECT_FALSE(f.ledger->open(open_record("b", "key_a", "m", kT0)));  // already open
  EXPECT_TRUE(f.ledger->open(open_record("c", "key_a", "m", kT0)));
  f.flush();
  EXPECT_EQ(f.flaky->seen().opens, 3);
}

TEST(LedgerTest, RetriesFailedCommitsWithoutLoss) {
  LedgerFixture f({}, /*failures=*/3);
  std::vector<int> order;
  bool ran_before_commit = false;
  for (int i = 0; i < 10; ++i) {
    std::string id = "r" + std::to_string(i);
    ASSERT_TRUE(f.ledger->open(open_record(id, "key_a", "m", kT0 + i, 10)));
    f.ledger->progress(id, {10, 0, i + 1, 0}, 1.0, [&, i] {
      if (f.flaky->seen().commits == 0) ran_before_commit = true;
      order.push_back(i);
    });
  }
  f.flush();
  FlakyStore::Seen seen = f.flaky->seen();
  EXPECT_GE(seen.calls, 4);
  EXPECT_FALSE(ran_before_commit);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(f.record("r" + std::to_string(i)).tokens.completion, i + 1);
  }
}

TEST(LedgerTest, BatchesHoldAtMostMaxBatchOps) {
  LedgerOptions options = slow_options();
  options.max_batch = 3;
  LedgerFixture f(options);
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(f.ledger->open(open_record("r" + std::to_string(i), "key_a", "m", kT0)));
  }
  f.flush();
  FlakyStore::Seen seen = f.flaky->seen();
  size_t total = 0;
  for (size_t size : seen.batch_sizes) {
    EXPECT_LE(size, 3u);
    total += size;
  }
  EXPECT_EQ(total, 7u);
}

TEST(LedgerTest, DestructorCommitsEverything) {
  TempDir dir;
  {
    auto store = open_ledger_store(dir.path());
    ASSERT_TRUE(store.ok());
    auto ledger = Ledger::start(std::move(store).value(), slow_options());
    ASSERT_TRUE(ledger.ok());
    for (int i = 0; i < 20; ++i) {
      UsageRecord record = open_record("r" + std::to_string(i), "key_a", "m", kT0);
      ASSERT_TRUE((*ledger)->open(record));
      (*ledger)->finalize(final_record(record, {5, 0, 5, 0}));
    }
  }
  auto store = open_ledger_store(dir.path());
  ASSERT_TRUE(store.ok());
  auto records = (*store)->records({});
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->size(), 20u);
}

TEST(LedgerTest, StartSettlesWhatWasLeftOpen) {
  TempDir dir;
  {
    auto store = open_ledger_store(dir.path());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)
                    ->write_batch({LedgerOpen{open_record("a", "key_a", "m", kT0, 10)},
                                   LedgerOpen{open_record("b", "key_a", "m", kT0, 10)}})
                    .ok());
  }
  auto store = open_ledger_store(dir.path());
  ASSERT_TRUE(store.ok());
  auto ledger = Ledger::start(std::move(store).value());
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ((*ledger)->recovered_at_start(), 2);
  auto records = (*ledger)->store().records({});  // open ones are not reported
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].status, UsageStatus::kAborted);
  EXPECT_TRUE((*records)[0].recovered);
}

TEST(LedgerTest, StartRejectsBadArguments) {
  EXPECT_FALSE(Ledger::start(nullptr).ok());
  TempDir dir;
  auto store = open_ledger_store(dir.path());
  ASSERT_TRUE(store.ok());
  LedgerOptions options;
  options.max_batch = 0;
  auto ledger = Ledger::start(std::move(store).value(), options);
  ASSERT_FALSE(ledger.ok());
  EXPECT_NE(ledger.error().message.find("max_batch"), std::string::npos);
}

}  // namespace
}  // namespace mx
