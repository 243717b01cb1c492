#include "server/json_parse.h"

#include <fmt/format.h>

#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mx {
namespace {

using Json = nlohmann::ordered_json;
// ordered_json's object: a vector of (key, value) pairs; appending to the vector directly
// skips ordered_map's linear duplicate scan (this file keeps its own index instead).
using Members = Json::object_t::Container;

// Objects up to this many keys are searched linearly for a duplicate; larger ones get a hash
// index (key → position), so a lookup stays O(1) however many keys an object holds.
constexpr size_t kLinearSearchKeys = 16;

// nlohmann's message without its "[json.exception.parse_error.101] " prefix; bytes outside
// printable ASCII (the "last read" excerpt may hold a cut UTF-8 sequence) become '?'.
std::string clean_message(std::string_view what) {
  if (const size_t bracket = what.find("] "); what.starts_with("[json.") && bracket != what.npos) {
    what.remove_prefix(bracket + 2);
  }
  std::string message(what);
  for (char& c : message) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) c = '?';
  }
  return message;
}

// SAX consumer that builds an ordered_json in linear time and enforces JsonLimits.
class BoundedBuilder {
 public:
  BoundedBuilder(const JsonLimits& limits, std::string_view what) : limits_(limits), what_(what) {}

  bool null() { return add(Json(nullptr)); }
  bool boolean(bool value) { return add(Json(value)); }
  bool number_integer(Json::number_integer_t value) { return add(Json(value)); }
  bool number_unsigned(Json::number_unsigned_t value) { return add(Json(value)); }
  bool number_float(Json::number_float_t value, const std::string&) { return add(Json(value)); }
  bool string(std::string& value) { return add(Json(std::move(value))); }
  bool binary(Json::binary_t& value) { return add(Json(std::move(value))); }

  bool start_object(size_t) { return open(Json::object()); }
  bool start_array(size_t) { return open(Json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(std::string& key) {
    if (++keys_ > limits_.max_keys) {
      return fail(fmt::format("{} has more than {} object keys; send fewer fields", what_,
                              limits_.max_keys));
    }
    Frame& frame = stack_.back();
    Members& members = frame.container->get_ref<Json::object_t&>();
    if (std::optional<size_t> at = find(frame, members, key)) {
      slot_ = &members[*at].second;  // a duplicated key: the last value wins
      return true;
    }
    if (!frame.index.empty() || members.size() >= kLinearSearchKeys) {
      if (frame.index.empty()) {
        for (size_t i = 0; i < members.size(); ++i) frame.index.emplace(members[i].first, i);
      }
      frame.index.emplace(key, members.size());
    }
    members.emplace_back(std::move(key), nullptr);
    slot_ = &members.back().second;
    return true;
  }

  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception& error) {
    if (!error_.empty()) return false;  // a bound already failed the parse
    const auto* syntax = dynamic_cast<const nlohmann::detail::parse_error*>(&error);
    error_ = syntax ? fmt::format("{} is not valid JSON: {} (byte {})", what_,
                                  clean_message(error.what()), syntax->byte)
                    : fmt::format("{} is not valid JSON: {}", what_, clean_message(error.what()));
    return false;
  }

  const std::string& error() const { return error_; }
  Json take() { return std::move(root_); }

 private:
  struct Frame {
    Json* container;
    std::unordered_map<std::string, size_t> index;  // filled once the object is large
  };

  std::optional<size_t> find(const Frame& frame, const Members& members, const std::string& key) {
    if (!frame.index.empty()) {
      auto it = frame.index.find(key);
      if (it == frame.index.end()) return std::nullopt;
      return it->second;
    }
    for (size_t i = 0; i < members.size(); ++i) {
      if (members[i].first == key) return i;
    }
    return std::nullopt;
  }

  bool fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  // Places `value` where the next value goes; returns where it now lives.
  Json* place(Json&& value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Json& top = *stack_.back().container;
    if (top.is_array()) {
      auto& elements = top.get_ref<Json::array_t&>();
      elements.push_back(std::move(value));
      return &elements.back();
    }
    *slot_ = std::move(value);
    return slot_;
  }

  bool count_value() {
    if (++values_ <= limits_.max_values) return true;
    return fail(fmt::format("{} has more than {} JSON values; send a smaller body", what_,
                            limits_.max_values));
  }

  bool add(Json&& value) {
    if (!count_value()) return false;
    place(std::move(value));
    return true;
  }

  bool open(Json&& container) {
    if (!count_value()) return false;
    if (static_cast<int>(stack_.size()) >= limits_.max_depth) {
      return fail(
          fmt::format("{} nests arrays/objects deeper than {} levels", what_, limits_.max_depth));
    }
    stack_.push_back(Frame{place(std::move(container)), {}});
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  const JsonLimits& limits_;
  std::string_view what_;
  Json root_;
  std::vector<Frame> stack_;
  Json* slot_ = nullptr;  // the member value the next value fills (inside an object)
  size_t keys_ = 0, values_ = 0;
  std::string error_;
};

}  // namespace

Result<Json> parse_json_bounded(std::string_view text, const JsonLimits& limits,
                                std::string_view what) {
  BoundedBuilder builder(limits, what);
  bool parsed = false;
  try {
    parsed = Json::sax_parse(text, &builder);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const nlohmann::json::exception& error) {
    return make_error(ErrorCode::kInvalidArgument, "{} is not valid JSON: {}", what,
                      clean_message(error.what()));
  }
  if (!parsed) {
    return make_error(
        ErrorCode::kInvalidArgument, "{}",
        builder.error().empty() ? fmt::format("{} is not valid JSON", what) : builder.error());
  }
  return builder.take();
}

}  // namespace mx
