#include "server/metering.h"

#include <fmt/format.h>

#include "server/http_wire.h"

namespace mx {

void MeteredRequest::progress(const TokenCounts& tokens, double ttft_ms,
                              std::function<void()> then) {
  if (!ledger_ || finished_.load()) {
    if (then) then();
    return;
  }
  ledger_->progress(record_.request_id, tokens, ttft_ms, std::move(then));
}

void MeteredRequest::finish(UsageStatus status, const TokenCounts& tokens, double ttft_ms,
                            double e2e_ms, std::function<void()> then) {
  if (finished_.exchange(true)) {
    if (then) then();
    return;
  }
  const int64_t now = unix_ms_now();
  if (!ledger_) {
    if (then) then();
    return;
  }
  UsageRecord final_record = record_;
  final_record.tokens = tokens;
  final_record.status = status;
  final_record.ttft_ms = ttft_ms;
  final_record.e2e_ms = e2e_ms;
  final_record.finished_at_ms = now;
  ledger_->finalize(final_record, std::move(then));
}

Metering::Metering(LedgerStore* store, Ledger* ledger, MeteringConfig config)
    : store_(store), ledger_(ledger), config_(std::move(config)) {
  if (store_) keys_ = std::make_unique<KeyDirectory>(*store_);
}

bool Metering::open_mode() {
  if (!keys_) return true;
  auto open = keys_->open_mode();
  return open.ok() && *open;
}

ApiResult<Caller> Metering::identify(const HttpRequest& request) {
  if (!keys_) return Caller{};
  auto open = keys_->open_mode();
  if (!open.ok()) return open.error();
  if (*open) return Caller{};
  // Two Authorization fields would leave it to chance (or to a proxy) which one counts.
  const std::string* authorization = nullptr;
  for (const auto& [name, value] : request.headers) {
    if (!detail::header_name_equals(name, "authorization")) continue;
    if (authorization) {
      ApiError error = ApiError::bad_request(
          "the request has more than one Authorization header: send exactly one, "
          "'Authorization: Bearer <key>'");
      error.code = "invalid_api_key";
      return error;
    }
    authorization = &value;
  }
  auto key = keys_->authenticate(authorization ? *authorization : std::string(), unix_ms_now());
  if (!key.ok()) return key.error();
  return Caller{std::move(*key)};
}

ApiResult<Caller> Metering::identify_admin(const HttpRequest& request) {
  auto caller = identify(request);
  if (!caller.ok() || caller->admin()) return caller;
  ApiError error = ApiError::of_status(403, "this route needs an admin key (keys create --admin)");
  error.type = "permission_error";
  return error;
}

std::optional<ApiError> Metering::check_model(const Caller& caller,
                                              const std::string& model) const {
  if (!caller.key || key_allows_model(*caller.key, model)) return std::nullopt;
  ApiError error =
      ApiError::of_status(403, fmt::format("this API key may not use the model '{}'", model));
  error.type = "permission_error";
  error.param = "model";
  return error;
}

ApiResult<std::shared_ptr<MeteredRequest>> Metering::admit(const Caller& caller,
                                                           const std::string& request_id,
                                                           const std::string& model,
                                                           const TokenCounts& prompt,
                                                           int64_t reserve_tokens) {
  const int64_t now = unix_ms_now();
  if (auto denied = check_model(caller, model)) return *denied;
  if (caller.key && store_) {
    Result<QuotaDecision> reserved = store_->reserve_quota(*caller.key, reserve_tokens, now);
    if (!reserved.ok()) {
      return ApiError::of_status(
          503, fmt::format("cannot check the key's quota in the ledger: {}; retry shortly",
                           reserved.error().message));
    }
    const QuotaDecision& decision = *reserved;
    if (!decision.allowed) {
      if (decision.retry_after_s == 0) return ApiError::bad_request(decision.message, "max_tokens");
      ApiError error = ApiError::of_status(429, decision.message);
      error.type = "rate_limit_error";
      error.code = "rate_limit_exceeded";
      error.retry_after_s = decision.retry_after_s;
      return error;
    }
  }
  UsageRecord record;
  record.request_id = request_id;
  record.key_id = caller.key_id();
  record.tenant = caller.key ? caller.key->tenant : std::string();
  record.model = model;
  record.tokens = prompt;
  record.reserved_tokens = reserve_tokens;
  record.worker = config_.worker;
  record.started_at_ms = now;
  if (ledger_ && !ledger_->open(record)) {
    if (caller.key && store_) (void)store_->release_quota(caller.key->id, reserve_tokens, now);
    return ApiError::of_status(
        503, "the server has too many requests in flight for its usage ledger; retry shortly");
  }
  return std::make_shared<MeteredRequest>(ledger_, std::move(record));
}

}  // namespace mx
