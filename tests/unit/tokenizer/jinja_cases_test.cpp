// Renders every case of tests/data/chat/jinja_cases.json (small templates over the whole Jinja
// language, with jinja2's output recorded by tests/data/chat/make_jinja_cases.py) and compares:
// the exact text, or a failure where jinja2 failed.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/jinja/chat_template.h"

namespace mx {
namespace {

using Json = nlohmann::ordered_json;

Json load_cases() {
  std::ifstream in(std::string(MX_TEST_DATA_DIR) + "/chat/jinja_cases.json");
  std::stringstream text;
  text << in.rdbuf();
  return Json::parse(text.str());
}

TEST(JinjaCases, MatchJinja2) {
  Json cases = load_cases();
  ASSERT_GT(cases.size(), 100u);
  int failures = 0;
  for (const Json& c : cases) {
    const std::string name = c["name"].get<std::string>();
    Json request = {{"messages", Json::array()}, {"chat_template_kwargs", c["variables"]}};
    Result<ChatTemplate> tmpl = ChatTemplate::create(c["template"].get<std::string>());
    Result<std::string> out = tmpl.ok() ? tmpl->render(request) : Result<std::string>(tmpl.error());
    if (c.contains("expected")) {
      if (!out.ok()) {
        ADD_FAILURE() << name << ": failed: " << out.error().message;
        ++failures;
      } else if (*out != c["expected"].get<std::string>()) {
        ADD_FAILURE() << name << ":\n  jinja2: " << Json(c["expected"]).dump()
                      << "\n  ours:   " << Json(*out).dump();
        ++failures;
      }
    } else if (out.ok()) {
      ADD_FAILURE() << name << ": jinja2 failed (" << c["error"].get<std::string>()
                    << ") but we rendered " << Json(*out).dump();
      ++failures;
    }
  }
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace mx
