#include "service/api_key.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "service/stored_text.h"

namespace mx {
namespace {

constexpr size_t kIdBytes = 6;       // 12 hex characters: ids only need to be unique, not secret
constexpr size_t kSecretBytes = 32;  // 256 bits of entropy: the secret is the credential

std::string to_hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

// RFC 4648 §5 (URL- and filename-safe alphabet), without '=' padding: 32 bytes → 43 characters.
std::string base64url(const unsigned char* data, size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((size * 4 + 2) / 3);
  for (size_t i = 0; i < size; i += 3) {
    uint32_t chunk = static_cast<uint32_t>(data[i]) << 16;
    if (i + 1 < size) chunk |= static_cast<uint32_t>(data[i + 1]) << 8;
    if (i + 2 < size) chunk |= data[i + 2];
    size_t chars = std::min<size_t>(4, (size - i) * 4 / 3 + 1);  // 2, 3 or 4 characters
    for (size_t c = 0; c < chars; ++c) out += kAlphabet[(chunk >> (18 - 6 * c)) & 0x3f];
  }
  return out;
}

template <size_t N>
Status random_bytes(std::array<unsigned char, N>& out) {
  if (RAND_bytes(out.data(), static_cast<int>(N)) != 1) {
    return make_error(ErrorCode::kInternal,
                      "cannot create an API key: OpenSSL's random generator (RAND_bytes) failed; "
                      "check that the system has an entropy source (/dev/urandom)");
  }
  return ok_status();
}

}  // namespace

Result<NewKey> generate_key(ApiKey fields, int64_t now_ms) {
  std::array<unsigned char, kIdBytes> id_bytes;
  std::array<unsigned char, kSecretBytes> secret_bytes;
  MX_RETURN_IF_ERROR(random_bytes(id_bytes));
  MX_RETURN_IF_ERROR(random_bytes(secret_bytes));
  NewKey created;
  created.secret = "mxk-" + base64url(secret_bytes.data(), secret_bytes.size());
  fields.id = "key_" + to_hex(id_bytes.data(), id_bytes.size());
  fields.created_at_ms = now_ms;
  fields.secret_hash = hash_secret(created.secret);
  created.key = std::move(fields);
  return created;
}

std::string hash_secret(std::string_view secret) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest;
  unsigned int digest_size = 0;
  // EVP_Digest with SHA-256 fails only when OpenSSL cannot allocate; "" then matches no key
  // (every stored hash has 64 characters), so a lookup fails closed.
  if (EVP_Digest(secret.data(), secret.size(), digest.data(), &digest_size, EVP_sha256(),
                 nullptr) != 1) {
    return "";
  }
  return to_hex(digest.data(), digest_size);
}

bool key_allows_model(const ApiKey& key, std::string_view model) {
  if (key.models.empty()) return true;
  return std::find(key.models.begin(), key.models.end(), model) != key.models.end();
}

std::optional<KeyFieldProblem> find_key_field_problem(const ApiKey& key) {
  for (const auto& [field, text] :
       {std::pair<const char*, const std::string&>{"name", key.name}, {"tenant", key.tenant}}) {
    std::string problem = label_problem(text);
    if (!problem.empty()) return KeyFieldProblem{field, std::move(problem)};
  }
  for (size_t i = 0; i < key.models.size(); ++i) {
    std::string problem = key.models[i].empty() ? "is empty" : label_problem(key.models[i]);
    if (!problem.empty()) {
      return KeyFieldProblem{"models",
                             fmt::format("has a model name that {} (model {})", problem, i + 1)};
    }
  }
  for (const auto& [field, limit] :
       {std::pair<const char*, int64_t>{"tokens_per_day", key.tokens_per_day},
        {"tokens_per_minute", key.tokens_per_minute},
        {"requests_per_minute", key.requests_per_minute}}) {
    if (limit < 0) {
      return KeyFieldProblem{field, fmt::format("must be >= 0 (0: no limit), got {}", limit)};
    }
  }
  return std::nullopt;
}

std::string key_unusable_reason(const ApiKey& key, int64_t now_ms) {
  if (key.revoked) return "revoked";
  if (key.expires_at_ms != 0 && now_ms >= key.expires_at_ms) return "expired";
  return "";
}

}  // namespace mx
