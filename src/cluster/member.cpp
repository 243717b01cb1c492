#include "cluster/member.h"

#include <nlohmann/json.hpp>

namespace mx {

std::string members_prefix(std::string_view cluster) {
  return fmt::format("/mxserve/{}/members/", cluster);
}

std::string member_key(std::string_view cluster, const Member& member) {
  return fmt::format("{}{}/{:016x}", members_prefix(cluster), member.role,
                     static_cast<uint64_t>(member.epoch));
}

std::string member_to_json(const Member& member) {
  nlohmann::json json = {{"name", member.name},
                         {"role", member.role},
                         {"address", member.address},
                         {"weights_fingerprint", member.weights_fingerprint},
                         {"epoch", member.epoch},
                         {"capacity_kv_blocks", member.capacity_kv_blocks},
                         {"max_running", member.max_running}};
  return json.dump();
}

Result<Member> member_from_json(std::string_view text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return make_error(ErrorCode::kCorruptData, "member value is not a JSON object: '{}'",
                      text.substr(0, 200));
  }
  Member member;
  try {
    member.name = json.value("name", "");
    member.role = json.value("role", "");
    member.address = json.value("address", "");
    member.weights_fingerprint = json.value("weights_fingerprint", "");
    member.epoch = json.value("epoch", int64_t{0});
    member.capacity_kv_blocks = json.value("capacity_kv_blocks", int64_t{0});
    member.max_running = json.value("max_running", int64_t{0});
  } catch (const nlohmann::json::exception& error) {
    return make_error(ErrorCode::kCorruptData, "member value has a field of the wrong type: {}",
                      error.what());
  }
  return member;
}

Status validate_role(std::string_view role) {
  bool ok = !role.empty() && role.size() <= 32;
  for (char c : role) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-');
  }
  if (!ok) {
    return make_error(ErrorCode::kInvalidArgument,
                      "member role '{}' must be 1-32 characters of a-z, 0-9, '_' and '-'", role);
  }
  return ok_status();
}

}  // namespace mx
