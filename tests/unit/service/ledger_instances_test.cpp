// A ledger shared by several processes: each Ledger is an instance with a lease, and recovery
// settles only the open records of instances that are gone (lease expired, or a process of
// this machine that exited), never a live one's; a late final replaces a recovered record.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "service/ledger.h"
#include "service/ledger_instance.h"
#include "service_test_util.h"

namespace mx {
namespace {

using test::final_record;
using test::open_record;
using test::TempDir;
using namespace std::chrono_literals;

constexpr int64_t kT0 = 1'795'417'200'000;

std::unique_ptr<LedgerStore> open_store(const std::string& dir) {
  auto store = open_ledger_store(dir);
  EXPECT_TRUE(store.ok()) << store.error().message;
  return store.ok() ? std::move(store).value() : nullptr;
}

std::unique_ptr<Ledger> start_ledger(const std::string& dir, LedgerOptions options = {}) {
  auto ledger = Ledger::start(open_store(dir), options);
  EXPECT_TRUE(ledger.ok()) << ledger.error().message;
  return ledger.ok() ? std::move(ledger).value() : nullptr;
}

UsageRecord find(LedgerStore& store, const std::string& id) {
  UsageQuery query;
  query.include_open = true;
  auto records = store.records(query);
  EXPECT_TRUE(records.ok());
  for (const UsageRecord& r : *records) {
    if (r.request_id == id) return r;
  }
  ADD_FAILURE() << "no record " << id;
  return {};
}

// An instance row and one open record of it, written as another process would have.
void add_instance_with_open_record(LedgerStore& store, LedgerInstance instance,
                                   const std::string& request_id) {
  UsageRecord record = open_record(request_id, "key_a", "m", kT0, 10);
  record.instance_id = instance.id;
  auto written = store.write_batch({LedgerHeartbeat{instance}, LedgerOpen{record}});
  ASSERT_TRUE(written.ok()) << written.error().message;
}

LedgerInstance other_instance(const std::string& id, int64_t expires_at_ms) {
  LedgerInstance instance;
  instance.id = id;
  instance.worker = "elsewhere:8080";
  instance.node = "another machine";
  instance.pid = 1;
  instance.heartbeat_at_ms = unix_ms_now();
  instance.expires_at_ms = expires_at_ms;
  return instance;
}

// The issue: a second server on the same ledger settled the first one's live requests as
// aborted, and then dropped their real final records.
TEST(LedgerInstancesTest, ASecondLedgerLeavesALiveOnesRecordsAlone) {
  TempDir dir;
  auto first = start_ledger(dir.path());
  ASSERT_TRUE(first);
  UsageRecord record = open_record("live", "key_a", "m", kT0, 10);
  ASSERT_TRUE(first->open(record));
  first->progress("live", {10, 0, 3, 0}, 5.0);
  ASSERT_TRUE(first->flush().ok());

  auto second = start_ledger(dir.path());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->recovered_at_start(), 0);
  EXPECT_NE(second->instance_id(), first->instance_id());
  EXPECT_EQ(find(second->store(), "live").status, UsageStatus::kOpen);

  first->finalize(final_record(record, {10, 0, 1500, 0}));
  ASSERT_TRUE(first->flush().ok());
  UsageRecord stored = find(second->store(), "live");
  EXPECT_EQ(stored.status, UsageStatus::kOk);
  EXPECT_EQ(stored.tokens.completion, 1500);
  EXPECT_FALSE(stored.recovered);
  EXPECT_EQ(stored.instance_id, first->instance_id());
  EXPECT_EQ(first->late_finals(), 0);
}

TEST(LedgerInstancesTest, StartSettlesExpiredAndLegacyRecordsOnly) {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    add_instance_with_open_record(*store, other_instance("expired", unix_ms_now() - 1),
                                  "of-expired");
    add_instance_with_open_record(*store, other_instance("alive", unix_ms_now() + 600'000),
                                  "of-alive");
    ASSERT_TRUE(
        store->write_batch({LedgerOpen{open_record("legacy", "key_a", "m", kT0, 10)}}).ok());
  }
  auto ledger = start_ledger(dir.path());
  ASSERT_TRUE(ledger);
  EXPECT_EQ(ledger->recovered_at_start(), 2);
  EXPECT_EQ(find(ledger->store(), "of-expired").status, UsageStatus::kAborted);
  EXPECT_TRUE(find(ledger->store(), "of-expired").recovered);
  EXPECT_EQ(find(ledger->store(), "legacy").status, UsageStatus::kAborted);
  EXPECT_EQ(find(ledger->store(), "of-alive").status, UsageStatus::kOpen);
  // The expired instance's row is gone; the live one's and this one's remain.
  auto instances = ledger->store().instances();
  ASSERT_TRUE(instances.ok());
  std::vector<std::string> ids;
  for (const LedgerInstance& i : *instances) ids.push_back(i.id);
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "alive"), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), ledger->instance_id()), 1);
}

// A process of this machine that exited is gone at once, whatever its lease says.
TEST(LedgerInstancesTest, AnExitedProcessOfThisMachineIsSettledBeforeItsLeaseEnds) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  // Wait for the child to exit without reaping it: a zombie now.
  siginfo_t exited{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(child), &exited, WEXITED | WNOWAIT), 0);
  LedgerInstance me = this_process_instance();
  LedgerInstance dead = me;
  dead.id = "exited";
  dead.pid = child;
  dead.heartbeat_at_ms = unix_ms_now();
  dead.expires_at_ms = unix_ms_now() + 600'000;
  EXPECT_FALSE(process_is_gone(me, me));
  EXPECT_TRUE(process_is_gone(dead, me)) << "a zombie is gone";
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(process_is_gone(dead, me));
  LedgerInstance elsewhere = dead;
  elsewhere.node = "another machine";
  EXPECT_FALSE(process_is_gone(elsewhere, me)) << "pids of other machines say nothing";

  TempDir dir;
  {
    auto store = open_store(dir.path());
    add_instance_with_open_record(*store, dead, "of-exited");
  }
  auto ledger = start_ledger(dir.path());
  ASSERT_TRUE(ledger);
  EXPECT_EQ(ledger->recovered_at_start(), 1);
  EXPECT_EQ(find(ledger->store(), "of-exited").status, UsageStatus::kAborted);
}

