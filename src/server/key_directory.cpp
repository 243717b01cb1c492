#include "server/key_directory.h"

#include <spdlog/spdlog.h>

namespace mx {
namespace {

ApiError unauthorized(std::string message) {
  ApiError error = ApiError::of_status(401, std::move(message));
  error.code = "invalid_api_key";
  return error;
}

}  // namespace

bool KeyDirectory::has_keys() {
  std::lock_guard lock(mutex_);
  const Clock::time_point now = Clock::now();
  if (has_keys_known_ && now - has_keys_loaded_ < ttl_) return has_keys_;
  auto keys = store_.list_keys();
  if (!keys.ok()) {
    // Keep the last answer (fail closed once keys were seen) and say why.
    spdlog::warn("reading API keys from {}: {}", store_.describe(), keys.error().message);
    return has_keys_known_ ? has_keys_ : true;
  }
  has_keys_ = false;
  for (const ApiKey& key : *keys) has_keys_ = has_keys_ || !key.revoked;
  has_keys_known_ = true;
  has_keys_loaded_ = now;
  return has_keys_;
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
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.empty()) {
    return unauthorized(
        "missing API key: send the header 'Authorization: Bearer <key>' (keys are made with "
        "`mxserve keys create`)");
  }
  if (authorization.size() <= kBearer.size() ||
      authorization.compare(0, kBearer.size(), kBearer) != 0) {
    return unauthorized("the Authorization header must be 'Bearer <key>'");
  }
  auto key = lookup(hash_secret(std::string_view(authorization).substr(kBearer.size())));
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
  has_keys_known_ = false;
}

}  // namespace mx
