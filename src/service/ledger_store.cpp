#include "service/ledger_store.h"

#include <string_view>

#include "service/pg_store.h"
#include "service/sqlite_store.h"

namespace mx {

Result<std::unique_ptr<LedgerStore>> open_ledger_store(const std::string& location) {
  std::string_view view(location);
  if (view.starts_with("postgresql://") || view.starts_with("postgres://")) {
    return open_postgres_store(location);
  }
  if (location.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "no ledger location: pass a data directory (--data-dir) or a PostgreSQL "
                      "URL (--ledger postgresql://...)");
  }
  return open_sqlite_store(location);
}

}  // namespace mx
