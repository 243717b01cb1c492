#pragma once
#include <memory>
#include <string>
#include "core/status.h"
#include "service/ledger_store.h"
namespace mx {
// PostgreSQL LedgerStore (libpq) at url ("postgresql://user@host:port/db"): creates the schema if missing.
Result<std::unique_ptr<LedgerStore>> open_postgres_store(const std::string& url);
}  // namespace mx