// An instance taken for dead (stalled past its lease) comes back: its final replaces the
// recovered estimate, and is counted.
TEST(LedgerInstancesTest, ALateFinalReplacesTheRecoveredRecord) {
  TempDir dir;
  auto ledger = start_ledger(dir.path());
  ASSERT_TRUE(ledger);
  UsageRecord record = open_record("stalled", "key_a", "m", kT0, 10);
  ASSERT_TRUE(ledger->open(record));
  ledger->progress("stalled", {10, 0, 4, 0}, 5.0);
  ASSERT_TRUE(ledger->flush().ok());
  auto other = open_store(dir.path());
  auto settled = other->recover_open("someone else", {ledger->instance_id()}, unix_ms_now());
  ASSERT_TRUE(settled.ok()) << settled.error().message;
  EXPECT_EQ(*settled, 1);
  EXPECT_TRUE(find(*other, "stalled").recovered);

  ledger->progress("stalled", {10, 0, 7, 0}, 5.0);  // still lands: counts only rise
  ASSERT_TRUE(ledger->flush().ok());
  EXPECT_EQ(find(*other, "stalled").tokens.completion, 7);
  ledger->finalize(final_record(record, {10, 0, 9, 0}));
  ASSERT_TRUE(ledger->flush().ok());
  UsageRecord stored = find(*other, "stalled");
  EXPECT_EQ(stored.status, UsageStatus::kOk);
  EXPECT_EQ(stored.tokens.completion, 9);
  EXPECT_FALSE(stored.recovered);
  EXPECT_EQ(ledger->late_finals(), 1);
}

// Instances that die while this one runs are settled by its periodic recovery.
TEST(LedgerInstancesTest, PeriodicRecoverySettlesInstancesWhoseLeaseEnds) {
  TempDir dir;
  LedgerOptions options;
  options.heartbeat_interval = 10ms;
  options.lease = 100ms;
  options.recovery_interval = 20ms;
  auto ledger = start_ledger(dir.path(), options);
  ASSERT_TRUE(ledger);
  auto other = open_store(dir.path());
  add_instance_with_open_record(*other, other_instance("dies", unix_ms_now() + 200), "of-dies");
  EXPECT_EQ(find(*other, "of-dies").status, UsageStatus::kOpen);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  // The record turns final in the store a moment before the ledger counts it: wait for both.
  while ((find(*other, "of-dies").status == UsageStatus::kOpen ||
          ledger->recovered_since_start() == 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(find(*other, "of-dies").status, UsageStatus::kAborted);
  EXPECT_EQ(ledger->recovered_since_start(), 1);
  // This ledger's own lease stayed alive meanwhile (heartbeats).
  auto instances = other->instances();
  ASSERT_TRUE(instances.ok());
  ASSERT_EQ(instances->size(), 1u);
  EXPECT_EQ(instances->at(0).id, ledger->instance_id());
  EXPECT_GE(instances->at(0).expires_at_ms, unix_ms_now());
}

// A ledger that stops ends its lease: what it left open is settled by the next start.
TEST(LedgerInstancesTest, AStoppedLedgersLeftoversAreSettledAtTheNextStart) {
  TempDir dir;
  {
    auto ledger = start_ledger(dir.path());
    ASSERT_TRUE(ledger);
    ASSERT_TRUE(ledger->open(open_record("abandoned", "key_a", "m", kT0, 10)));
  }
  auto next = start_ledger(dir.path());
  ASSERT_TRUE(next);
  EXPECT_EQ(next->recovered_at_start(), 1);
}

TEST(LedgerInstancesTest, WorkerNameIsStampedOnRecordsWithoutOne) {
  TempDir dir;
  auto ledger = start_ledger(dir.path());
  ASSERT_TRUE(ledger);
  ledger->set_worker("host:43210");
  UsageRecord record = open_record("r1", "key_a", "m", kT0, 10);
  record.worker.clear();
  ASSERT_TRUE(ledger->open(record));
  ledger->finalize(final_record(record, {10, 0, 1, 0}));
  ASSERT_TRUE(ledger->flush().ok());
  EXPECT_EQ(find(ledger->store(), "r1").worker, "host:43210");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  std::string row_worker;
  while (row_worker != "host:43210" && std::chrono::steady_clock::now() < deadline) {
    auto instances = ledger->store().instances();
    ASSERT_TRUE(instances.ok());
    for (const LedgerInstance& i : *instances) {
      if (i.id == ledger->instance_id()) row_worker = i.worker;
    }
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(row_worker, "host:43210");
}

TEST(LedgerInstancesTest, LeaseMustOutlastTheHeartbeat) {
  TempDir dir;
  LedgerOptions options;
  options.heartbeat_interval = 1s;
  options.lease = 1s;
  auto ledger = Ledger::start(open_store(dir.path()), options);
  ASSERT_FALSE(ledger.ok());
  EXPECT_NE(ledger.error().message.find("lease"), std::string::npos);
}

}  // namespace
}  // namespace mx
