#include "app/service_flags.h"

#include <fmt/format.h>

#include <algorithm>
#include "core/mapped_file.h"

namespace mx::app {

void add_ledger_flags(CLI::App& sub, LedgerFlags& flags) {
  sub.add_option("--data-dir", flags.data_dir,
                 "Directory of the SQLite ledger (ledger.sqlite3); created if missing")
      ->envname("MXSERVE_DATA_DIR")
      ->capture_default_str();
  sub.add_option("--ledger", flags.ledger_url,
                 "PostgreSQL ledger URL (postgresql://user@host/db) instead of --data-dir")
      ->envname("MXSERVE_LEDGER");
}

Result<std::unique_ptr<LedgerStore>> open_ledger_from_flags(const LedgerFlags& flags) {
  if (flags.ledger_url.empty()) return open_ledger_store(flags.data_dir);
  std::string_view url(flags.ledger_url);
  if (!url.starts_with("postgresql://") && !url.starts_with("postgres://")) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--ledger expects a postgresql:// URL, got '{}'; for a local ledger pass "
                      "--data-dir DIR instead",
                      flags.ledger_url);
  }
  return open_ledger_store(flags.ledger_url);
}

void add_prices_flag(CLI::App& sub, std::string& path) {
  sub.add_option("--prices", path,
                 "JSON prices per 1M tokens: {\"MODEL\": {\"input\": 0.5, \"cached_input\": "
                 "0.1, \"output\": 2.0}}")
      ->envname("MXSERVE_PRICES");
}

Result<PriceTable> load_prices(const std::string& path) {
  if (path.empty()) return PriceTable{};
  auto text = read_text_file(path);
  if (!text.ok()) return text.error().with_context("--prices");
  auto prices = parse_price_table(*text);
  if (!prices.ok()) return prices.error().with_context("--prices " + path);
  return prices;
}

Result<ParsedTime> parse_time_flag(std::string_view flag, const std::string& value) {
  auto parsed = parse_utc_time(value);
  if (!parsed.ok()) return parsed.error().with_context(flag);
  return parsed;
}

int exit_code_for(const Error& error) { return error.code == ErrorCode::kInvalidArgument ? 2 : 1; }

void report_failure(const char* command, const Status& status, int& exit_code) {
  if (status.ok()) return;
  fmt::print(stderr, "mxserve {}: {}\n", command, status.error().message);
  exit_code = exit_code_for(status.error());
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line.append(widths[c] - row[c].size() + 2, ' ');
    }
    out += line + '\n';
  }
  return out;
}

}  // namespace mx::app
