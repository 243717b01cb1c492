// Flags and helpers shared by the Tokens service commands (keys, usage; serve later): where the
// ledger lives, dates on the command line, exit codes, and plain-text tables.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "service/ledger_store.h"
#include "service/usage_format.h"

namespace mx::app {

struct LedgerFlags {
  std::string data_dir = "./mxserve-data";  // --data-dir / MXSERVE_DATA_DIR: SQLite ledger
  std::string ledger_url;  // --ledger / MXSERVE_LEDGER: PostgreSQL URL; wins over data_dir
};

void add_ledger_flags(CLI::App& sub, LedgerFlags& flags);
// The store the flags name: the PostgreSQL URL if given, else <data_dir>/ledger.sqlite3.
Result<std::unique_ptr<LedgerStore>> open_ledger_from_flags(const LedgerFlags& flags);

// --prices FILE (MXSERVE_PRICES) and the table it names (empty path: no prices, costs 0).
void add_prices_flag(CLI::App& sub, std::string& path);
Result<PriceTable> load_prices(const std::string& path);

// A date flag's value (YYYY-MM-DD or ISO 8601); the error names the flag.
Result<ParsedTime> parse_time_flag(std::string_view flag, const std::string& value);

// 2 when the user asked for something wrong (kInvalidArgument), 1 for everything else.
int exit_code_for(const Error& error);
// Prints "mxserve <command>: <message>" and sets exit_code from the error's kind.
void report_failure(const char* command, const Status& status, int& exit_code);

// Left-aligned columns separated by two spaces; rows[0] is the header.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

}  // namespace mx::app
