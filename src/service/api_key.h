// API keys of the Tokens service. A key has a public id (shown in lists, the ledger and usage
// reports) and a secret that is shown once at creation; only the secret's SHA-256 is stored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mx {

struct ApiKey {
  std::string id;  // "key_" + 12 lowercase hex characters
  std::string name;
  std::string tenant;               // "" = the default tenant
  std::vector<std::string> models;  // served-model names this key may use; empty: all
  int64_t tokens_per_day = 0;       // prompt + completion tokens, rolling 24 h; 0: no limit
  int64_t tokens_per_minute = 0;    // rolling 60 s; 0: no limit
  int64_t requests_per_minute = 0;  // rolling 60 s; 0: no limit
  int64_t expires_at_ms = 0;        // unix ms; 0: never
  bool admin = false;               // may call the admin API (/admin/..., /v1/usage of all
                                    // keys) and open /dashboard
  bool revoked = false;
  int64_t created_at_ms = 0;
  std::string secret_hash;  // lowercase hex SHA-256 of the secret
};

struct NewKey {
  ApiKey key;          // id, created_at_ms and secret_hash filled in
  std::string secret;  // "mxk-" + 43 base64url characters (32 random bytes); shown once
};

// Fills id, secret and hash from a CSPRNG (OpenSSL RAND_bytes); the other fields are kept.
Result<NewKey> generate_key(ApiKey fields, int64_t now_ms);
std::string hash_secret(std::string_view secret);
bool key_allows_model(const ApiKey& key, std::string_view model);
// A field of a key set wrongly: its name as in the admin API ("name", "tenant", "models",
// "tokens_per_day", ...) and what is wrong, without the name ("is not valid UTF-8 (...)").
struct KeyFieldProblem {
  std::string field;
  std::string message;
};
// The first field a person set wrongly: name, tenant and every model must be labels (UTF-8, no
// control characters, at most kMaxLabelBytes; a model name not empty), limits >= 0. Checked by
// `mxserve keys` and the admin API before a key is stored, so nothing stored breaks a report.
std::optional<KeyFieldProblem> find_key_field_problem(const ApiKey& key);
// Why a key cannot be used now ("revoked", "expired"), or "" when it can.
std::string key_unusable_reason(const ApiKey& key, int64_t now_ms);

}  // namespace mx
