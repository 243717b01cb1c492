// mxserve usage [--key ID --tenant T --model M --from DATE --to DATE --group-by G
//                --format table|json|csv --prices FILE --include-open --records]
//
// Token usage and cost from the metering ledger: sums per hour, day, model or key (or one
// total), or with --records the requests themselves. Costs come from a JSON price file,
// {"MODEL": {"input": 0.5, "cached_input": 0.1, "output": 2.0}} per 1M tokens; without one
// every cost is 0. Times are UTC.
#include <fmt/format.h>

#include "app/commands.h"
#include "app/service_flags.h"
#include "core/mapped_file.h"

namespace mx::app {
namespace {

struct UsageOptions {
  LedgerFlags ledger;
  std::string key_id, tenant, model, from, to, prices_file;
  std::string group = "none";
  std::string format = "table";
  bool include_open = false;
  bool records = false;
};

// The query the flags describe; a date-only --to includes that whole day.
Result<UsageQuery> build_query(const UsageOptions& options) {
  UsageQuery query;
  query.key_id = options.key_id;
  query.tenant = options.tenant;
  query.model = options.model;
  query.include_open = options.include_open;
  auto group = parse_usage_group(options.group);
  if (!group) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--group-by '{}' is not a grouping: use none, hour, day, model or key",
                      options.group);
  }
  query.group = *group;
  if (!options.from.empty()) {
    MX_ASSIGN_OR_RETURN(ParsedTime from, parse_time_flag("--from", options.from));
    query.from_ms = from.unix_ms;
  }
  if (!options.to.empty()) {
    MX_ASSIGN_OR_RETURN(ParsedTime to, parse_time_flag("--to", options.to));
    query.to_ms = to.unix_ms + (to.date_only ? 86'400'000 : 0);
  }
  if (query.from_ms >= query.to_ms) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--from {} is not before --to {}: the report would be empty", options.from,
                      options.to);
  }
  return query;
}

std::string bucket_label(UsageGroup group, int64_t bucket_start_ms) {
  std::string time = format_utc_time(bucket_start_ms);  // 2026-11-23T07:00:00Z
  return group == UsageGroup::kDay ? time.substr(0, 10) : time.substr(0, 16) + "Z";
}

std::vector<std::string> counter_cells(const UsageRow& row) {
  return {std::to_string(row.requests),         std::to_string(row.tokens.prompt),
          std::to_string(row.tokens.cached),    std::to_string(row.tokens.completion),
          std::to_string(row.tokens.reasoning), fmt::format("{:.6f}", row.cost)};
}

std::string usage_table(const std::vector<UsageRow>& rows, UsageGroup group) {
  std::vector<std::string> header;
  if (group == UsageGroup::kHour) header = {"HOUR (UTC)"};
  if (group == UsageGroup::kDay) header = {"DAY (UTC)"};
  if (group == UsageGroup::kModel) header = {"MODEL"};
  if (group == UsageGroup::kKey) header = {"KEY", "TENANT"};
  size_t label_columns = std::max<size_t>(header.size(), 1);
  for (const char* name : {"REQUESTS", "PROMPT", "CACHED", "COMPLETION", "REASONING", "COST"}) {
    header.push_back(name);
  }
  std::vector<std::vector<std::string>> table = {header};
  for (const UsageRow& row : rows) {
    std::vector<std::string> cells;
    if (group == UsageGroup::kHour || group == UsageGroup::kDay) {
      cells = {bucket_label(group, row.bucket_start_ms)};
    } else if (group == UsageGroup::kModel) {
      cells = {row.model};
    } else if (group == UsageGroup::kKey) {
      cells = {row.key_id.empty() ? "(no key)" : row.key_id, row.tenant.empty() ? "-" : row.tenant};
    } else {
      continue;  // one total row: the TOTAL line below says it all
    }
    for (std::string& cell : counter_cells(row)) cells.push_back(std::move(cell));
    table.push_back(std::move(cells));
  }
  std::vector<std::string> total(label_columns, "");
  total[0] = "TOTAL";
  for (std::string& cell : counter_cells(usage_totals(rows))) total.push_back(std::move(cell));
  table.push_back(std::move(total));
  return format_table(table);
}

