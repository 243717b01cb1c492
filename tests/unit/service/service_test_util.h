// Helpers shared by the service tests: a temporary directory and usage records.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "service/usage.h"

namespace mx::test {

// A fresh directory under /tmp, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/mxserve-service-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An open record as the server makes it at admission.
inline UsageRecord open_record(std::string request_id, std::string key_id, std::string model,
                               int64_t started_at_ms, int64_t prompt_tokens = 0) {
  UsageRecord record;
  record.request_id = std::move(request_id);
  record.key_id = std::move(key_id);
  record.tenant = "tenant-" + record.key_id;
  record.model = std::move(model);
  record.tokens.prompt = prompt_tokens;
  record.reserved_tokens = prompt_tokens + 100;
  record.worker = "test:8080";
  record.started_at_ms = started_at_ms;
  return record;
}

// The record made final with these counts and status ok.
inline UsageRecord final_record(UsageRecord record, TokenCounts tokens,
                                UsageStatus status = UsageStatus::kOk) {
  record.tokens = tokens;
  record.status = status;
  record.ttft_ms = 12.5;
  record.e2e_ms = 250.0;
  record.finished_at_ms = record.started_at_ms + 250;
  return record;
}

}  // namespace mx::test
