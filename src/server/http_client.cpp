#include "server/http_client.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace mx {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

Result<HttpUrl> parse_http_url(const std::string& url) {
  auto bad = [&](const char* why) {
    return make_error(ErrorCode::kInvalidArgument,
                      "'{}' is not a server URL ({}): use http://HOST[:PORT][/PREFIX]", url, why);
  };
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return bad("only http:// is supported");
  std::string rest = url.substr(scheme.size());
  HttpUrl out;
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    out.path_prefix = rest.substr(slash);
    rest.resize(slash);
    while (!out.path_prefix.empty() && out.path_prefix.back() == '/') out.path_prefix.pop_back();
  }
  const size_t colon = rest.rfind(':');
  if (colon != std::string::npos && rest.find(']') == std::string::npos) {
    out.port = rest.substr(colon + 1);
    rest.resize(colon);
    if (out.port.empty() || out.port.size() > 5 ||
        out.port.find_first_not_of("0123456789") != std::string::npos) {
      return bad("the port is not a number");
    }
  }
  if (rest.empty()) return bad("no host");
  out.host = rest;
  return out;
}

Result<HttpGetResult> http_get(const HttpUrl& base, const std::string& path,
                               const std::string& bearer_key, std::chrono::seconds timeout) {
  const std::string where = fmt::format("http://{}:{}{}{}", base.host, base.port,
                                        base.path_prefix, path);
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    stream.connect(resolver.resolve(base.host, base.port));
    http::request<http::empty_body> request(http::verb::get, base.path_prefix + path, 11);
    request.set(http::field::host, base.host);
    if (!bearer_key.empty()) request.set(http::field::authorization, "Bearer " + bearer_key);
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    http::read(stream, buffer, parser);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return HttpGetResult{static_cast<int>(parser.get().result_int()), parser.get().body()};
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kIoError, "GET {} failed: {}", where, e.what());
  }
}

}  // namespace mx
