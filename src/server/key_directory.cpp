#include "server/key_directory.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

namespace mx {
namespace {

ApiError unauthorized(std::string message) {
  ApiError error = ApiError::of_status(401, std::move(message));
  error.code = "invalid_api_key";
  return error;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

ApiResult<bool> KeyDirectory::open_mode() {
  std::lock_guard lock(mutex_);
  if (keys_seen_) return false;
  const Clock::time_point now = Clock::now();
  if (open_checked_ && now - *open_checked_ < ttl_) return true;
  auto keys = store_.list_keys();
  if (!keys.ok()) {
    spdlog::warn("reading API keys from {}: {}", store_.describe(), keys.error().message);
    return ApiError::of_status(
        503, "the key store is unavailable, so the API key cannot be checked; retry shortly");
  }
  if (!keys->empty()) {
    keys_seen_ = true;
    if (open_announced_) {
      spdlog::warn(
          "open mode ended: {} holds API keys now; every request needs a valid key "
          "from now on",
          store_.describe());
    }
    return false;
  }
  if (!open_announced_) {
    spdlog::warn(
        "OPEN MODE: {} has never held an API key, so every caller is served without "
        "a key and may use the admin API; it ends when the first key is created "
        "(mxserve keys create --admin, or POST /admin/keys from this host)",
        store_.describe());
    open_announced_ = true;
  }
  open_checked_ = now;
  return true;
}

ApiResult<std::optional<ApiKey>> KeyDirectory::lookup(const std::string& secret_hash) {
  std::lock_guard lock(mutex_);
  const Clock::time_point now = Clock::now();
  auto it = by_hash_.find(secret_hash);
  if (it != by_hash_.end() && now - it->second.loaded < ttl_) return it->second.key;
  auto found = store_.find_key_by_hash(secret_hash);
  if (!found.ok()) {
    spdlog::warn("looking up an API key in {}: {}", store_.describe(), found.error().message);
    return ApiError::of_status(503, "the key store is unavailable; retry shortly");
  }
  if (by_hash_.size() > 100'000) by_hash_.clear();  // bound memory against random secrets
  by_hash_[secret_hash] = Entry{*found, now};
  return *found;
}

ApiResult<ApiKey> KeyDirectory::authenticate(const std::string& authorization, int64_t now_ms) {
  if (authorization.empty()) {
    return unauthorized(
        "missing API key: send the header 'Authorization: Bearer <key>' (keys are made with "
        "`mxserve keys create`)");
  }
  // RFC 9110 §11.1: the scheme is case-insensitive and one or more spaces follow it.
  const std::string_view value = authorization;
  const size_t space = value.find(' ');
  const size_t secret_at = value.find_first_not_of(' ', space);
  if (space == std::string_view::npos || !equals_ignoring_case(value.substr(0, space), "bearer") ||
      secret_at == std::string_view::npos) {
    return unauthorized("the Authorization header must be 'Bearer <key>'");
  }
  auto key = lookup(hash_secret(value.substr(secret_at)));
  if (!key.ok()) return key.error();
  if (!key->has_value()) return unauthorized("invalid API key");
  const std::string unusable = key_unusable_reason(**key, now_ms);
  if (!unusable.empty()) {
    ApiError error = ApiError::of_status(403, fmt::format("this API key is {}", unusable));
    error.type = "permission_error";
    error.code = "invalid_api_key";
    return error;
  }
  return **key;
}

void KeyDirectory::invalidate() {
  std::lock_guard lock(mutex_);
  by_hash_.clear();
  open_checked_.reset();
}

}  // namespace mx
