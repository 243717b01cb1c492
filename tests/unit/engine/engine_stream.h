// Stream: collects one engine request's events in tests; wait() blocks until its final event.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

#include "engine/engine.h"

namespace mx {

struct Stream {
  std::mutex mutex;
  std::condition_variable done_cv;
  std::vector<int32_t> tokens;
  std::vector<TokenEvent> finals;
  TokenEvent last;

  std::function<void(const TokenEvent&)> callback() {
    return [this](const TokenEvent& e) {
      std::lock_guard lock(mutex);
      if (e.token.token >= 0 && !e.stop_token) tokens.push_back(e.token.token);
      last = e;
      if (e.finished) {
        EXPECT_TRUE(e.error.empty()) << e.error;
        finals.push_back(e);
        done_cv.notify_all();
      }
    };
  }
  void wait() {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(done_cv.wait_for(lock, std::chrono::seconds(120), [&] { return !finals.empty(); }));
  }
};

}  // namespace mx
