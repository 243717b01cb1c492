// mxserve keys create|list|update|revoke: API keys of the Tokens service, in the ledger store
// (--data-dir DIR or --ledger postgresql://...). A key's secret is printed once, by create;
// only its SHA-256 is stored, and list never shows either.
#include <fmt/format.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/service_flags.h"
#include "service/api_key.h"
#include "service/stored_text.h"

namespace mx::app {
namespace {

// A key's fields on the command line. The Option pointers tell which were given: update
// changes only those.
struct KeyFlags {
  std::string name, tenant, models, expires;
  int64_t tokens_per_day = 0, tokens_per_minute = 0, requests_per_minute = 0;
  bool admin = false, no_admin = false;
  std::vector<CLI::Option*> options;  // every field flag, to tell whether any was given
  CLI::Option *name_flag = nullptr, *tenant_flag = nullptr, *models_flag = nullptr,
              *expires_flag = nullptr, *tpd_flag = nullptr, *tpm_flag = nullptr,
              *rpm_flag = nullptr, *admin_flag = nullptr, *no_admin_flag = nullptr;
};

struct KeysOptions {
  LedgerFlags ledger;
  KeyFlags fields;
  std::string id;
  bool json = false;
};

bool given(const CLI::Option* option) { return option && option->count() > 0; }

void add_key_flags(CLI::App& sub, KeyFlags& f, bool for_update) {
  f.name_flag = sub.add_option("--name", f.name, "A name for people: who or what uses the key");
  f.tenant_flag = sub.add_option("--tenant", f.tenant, "Tenant the usage is billed to");
  f.models_flag = sub.add_option("--models", f.models,
                                 "Comma-separated model names the key may use (\"\": all)");
  f.tpd_flag = sub.add_option("--tokens-per-day", f.tokens_per_day,
                              "Prompt + completion tokens per rolling 24 h (0: no limit)")
                   ->check(CLI::NonNegativeNumber);
  f.tpm_flag = sub.add_option("--tokens-per-minute", f.tokens_per_minute,
                              "Tokens per rolling minute (0: no limit)")
                   ->check(CLI::NonNegativeNumber);
  f.rpm_flag = sub.add_option("--requests-per-minute", f.requests_per_minute,
                              "Requests per rolling minute (0: no limit)")
                   ->check(CLI::NonNegativeNumber);
  f.expires_flag = sub.add_option("--expires", f.expires,
                                  "Expiry: YYYY-MM-DD (00:00 UTC) or ISO 8601 time, or never");
  f.admin_flag = sub.add_flag("--admin", f.admin, "May use the admin API and the dashboard");
  f.options = {f.name_flag, f.tenant_flag, f.models_flag,  f.tpd_flag,
               f.tpm_flag,  f.rpm_flag,    f.expires_flag, f.admin_flag};
  if (for_update) {
    f.no_admin_flag = sub.add_flag("--no-admin", f.no_admin, "Takes the admin right away");
    f.admin_flag->excludes(f.no_admin_flag);
    f.options.push_back(f.no_admin_flag);
  }
}

// "a, b,,c" → {"a", "b", "c"}; "" → {} (every model).
std::vector<std::string> split_models(const std::string& text) {
  std::vector<std::string> models;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = std::min(text.find(',', start), text.size());
    std::string model = text.substr(start, comma - start);
    model.erase(0, model.find_first_not_of(" \t"));
    model.erase(model.find_last_not_of(" \t") + 1);
    if (!model.empty()) models.push_back(std::move(model));
    start = comma + 1;
  }
  return models;
}

Result<int64_t> parse_expiry(const std::string& text, int64_t now_ms) {
  if (text.empty() || text == "never") return int64_t{0};
  MX_ASSIGN_OR_RETURN(ParsedTime expiry, parse_time_flag("--expires", text));
  if (expiry.unix_ms <= now_ms) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--expires {} ({}) is in the past; to stop a key now use mxserve keys "
                      "revoke ID",
                      text, format_utc_time(expiry.unix_ms));
  }
  return expiry.unix_ms;
}

