#include "engine/kv_event_log.h"

#include <algorithm>
#include <random>

namespace mx {
namespace {

uint64_t random_log_id() {
  std::random_device device;
  const uint64_t id = (static_cast<uint64_t>(device()) << 32) ^ device();
  return id == 0 ? 1 : id;  // 0 means "no log" on the wire
}

}  // namespace

KvEventLog::KvEventLog(size_t capacity)
    : capacity_(std::max<size_t>(capacity, 1)), log_id_(random_log_id()) {}

uint64_t KvEventLog::last_seq() const {
  std::lock_guard lock(mutex_);
  return first_seq_ + events_.size() - 1;
}

void KvEventLog::append(std::span<const KvBlockEvent> events) {
  if (events.empty()) return;
  {
    std::lock_guard lock(mutex_);
    for (const KvBlockEvent& event : events) {
      if (event.removed) {
        published_.erase(event.hash);
      } else {
        published_.insert(event.hash);
      }
      events_.push_back(event);
    }
    while (events_.size() > capacity_) {
      events_.pop_front();
      ++first_seq_;
    }
  }
  std::lock_guard lock(listeners_mutex_);
  for (const auto& [id, listener] : listeners_) listener();
}

std::optional<std::vector<KvBlockEvent>> KvEventLog::read(uint64_t after_seq, size_t max) const {
  std::lock_guard lock(mutex_);
  const uint64_t last = first_seq_ + events_.size() - 1;
  // after_seq + 1 must be held, or be the next event to come.
  if (after_seq + 1 < first_seq_ || after_seq > last) return std::nullopt;
  const size_t begin = static_cast<size_t>(after_seq + 1 - first_seq_);
  const size_t end = std::min(events_.size(), begin + max);
  return std::vector<KvBlockEvent>(events_.begin() + begin, events_.begin() + end);
}

KvEventLog::Snapshot KvEventLog::snapshot() const {
  std::lock_guard lock(mutex_);
  Snapshot out;
  out.seq = first_seq_ + events_.size() - 1;
  out.hashes.assign(published_.begin(), published_.end());
  return out;
}

int KvEventLog::add_listener(std::function<void()> listener) {
  std::lock_guard lock(listeners_mutex_);
  const int id = next_listener_++;
  listeners_[id] = std::move(listener);
  return id;
}

void KvEventLog::remove_listener(int id) {
  std::lock_guard lock(listeners_mutex_);
  listeners_.erase(id);
}

}  // namespace mx
