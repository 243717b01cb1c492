// The query string of a request target: "/v1/usage?from=2026-11-01&group_by=day" →
// {from: "2026-11-01", group_by: "day"}, percent-decoded ('+' is a space). A repeated name
// keeps its last value; a malformed escape ("%G1", "%4") is an error naming the parameter.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "server/api_result.h"

namespace mx {

using QueryParams = std::map<std::string, std::string, std::less<>>;

ApiResult<QueryParams> parse_query(std::string_view target);

}  // namespace mx
