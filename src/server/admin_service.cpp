#include "server/admin_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

#include "dashboard_page.h"
#include "server/json_fields.h"
#include "server/openai_request.h"
#include "server/url_query.h"
#include "service/stored_text.h"
#include "service/usage_format.h"

namespace mx {
namespace {

using json_fields::Json;  // request bodies (ordered_json)
using nlohmann::json;

// Reads one optional field of a key body into `out`; an ApiError names a wrong type.
template <typename T>
std::optional<ApiError> read_field(const Json& body, const char* name, T& out) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  try {
    out = it->get<T>();
  } catch (const Json::exception&) {
    return ApiError::bad_request(fmt::format("'{}' has the wrong type", name), name);
  }
  return std::nullopt;
}

// "expires_at": an ISO 8601 time after now, or null (never). A time already past is refused
// (to stop a key now, revoke it) rather than stored as a key that is born expired.
std::optional<ApiError> read_expiry(const Json& body, int64_t now_ms, ApiKey& key) {
  auto expires = body.find("expires_at");
  if (expires == body.end()) return std::nullopt;
  if (expires->is_null()) {
    key.expires_at_ms = 0;
    return std::nullopt;
  }
  if (!expires->is_string()) {
    return ApiError::bad_request("'expires_at' must be an ISO 8601 time or null", "expires_at");
  }
  auto when = parse_utc_time(expires->get<std::string>());
  if (!when.ok()) return ApiError::bad_request(when.error().message, "expires_at");
  if (when->unix_ms <= now_ms) {
    return ApiError::bad_request(
        fmt::format("'expires_at' {} is in the past; to stop a key now, revoke it "
                    "(POST /admin/keys/revoke)",
                    format_utc_time(when->unix_ms)),
        "expires_at");
  }
  key.expires_at_ms = when->unix_ms;
  return std::nullopt;
}

// The fields of a create / update body onto `key` (fields absent stay as they are). Limits
// must be JSON integers (1.5 is refused, not truncated); the result must pass
// find_key_field_problem.
std::optional<ApiError> apply_key_fields(const Json& body, int64_t now_ms, ApiKey& key) {
  static const char* kKnown[] = {"id", "name", "tenant", "models", "tokens_per_day",
                                 "tokens_per_minute", "requests_per_minute", "expires_at",
                                 "admin"};
  for (const auto& [name, value] : body.items()) {
    if (std::find_if(std::begin(kKnown), std::end(kKnown),
                     [&field = name](const char* k) { return field == k; }) == std::end(kKnown)) {
      return ApiError::bad_request(fmt::format("unknown field '{}'", name), name);
    }
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  std::optional<ApiError> error;
  if ((error = read_field(body, "name", key.name))) return error;
  if ((error = read_field(body, "tenant", key.tenant))) return error;
  if ((error = read_field(body, "models", key.models))) return error;
  const std::pair<const char*, int64_t*> limits[] = {
      {"tokens_per_day", &key.tokens_per_day},
      {"tokens_per_minute", &key.tokens_per_minute},
      {"requests_per_minute", &key.requests_per_minute}};
  for (const auto& [name, limit] : limits) {
    if ((error = json_fields::read_int(body, name, name, 0, kMax, *limit))) return error;
  }
  if ((error = read_field(body, "admin", key.admin))) return error;
  if ((error = read_expiry(body, now_ms, key))) return error;
  if (auto problem = find_key_field_problem(key)) {
    return ApiError::bad_request(fmt::format("'{}' {}", problem->field, problem->message),
                                 problem->field);
  }
  return std::nullopt;
}

// A time parameter of a usage query: ISO 8601 (a date alone is midnight UTC; as `to` it means
// the end of that day) or unix seconds.
std::optional<ApiError> read_time(const QueryParams& params, const char* name, bool end_of_day,
                                  int64_t& out) {
  auto it = params.find(name);
  if (it == params.end() || it->second.empty()) return std::nullopt;
  const std::string& text = it->second;
  if (text.find_first_not_of("0123456789") == std::string::npos && text.size() <= 12) {
    out = std::stoll(text) * 1000;
    return std::nullopt;
  }
  auto when = parse_utc_time(text);
  if (!when.ok()) return ApiError::bad_request(when.error().message, name);
  out = when->unix_ms + (end_of_day && when->date_only ? int64_t{24} * 3600 * 1000 : 0);
  return std::nullopt;
}

}  // namespace

void AdminService::register_routes(HttpServer& server) {
  server.route("GET", "/v1/usage", [this](const HttpRequest& r, auto responder) {
    handle_usage(r, responder);
  });
  server.route("GET", "/admin/usage/records", [this](const HttpRequest& r, auto responder) {
    handle_records(r, responder);
  });
  server.route("GET", "/admin/keys", [this](const HttpRequest& r, auto responder) {
    handle_list_keys(r, responder);
  });
  server.route("POST", "/admin/keys", [this](const HttpRequest& r, auto responder) {
    handle_create_key(r, responder);
  });
  server.route("POST", "/admin/keys/update", [this](const HttpRequest& r, auto responder) {
    handle_update_key(r, responder, false);
  });
  server.route("POST", "/admin/keys/revoke", [this](const HttpRequest& r, auto responder) {
    handle_update_key(r, responder, true);
  });
  // The page holds no data: it asks for the admin key and sends it with its own requests.
  server.route("GET", "/dashboard", [this](const HttpRequest&, auto responder) {
    reply("/dashboard", 200, "text/html; charset=utf-8", std::string(kDashboardPage), responder);
  });
}

// The caller of a ledger route, or false after answering: 401 / 403, or 404 when the server
// runs without a ledger (--no-ledger: no keys, no records).
bool AdminService::ledger_caller(const std::string& route, const HttpRequest& request,
                                 bool need_admin, const Responder& responder, Caller& caller) {
  auto identified = need_admin ? metering_.identify_admin(request) : metering_.identify(request);
  if (!identified.ok()) {
    reply_error(route, identified.error(), responder);
    return false;
  }
  if (!metering_.has_store()) {
    reply_error(route,
                ApiError::of_status(404, "this server keeps no usage ledger and no keys "
                                         "(started with --no-ledger)"),
                responder);
    return false;
  }
  caller = std::move(*identified);
  return true;
}

void AdminService::reply_error(const std::string& route, const ApiError& error,
                               const Responder& responder) {
  metrics_.count_request(route, error.http_status);
  responder->send(error.http_status, "application/json", error.to_json());
}

void AdminService::reply(const std::string& route, int status, std::string content_type,
                         std::string body, const Responder& responder) {
  metrics_.count_request(route, status);
  responder->send(status, std::move(content_type), std::move(body));
}

// The query of /v1/usage and /admin/usage/records. A caller without an admin key sees only
// its own key's usage, whatever key_id it asks for.
ApiResult<UsageQuery> AdminService::usage_query(const HttpRequest& request, const Caller& caller,
                                                bool& csv) {
  auto params = parse_query(request.target);
  if (!params.ok()) return params.error();
  UsageQuery query;
  const auto get = [&](const char* name) {
    auto it = params->find(name);
    return it == params->end() ? std::string() : it->second;
  };
  query.key_id = caller.admin() ? get("key_id") : caller.key_id();
  query.tenant = get("tenant");
  query.model = get("model");
  if (auto error = read_time(*params, "from", false, query.from_ms)) return *error;
  if (auto error = read_time(*params, "to", true, query.to_ms)) return *error;
  const std::string group = get("group_by");
  if (!group.empty()) {
    auto parsed = parse_usage_group(group);
    if (!parsed) {
      return ApiError::bad_request(
          fmt::format("group_by must be none, hour, day, model or key, got '{}'", group),
          "group_by");
    }
    query.group = *parsed;
  }
  query.include_open = get("include_open") == "true";
  const std::string format = get("format");
  if (!format.empty() && format != "json" && format != "csv") {
    return ApiError::bad_request(fmt::format("format must be json or csv, got '{}'", format),
                                 "format");
  }
  csv = format == "csv";
  return query;
}

void AdminService::handle_usage(const HttpRequest& request, const Responder& responder) {
  const std::string route = "/v1/usage";
  Caller caller;
  if (!ledger_caller(route, request, false, responder, caller)) return;
  bool csv = false;
  auto query = usage_query(request, caller, csv);
  if (!query.ok()) return reply_error(route, query.error(), responder);
  auto rows = metering_.store().usage(*query, prices_);
  if (!rows.ok()) return reply_error(route, ApiError::server_error(rows.error().message), responder);
  if (csv) return reply(route, 200, "text/csv", usage_report_csv(*rows, query->group), responder);
  reply(route, 200, "application/json", usage_report_json(*rows, query->group), responder);
}

void AdminService::handle_records(const HttpRequest& request, const Responder& responder) {
  const std::string route = "/admin/usage/records";
  Caller caller;
  if (!ledger_caller(route, request, true, responder, caller)) return;
  bool csv = false;
  auto query = usage_query(request, caller, csv);
  if (!query.ok()) return reply_error(route, query.error(), responder);
  query->include_open = true;
  auto records = metering_.store().records(*query);
  if (!records.ok()) {
    return reply_error(route, ApiError::server_error(records.error().message), responder);
  }
  if (csv) return reply(route, 200, "text/csv", usage_records_csv(*records, prices_), responder);
  reply(route, 200, "application/json", usage_records_json(*records, prices_), responder);
}

void AdminService::handle_list_keys(const HttpRequest& request, const Responder& responder) {
  const std::string route = "/admin/keys";
  Caller caller;
  if (!ledger_caller(route, request, true, responder, caller)) return;
  auto keys = metering_.store().list_keys();
  if (!keys.ok()) return reply_error(route, ApiError::server_error(keys.error().message), responder);
  json data = json::array();
  for (const ApiKey& key : *keys) data.push_back(api_key_json(key, unix_ms_now()));
  reply(route, 200, "application/json", json_text(json{{"object", "list"}, {"data", data}}),
        responder);
}

void AdminService::handle_create_key(const HttpRequest& request, const Responder& responder) {
  const std::string route = "/admin/keys";
  Caller caller;
  if (!ledger_caller(route, request, true, responder, caller)) return;
  auto body = parse_request_json(request.body);
  if (!body.ok()) return reply_error(route, body.error(), responder);
  ApiKey fields;
  if (auto error = apply_key_fields(*body, unix_ms_now(), fields)) {
    return reply_error(route, *error, responder);
  }
  if (body->contains("id")) {
    return reply_error(route, ApiError::bad_request("'id' is chosen by the server", "id"),
                       responder);
  }
  if (fields.name.empty()) {
    return reply_error(route, ApiError::bad_request("a key needs a 'name'", "name"), responder);
  }
  // Open mode (the store never held a key): the first key is how an operator bootstraps. It is
  // made under a lock after a fresh look at the store, so two keyless requests cannot both
  // make one, nor one follow a key that `mxserve keys create` made moments ago.
  std::unique_lock bootstrap(bootstrap_mutex_, std::defer_lock);
  if (!caller.key) {
    bootstrap.lock();
    metering_.keys().invalidate();
    auto open = metering_.keys().open_mode();
    if (!open.ok()) return reply_error(route, open.error(), responder);
    if (!*open) {
      ApiError error = ApiError::of_status(
          401, "API keys exist now: send 'Authorization: Bearer <admin key>' to create more");
      error.code = "invalid_api_key";
      return reply_error(route, error, responder);
    }
  }
  auto made = generate_key(std::move(fields), unix_ms_now());
  if (!made.ok()) return reply_error(route, ApiError::server_error(made.error().message), responder);
  if (Status stored = metering_.store().insert_key(made->key); !stored.ok()) {
    return reply_error(route, ApiError::server_error(stored.error().message), responder);
  }
  metering_.keys().invalidate();
  json out = api_key_json(made->key, unix_ms_now());
  out["secret"] = made->secret;
  reply(route, 201, "application/json", json_text(out), responder);
}

void AdminService::handle_update_key(const HttpRequest& request, const Responder& responder,
                                     bool revoke) {
  const std::string route = revoke ? "/admin/keys/revoke" : "/admin/keys/update";
  Caller caller;
  if (!ledger_caller(route, request, true, responder, caller)) return;
  auto body = parse_request_json(request.body);
  if (!body.ok()) return reply_error(route, body.error(), responder);
  auto id = body->find("id");
  if (id == body->end() || !id->is_string()) {
    return reply_error(route, ApiError::bad_request("send the key's \"id\"", "id"), responder);
  }
  auto found = metering_.store().find_key(id->get<std::string>());
  if (!found.ok()) return reply_error(route, ApiError::server_error(found.error().message), responder);
  if (!found->has_value()) {
    return reply_error(route, ApiError::not_found(fmt::format("no key with id '{}'",
                                                              id->get<std::string>())),
                       responder);
  }
  ApiKey key = **found;
  if (revoke) {
    key.revoked = true;
  } else if (auto error = apply_key_fields(*body, unix_ms_now(), key)) {
    return reply_error(route, *error, responder);
  }
  if (Status stored = metering_.store().update_key(key); !stored.ok()) {
    return reply_error(route, ApiError::server_error(stored.error().message), responder);
  }
  metering_.keys().invalidate();
  reply(route, 200, "application/json", json_text(api_key_json(key, unix_ms_now())), responder);
}

}  // namespace mx