// Copies the flags that were given into the key.
Status apply_key_flags(const KeyFlags& f, int64_t now_ms, ApiKey& key) {
  if (given(f.name_flag)) key.name = f.name;
  if (given(f.tenant_flag)) key.tenant = f.tenant;
  if (given(f.models_flag)) key.models = split_models(f.models);
  if (given(f.tpd_flag)) key.tokens_per_day = f.tokens_per_day;
  if (given(f.tpm_flag)) key.tokens_per_minute = f.tokens_per_minute;
  if (given(f.rpm_flag)) key.requests_per_minute = f.requests_per_minute;
  if (given(f.admin_flag)) key.admin = true;
  if (given(f.no_admin_flag)) key.admin = false;
  if (given(f.expires_flag)) {
    MX_ASSIGN_OR_RETURN(key.expires_at_ms, parse_expiry(f.expires, now_ms));
  }
  if (auto problem = find_key_field_problem(key)) {
    std::string flag = "--" + problem->field;  // "tokens_per_day" -> "--tokens-per-day"
    std::replace(flag.begin(), flag.end(), '_', '-');
    return make_error(ErrorCode::kInvalidArgument, "{} {}", flag, problem->message);
  }
  return ok_status();
}

// "2026-11-23 07:00" (UTC): minutes are enough in a table; JSON has the exact times.
std::string table_time(int64_t unix_ms) {
  std::string time = format_utc_time(unix_ms);
  return time.substr(0, 10) + " " + time.substr(11, 5);
}

std::string key_table(const std::vector<ApiKey>& keys, int64_t now_ms) {
  auto limit = [](int64_t value) { return value ? std::to_string(value) : std::string("-"); };
  std::vector<std::vector<std::string>> rows = {{"ID", "NAME", "TENANT", "MODELS", "TOKENS/DAY",
                                                 "TOKENS/MIN", "REQ/MIN", "EXPIRES (UTC)", "ADMIN",
                                                 "STATUS", "CREATED (UTC)"}};
  for (const ApiKey& key : keys) {
    rows.push_back(
        {key.id, key.name.empty() ? "-" : key.name, key.tenant.empty() ? "-" : key.tenant,
         key.models.empty() ? "all" : fmt::format("{}", fmt::join(key.models, ",")),
         limit(key.tokens_per_day), limit(key.tokens_per_minute), limit(key.requests_per_minute),
         key.expires_at_ms ? table_time(key.expires_at_ms) : "never", key.admin ? "yes" : "no",
         api_key_status(key, now_ms), table_time(key.created_at_ms)});
  }
  return format_table(rows);
}

void print_key(const ApiKey& key, bool json, int64_t now_ms) {
  if (json) {
    fmt::print("{}\n", json_text(api_key_json(key, now_ms)));
  } else {
    fmt::print("{}", key_table({key}, now_ms));
  }
}

Status run_create(const KeysOptions& options) {
  int64_t now_ms = unix_ms_now();
  ApiKey fields;
  MX_RETURN_IF_ERROR(apply_key_flags(options.fields, now_ms, fields));
  MX_ASSIGN_OR_RETURN(auto store, open_ledger_from_flags(options.ledger));
  MX_ASSIGN_OR_RETURN(NewKey created, generate_key(std::move(fields), now_ms));
  MX_RETURN_IF_ERROR(store->insert_key(created.key));
  const char* note = "The secret is shown only this once and cannot be recovered; store it now.";
  if (options.json) {
    nlohmann::json out = api_key_json(created.key, now_ms);
    out["secret"] = created.secret;
    out["note"] = note;
    fmt::print("{}\n", json_text(out));
    return ok_status();
  }
  fmt::print("Created API key {} ({}) in {}\nsecret: {}\n{}\n", created.key.id, created.key.name,
             store->describe(), created.secret, note);
  return ok_status();
}

Status run_list(const KeysOptions& options) {
  MX_ASSIGN_OR_RETURN(auto store, open_ledger_from_flags(options.ledger));
  MX_ASSIGN_OR_RETURN(std::vector<ApiKey> keys, store->list_keys());
  int64_t now_ms = unix_ms_now();
  if (options.json) {
    nlohmann::json data = nlohmann::json::array();
    for (const ApiKey& key : keys) data.push_back(api_key_json(key, now_ms));
    fmt::print("{}\n", json_text(nlohmann::json({{"object", "list"}, {"data", data}})));
  } else if (keys.empty()) {
    fmt::print("No API keys in {}. Create one with: mxserve keys create --name NAME\n",
               store->describe());
  } else {
    fmt::print("{}", key_table(keys, now_ms));
  }
  return ok_status();
}

