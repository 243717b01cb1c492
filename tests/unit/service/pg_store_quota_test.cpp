// Quotas shared by two PgStores on one database (two frontends), against a real server (see
// pg_test_util.h). Named PgStoreTest.* so test_ledger_postgres runs them.
#include "pg_test_util.h"
#include "quota_store_checks.h"

namespace mx {
namespace {

using namespace quota_checks;
using pg_test::PgStoreTest;

std::unique_ptr<LedgerStore> second_store(const std::string& url) {
  auto store = open_postgres_store(url);
  EXPECT_TRUE(store.ok()) << store.error().message;
  return store.ok() ? std::move(store).value() : nullptr;
}

TEST_F(PgStoreTest, QuotaLimitHoldsAcrossStores) {
  auto other = second_store(database_->url());
  ASSERT_TRUE(other);
  limit_holds_across_stores(*store_, *other);
}

TEST_F(PgStoreTest, QuotaConcurrentReservationsNeverExceedTheLimit) {
  auto other = second_store(database_->url());
  ASSERT_TRUE(other);
  concurrent_reservations_never_exceed(*store_, *other, 60);
}

TEST_F(PgStoreTest, QuotaFinalRecordSettles) {
  auto other = second_store(database_->url());
  ASSERT_TRUE(other);
  final_record_settles(*store_, *other);
}

TEST_F(PgStoreTest, QuotaRecoverySettles) {
  auto other = second_store(database_->url());
  ASSERT_TRUE(other);
  recovery_settles(*store_, *other);
}

}  // namespace
}  // namespace mx
