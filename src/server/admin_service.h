// AdminService: the Tokens service's HTTP side next to the OpenAI routes.
//   GET  /v1/usage                usage report (any key: its own; admin: all, filters)
//                                 ?key_id= &tenant= &model= &from= &to= (ISO 8601 or unix s)
//                                 &group_by=none|hour|day|model|key &format=json|csv
//   GET  /admin/keys              the keys (never secrets)                      admin
//   POST /admin/keys              create: {"name", "tenant", "models", "tokens_per_day",
//                                 "tokens_per_minute", "requests_per_minute", "expires_at",
//                                 "admin"} -> the key and its secret, shown once   admin
//   POST /admin/keys/update       {"id", fields to change}                       admin
//   POST /admin/keys/revoke       {"id"}                                         admin
//   GET  /admin/usage/records     the usage records (same filters as /v1/usage)  admin
//   GET  /dashboard               the dashboard page (its data calls use the admin key)
#pragma once

#include <memory>
#include <mutex>

#include "server/http_server.h"
#include "server/metering.h"
#include "server/metrics.h"
#include "service/usage.h"

namespace mx {

class AdminService {
 public:
  AdminService(Metering& metering, Metrics& metrics, PriceTable prices)
      : metering_(metering), metrics_(metrics), prices_(std::move(prices)) {}

  void register_routes(HttpServer& server);

 private:
  using Responder = std::shared_ptr<HttpResponder>;
  bool ledger_caller(const std::string& route, const HttpRequest& request, bool need_admin,
                     const Responder& responder, Caller& caller);
  ApiResult<UsageQuery> usage_query(const HttpRequest& request, const Caller& caller, bool& csv);
  void handle_usage(const HttpRequest& request, const Responder& responder);
  void handle_records(const HttpRequest& request, const Responder& responder);
  void handle_list_keys(const HttpRequest& request, const Responder& responder);
  void handle_create_key(const HttpRequest& request, const Responder& responder);
  void handle_update_key(const HttpRequest& request, const Responder& responder, bool revoke);
  void reply_error(const std::string& route, const ApiError& error, const Responder& responder);
  void reply(const std::string& route, int status, std::string content_type, std::string body,
             const Responder& responder);

  Metering& metering_;
  Metrics& metrics_;
  PriceTable prices_;
  std::mutex bootstrap_mutex_;  // the first key, made without a key in open mode
};

}  // namespace mx
