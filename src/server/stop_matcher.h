// StopMatcher: stop strings matched across token boundaries, on a generation's text as it is
// decoded piece by piece.
//
// feed() returns only text that can no longer be the start of a stop string: it holds back the
// longest suffix that is a prefix of some stop string, and it never returns the stop string
// itself. Once a stop string is complete, feed() returns the text before it, stopped() turns
// true and every later call returns nothing. finish() flushes the held-back text at the end of a
// generation that did not stop. The concatenated output never depends on how the text was cut
// into pieces: it is the text before the earliest occurrence of any stop string (or all of it).
// Matching is on bytes; for valid UTF-8 input the cut points are character boundaries.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mx {

class StopMatcher {
 public:
  // Empty strings in `stop_strings` are ignored.
  explicit StopMatcher(std::vector<std::string> stop_strings);

  std::string feed(std::string_view piece);
  std::string finish();

  bool stopped() const { return matched_ >= 0; }
  // The stop string that matched (empty while none has).
  std::string_view matched_stop() const;

 private:
  std::vector<std::string> stop_strings_;
  std::string held_;
  int matched_ = -1;
};

}  // namespace mx