Result<ApiKey> find_existing_key(LedgerStore& store, const std::string& id) {
  MX_ASSIGN_OR_RETURN(std::optional<ApiKey> key, store.find_key(id));
  if (!key) {
    return make_error(ErrorCode::kNotFound,
                      "no API key with id '{}' in {}; mxserve keys list shows the ids", id,
                      store.describe());
  }
  return std::move(*key);
}

Status run_update(const KeysOptions& options) {
  const auto& flags = options.fields.options;
  if (std::none_of(flags.begin(), flags.end(), given)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "nothing to update for {}: pass one or more of --name, --tenant, --models, "
                      "--tokens-per-day, --tokens-per-minute, --requests-per-minute, --expires, "
                      "--admin, --no-admin",
                      options.id);
  }
  MX_ASSIGN_OR_RETURN(auto store, open_ledger_from_flags(options.ledger));
  MX_ASSIGN_OR_RETURN(ApiKey key, find_existing_key(*store, options.id));
  int64_t now_ms = unix_ms_now();
  MX_RETURN_IF_ERROR(apply_key_flags(options.fields, now_ms, key));
  MX_RETURN_IF_ERROR(store->update_key(key));
  print_key(key, options.json, now_ms);
  return ok_status();
}

Status run_revoke(const KeysOptions& options) {
  MX_ASSIGN_OR_RETURN(auto store, open_ledger_from_flags(options.ledger));
  MX_ASSIGN_OR_RETURN(ApiKey key, find_existing_key(*store, options.id));
  bool was_revoked = key.revoked;
  key.revoked = true;
  if (!was_revoked) MX_RETURN_IF_ERROR(store->update_key(key));
  if (options.json) {
    print_key(key, true, unix_ms_now());
  } else {
    fmt::print("{} {} ({})\n", was_revoked ? "Already revoked:" : "Revoked", key.id, key.name);
  }
  return ok_status();
}

// One `keys` subcommand: its flags and its run function.
CLI::App* add_keys_command(CLI::App& keys, const char* name, const char* description,
                           Status (*run)(const KeysOptions&), int& exit_code,
                           std::shared_ptr<KeysOptions> options) {
  CLI::App* sub = keys.add_subcommand(name, description);
  add_ledger_flags(*sub, options->ledger);
  sub->add_flag("--json", options->json, "Print JSON instead of a table");
  sub->callback([options, run, name, &exit_code] {
    std::string command = std::string("keys ") + name;
    report_failure(command.c_str(), run(*options), exit_code);
  });
  return sub;
}

}  // namespace

void register_keys(CLI::App& app, int& exit_code) {
  CLI::App* keys = app.add_subcommand("keys", "Manage API keys (Tokens service)");
  keys->require_subcommand(1);

  auto create = std::make_shared<KeysOptions>();
  CLI::App* sub = add_keys_command(*keys, "create", "Create a key; prints its secret once",
                                   run_create, exit_code, create);
  add_key_flags(*sub, create->fields, /*for_update=*/false);
  create->fields.name_flag->required();

  add_keys_command(*keys, "list", "List keys (never their secrets)", run_list, exit_code,
                   std::make_shared<KeysOptions>());

  auto update = std::make_shared<KeysOptions>();
  sub = add_keys_command(*keys, "update", "Change a key's name, models, limits or expiry",
                         run_update, exit_code, update);
  sub->add_option("id", update->id, "The key's id (key_...)")->required();
  add_key_flags(*sub, update->fields, /*for_update=*/true);

  auto revoke = std::make_shared<KeysOptions>();
  sub = add_keys_command(*keys, "revoke", "Revoke a key: it can never be used again", run_revoke,
                         exit_code, revoke);
  sub->add_option("id", revoke->id, "The key's id (key_...)")->required();
}

}  // namespace mx::app
