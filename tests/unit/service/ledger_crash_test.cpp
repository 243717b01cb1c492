// The Ledger's promise under SIGKILL: whatever a commit callback reported as committed is in
// the ledger after the process dies, and the next start settles what was left open.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "service/ledger.h"
#include "service_test_util.h"

namespace mx {
namespace {

using test::final_record;
using test::open_record;
using test::TempDir;

constexpr int64_t kT0 = 1'795'417'200'000;
constexpr int kRecordsPerWave = 8;
constexpr int kSteps = 10;  // progress calls per record; the final has kSteps completion tokens

void report(int fd, const std::string& line) {
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
}

// The child: waves of records, each opened, advanced kSteps times and finalized, reporting
// every commit callback ("P id step" / "F id") on report_fd. Runs until it is killed.
[[noreturn]] void run_child(const std::string& dir, int report_fd) {
  auto store = open_ledger_store(dir);
  if (!store.ok()) {
    fprintf(stderr, "child: %s\n", store.error().message.c_str());
    _exit(3);
  }
  LedgerOptions options;
  options.flush_interval = std::chrono::milliseconds(1);
  options.max_batch = 16;
  options.max_open = 64;
  auto started = Ledger::start(std::move(store).value(), options);
  if (!started.ok()) {
    fprintf(stderr, "child: %s\n", started.error().message.c_str());
    _exit(3);
  }
  Ledger& ledger = **started;
  for (int wave = 0;; ++wave) {
    std::vector<UsageRecord> records;
    for (int i = 0; i < kRecordsPerWave; ++i) {
      records.push_back(open_record(fmt::format("w{}-{}", wave, i), "key_a", "m", kT0 + wave, 10));
      while (!ledger.open(records.back()))
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (int step = 1; step <= kSteps; ++step) {
      for (const UsageRecord& r : records) {
        ledger.progress(r.request_id, {10, 0, step, 0}, 5.0, [=, id = r.request_id] {
          report(report_fd, fmt::format("P {} {}\n", id, step));
        });
      }
    }
    for (const UsageRecord& r : records) {
      ledger.finalize(final_record(r, {10, 0, kSteps, 0}),
                      [=, id = r.request_id] { report(report_fd, fmt::format("F {}\n", id)); });
    }
  }
}

// Reads report lines until `enough` arrived (then kills the child) and on to EOF.
std::string collect_reports(int fd, pid_t child, size_t enough) {
  std::string text;
  bool killed = false;
  char buffer[4096];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 30'000) <= 0) {
      ADD_FAILURE() << "the child reported nothing for 30 s";
      kill(child, SIGKILL);
      break;
    }
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (!killed && static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) >= enough) {
      kill(child, SIGKILL);
      killed = true;
    }
  }
  return text.substr(0, text.rfind('\n') + 1);  // a line cut by the kill does not count
}

TEST(LedgerCrashTest, CommittedRecordsSurviveSigkill) {
  TempDir dir;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    run_child(dir.path(), fds[1]);
  }
  close(fds[1]);
  std::string reports = collect_reports(fds[0], child, 2000);
  close(fds[0]);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL)
      << "the child ended on its own (status " << wait_status << ")";

  std::map<std::string, int64_t> progressed;  // request id → highest step reported
  std::set<std::string> finalized;
  std::istringstream lines(reports);
  for (std::string kind, id; lines >> kind >> id;) {
    if (kind == "F") {
      finalized.insert(id);
      continue;
    }
    int64_t step = 0;
    lines >> step;
    progressed[id] = std::max(progressed[id], step);
  }
  ASSERT_GE(progressed.size(), 100u);

  auto store = open_ledger_store(dir.path());
  ASSERT_TRUE(store.ok()) << store.error().message;
  UsageQuery everything;
  everything.include_open = true;
  auto before = (*store)->records(everything);
  ASSERT_TRUE(before.ok());
  std::map<std::string, UsageRecord> stored;
  int64_t still_open = 0;
  for (const UsageRecord& r : *before) {
    stored[r.request_id] = r;
    still_open += r.status == UsageStatus::kOpen;
  }
  for (const auto& [id, step] : progressed) {
    ASSERT_TRUE(stored.count(id)) << id << " was reported committed but is missing";
    EXPECT_GE(stored[id].tokens.completion, step) << id;
  }
  for (const std::string& id : finalized) {
    EXPECT_EQ(stored[id].status, UsageStatus::kOk) << id;
    EXPECT_EQ(stored[id].tokens.completion, kSteps) << id;
  }

  auto ledger = Ledger::start(std::move(store).value());
  ASSERT_TRUE(ledger.ok()) << ledger.error().message;
  EXPECT_EQ((*ledger)->recovered_at_start(), still_open);
  auto after = (*ledger)->store().records(everything);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), before->size());
  for (const UsageRecord& r : *after) {
    EXPECT_NE(r.status, UsageStatus::kOpen) << r.request_id;
    const UsageRecord& old = stored[r.request_id];
    EXPECT_EQ(r.recovered, old.status == UsageStatus::kOpen) << r.request_id;
    EXPECT_EQ(r.tokens.completion, old.tokens.completion) << r.request_id;
  }
}

}  // namespace
}  // namespace mx
