#include "service/ledger_store.h"

#include <string_view>

#include "service/pg_store.h"
#include "service/sqlite_store.h"

namespace mx {

#ifndef MXSERVE_HAVE_PG_STORE
// Until pg_store.cpp is in the tree, this fallback answers. It is weak so that a strong
// definition elsewhere wins, but weak alone is not enough: from a static library the linker
// pulls pg_store.o only for undefined symbols, and a weak definition leaves none, so the
// fallback would win silently. Hence CMake also defines MXSERVE_HAVE_PG_STORE when
// pg_store.cpp exists, which leaves this out. Only the URL's scheme is repeated: the rest may
// hold a password.
__attribute__((weak)) Result<std::unique_ptr<LedgerStore>> open_postgres_store(
    const std::string& url) {
  std::string_view scheme = std::string_view(url).substr(0, url.find(':'));
  return make_error(ErrorCode::kUnsupported,
                    "PostgreSQL ledger support is not built in ({}:// ledger URL); use a data "
                    "directory (SQLite) instead",
                    scheme);
}
#endif

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
