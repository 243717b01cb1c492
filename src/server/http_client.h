// A small blocking HTTP/1.1 client for the command-line tools that talk to a running server
// (`mxserve experts`). Plain http only; one request per connection.
#pragma once

#include <chrono>
#include <string>

#include "core/status.h"

namespace mx {

struct HttpUrl {
  std::string host;
  std::string port = "80";
  std::string path_prefix;  // without a trailing '/', may be empty
};

// "http://host[:port][/prefix]"; anything else is an error that says what is accepted.
Result<HttpUrl> parse_http_url(const std::string& url);

struct HttpGetResult {
  int status = 0;
  std::string body;
};

// GET base + path with an optional Bearer key. Connection errors and timeouts are errors;
// a non-2xx answer is returned as is (the caller decides).
Result<HttpGetResult> http_get(const HttpUrl& base, const std::string& path,
                               const std::string& bearer_key, std::chrono::seconds timeout);

}  // namespace mx
