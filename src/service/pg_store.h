// The PostgreSQL LedgerStore (--ledger postgresql://...), implemented in pg_store.cpp: the
// shared ledger of a cluster, where several frontends write usage and read keys.
#pragma once

#include <memory>
#include <string>

#include "service/ledger_store.h"

namespace mx {

// Connects to the server at url ("postgresql://user:password@host:port/db" or "postgres://..."),
// creates or upgrades the schema. Errors say what to fix (unreachable server, bad credentials)
// and never repeat the password.
Result<std::unique_ptr<LedgerStore>> open_postgres_store(const std::string& url);

}  // namespace mx
