#include "server/stop_matcher.h"

#include <algorithm>
#include <utility>

#include "server/text_match.h"

namespace mx {

StopMatcher::StopMatcher(std::vector<std::string> stop_strings) {
  for (std::string& stop : stop_strings) {
    if (!stop.empty()) stop_strings_.push_back(std::move(stop));
  }
}

std::string_view StopMatcher::matched_stop() const {
  return matched_ >= 0 ? std::string_view(stop_strings_[matched_]) : std::string_view();
}

std::string StopMatcher::feed(std::string_view piece) {
  if (stopped()) return {};
  held_.append(piece);
  // The earliest occurrence of any stop string. held_ never holds a complete one from before
  // (it would have matched then), so searching all of it finds matches that span pieces.
  size_t first = std::string::npos;
  for (size_t i = 0; i < stop_strings_.size(); ++i) {
    const size_t at = held_.find(stop_strings_[i]);
    if (at < first) {
      first = at;
      matched_ = static_cast<int>(i);
    }
  }
  if (first != std::string::npos) {
    std::string before = held_.substr(0, first);
    held_.clear();
    return before;
  }
  size_t keep = 0;
  for (const std::string& stop : stop_strings_) {
    keep = std::max(keep, text_match::partial_suffix_length(held_, stop));
  }
  std::string ready = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return ready;
}

std::string StopMatcher::finish() {
  if (stopped()) return {};
  return std::exchange(held_, {});
}

}  // namespace mx
