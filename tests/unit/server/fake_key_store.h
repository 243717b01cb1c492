// A LedgerStore that holds only keys, in memory, and can be made unreachable: for the tests of
// KeyDirectory and Metering (no records; usage queries answer empty).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "service/ledger_store.h"

namespace mx::test {

// A key's fields for FakeKeyStore::add: a name, optionally admin, limited to `models`, expiring.
inline ApiKey key_fields(std::string name, bool admin = false, std::vector<std::string> models = {},
                         int64_t expires_at_ms = 0) {
  ApiKey key;
  key.name = std::move(name);
  key.admin = admin;
  key.models = std::move(models);
  key.expires_at_ms = expires_at_ms;
  return key;
}

class FakeKeyStore : public LedgerStore {
 public:
  std::vector<ApiKey> keys;
  bool unreachable = false;  // every key read fails, as with a PostgreSQL server that is down
  int list_calls = 0;

  std::string describe() const override { return "fake:keys"; }
  Result<LedgerWriteOutcome> write_batch(const std::vector<LedgerOp>&) override {
    return LedgerWriteOutcome{};
  }
  Result<int64_t> recover_open(const std::string&, const std::vector<std::string>&,
                               int64_t) override {
    return int64_t{0};
  }
  Result<std::vector<LedgerInstance>> instances() override { return std::vector<LedgerInstance>{}; }
  Result<std::vector<UsageRow>> usage(const UsageQuery&, const PriceTable&) override {
    return std::vector<UsageRow>{};
  }
  Result<std::vector<UsageRecord>> records(const UsageQuery&) override {
    return std::vector<UsageRecord>{};
  }
  // Quotas in memory, as one process would see them (the stores share them: ledger tests).
  Result<QuotaDecision> reserve_quota(const ApiKey& key, int64_t tokens, int64_t now_ms) override {
    return quotas.reserve(key, tokens, now_ms);
  }
  Status release_quota(const std::string& key_id, int64_t tokens, int64_t at_ms) override {
    quotas.settle(key_id, tokens, 0, at_ms, at_ms);
    return ok_status();
  }
  QuotaTracker quotas;
  Status insert_key(const ApiKey& key) override {
    keys.push_back(key);
    return ok_status();
  }
  Status update_key(const ApiKey& key) override {
    for (ApiKey& stored : keys) {
      if (stored.id == key.id) stored = key;
    }
    return ok_status();
  }
  Result<std::optional<ApiKey>> find_key(const std::string& id) override {
    return find([&](const ApiKey& k) { return k.id == id; });
  }
  Result<std::optional<ApiKey>> find_key_by_hash(const std::string& secret_hash) override {
    return find([&](const ApiKey& k) { return k.secret_hash == secret_hash; });
  }
  Result<std::vector<ApiKey>> list_keys() override {
    ++list_calls;
    if (unreachable) return make_error(ErrorCode::kIoError, "connection refused");
    return keys;
  }

  // A new key with these fields in the store; returns its secret.
  std::string add(ApiKey fields) {
    auto made = generate_key(std::move(fields), 1'700'000'000'000);
    keys.push_back(made->key);
    return made->secret;
  }

 private:
  template <typename Match>
  Result<std::optional<ApiKey>> find(Match match) {
    if (unreachable) return make_error(ErrorCode::kIoError, "connection refused");
    auto it = std::find_if(keys.begin(), keys.end(), match);
    if (it == keys.end()) return std::optional<ApiKey>();
    return std::optional<ApiKey>(*it);
  }
};

}  // namespace mx::test