std::string records_table(const std::vector<UsageRecord>& records, const PriceTable& prices) {
  std::vector<std::vector<std::string>> table = {{"REQUEST", "STARTED (UTC)", "KEY", "MODEL",
                                                  "STATUS", "PROMPT", "CACHED", "COMPLETION",
                                                  "REASONING", "COST"}};
  for (const UsageRecord& r : records) {
    table.push_back({r.request_id, format_utc_time(r.started_at_ms),
                     r.key_id.empty() ? "-" : r.key_id, r.model,
                     std::string(usage_status_name(r.status)) + (r.recovered ? " (recovered)" : ""),
                     std::to_string(r.tokens.prompt), std::to_string(r.tokens.cached),
                     std::to_string(r.tokens.completion), std::to_string(r.tokens.reasoning),
                     fmt::format("{:.6f}", prices.cost(r.model, r.tokens))});
  }
  return format_table(table);
}

Status print_records(LedgerStore& store, const UsageQuery& query, const UsageOptions& options,
                     const PriceTable& prices) {
  MX_ASSIGN_OR_RETURN(std::vector<UsageRecord> records, store.records(query));
  if (options.format == "json") {
    fmt::print("{}\n", usage_records_json(records, prices));
  } else if (options.format == "csv") {
    fmt::print("{}", usage_records_csv(records, prices));
  } else {
    fmt::print("{}", records_table(records, prices));
  }
  return ok_status();
}

Status run_usage(const UsageOptions& options) {
  if (options.format != "table" && options.format != "json" && options.format != "csv") {
    return make_error(ErrorCode::kInvalidArgument,
                      "--format '{}' is not a format: use table, json or csv", options.format);
  }
  MX_ASSIGN_OR_RETURN(UsageQuery query, build_query(options));
  MX_ASSIGN_OR_RETURN(PriceTable prices, load_prices(options.prices_file));
  MX_ASSIGN_OR_RETURN(auto store, open_ledger_from_flags(options.ledger));
  if (!query.key_id.empty()) {
    MX_ASSIGN_OR_RETURN(std::optional<ApiKey> key, store->find_key(query.key_id));
    if (!key) {
      return make_error(ErrorCode::kNotFound,
                        "--key {}: no such API key in {}; mxserve keys list shows the ids",
                        query.key_id, store->describe());
    }
  }
  if (options.records) return print_records(*store, query, options, prices);
  MX_ASSIGN_OR_RETURN(std::vector<UsageRow> rows, store->usage(query, prices));
  if (options.format == "json") {
    fmt::print("{}\n", usage_report_json(rows, query.group));
  } else if (options.format == "csv") {
    fmt::print("{}", usage_report_csv(rows, query.group));
  } else {
    fmt::print("{}", usage_table(rows, query.group));
  }
  return ok_status();
}

}  // namespace

void register_usage(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<UsageOptions>();
  CLI::App* sub = app.add_subcommand("usage", "Token usage and cost reports (Tokens service)");
  add_ledger_flags(*sub, options->ledger);
  sub->add_option("--key", options->key_id, "Only this key's requests (key_...)");
  sub->add_option("--tenant", options->tenant, "Only this tenant's requests");
  sub->add_option("--model", options->model, "Only requests for this model");
  sub->add_option("--from", options->from,
                  "Requests started at or after: YYYY-MM-DD (UTC) or ISO 8601 time");
  sub->add_option("--to", options->to,
                  "Requests started before: ISO 8601 time, or YYYY-MM-DD for through that day");
  sub->add_option("--group-by", options->group, "Sum per none, hour, day, model or key")
      ->capture_default_str();
  sub->add_option("--format", options->format, "table, json or csv")->capture_default_str();
  add_prices_flag(*sub, options->prices_file);
  sub->add_flag("--include-open", options->include_open,
                "Count requests still running (their tokens so far)");
  sub->add_flag("--records", options->records, "List the requests instead of sums");
  sub->callback([options, &exit_code] { report_failure("usage", run_usage(*options), exit_code); });
}

}  // namespace mx::app
