// Member: one process of an mxserve cluster as it appears in etcd, and the keys it lives under.
//
// Key:   /mxserve/<cluster>/members/<role>/<epoch as 16 lowercase hex digits>
// Value: the Member as JSON (to_json below), put with the process's lease, so the key vanishes
//        when the process stops keeping its lease alive. The lease id IS the epoch: a process that
//        loses its lease registers again under a new lease, hence a new epoch and a new key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace mx {

struct Member {
  std::string name;                 // human-readable, e.g. the host name; not unique
  std::string role;                 // "worker", "frontend", "prefill", "decode", ...
  std::string address;              // where its gRPC service listens, "host:port"; may be empty
  std::string weights_fingerprint;  // workers serving the same weights have the same one
  int64_t epoch = 0;                // the etcd lease id the key is held by
  int64_t capacity_kv_blocks = 0;
  int64_t max_running = 0;  // sequences it runs at once at most

  bool operator==(const Member&) const = default;
};

// "/mxserve/<cluster>/members/": the prefix every member of a cluster is under.
std::string members_prefix(std::string_view cluster);
// "/mxserve/<cluster>/members/<role>/<epoch as %016x>".
std::string member_key(std::string_view cluster, const Member& member);

std::string member_to_json(const Member& member);
// Reads a value written by member_to_json; unknown fields are ignored (newer writers), missing
// ones keep their defaults. The epoch is NOT read from the JSON but from the key's lease by the
// caller: the lease is what etcd enforces.
Result<Member> member_from_json(std::string_view json);

// Role names are key segments: 1-32 characters of [a-z0-9_-].
Status validate_role(std::string_view role);

}  // namespace mx
