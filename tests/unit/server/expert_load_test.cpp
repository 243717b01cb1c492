#include "server/expert_load.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server/http_client.h"
#include "server/metrics.h"

namespace mx {
namespace {

ExpertCounts sample_counts() {
  // 2 layers x 3 experts; layer 0 is a dense layer (all zero).
  return ExpertCounts{2, 3, {0, 0, 0, 6, 0, 2}};
}

TEST(ExpertLoad, MetricsLinesRoundTrip) {
  std::string text = "# TYPE other counter\nother_total 3\n";
  render_expert_tokens(sample_counts(), text);
  EXPECT_NE(text.find("mxserve_expert_tokens_total{layer=\"1\",expert=\"0\"} 6\n"),
            std::string::npos);
  auto parsed = parse_expert_tokens(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->n_layers, 2);
  EXPECT_EQ(parsed->n_experts, 3);
  EXPECT_EQ(parsed->tokens, sample_counts().tokens);
}

TEST(ExpertLoad, MetricsSectionIsRenderedAtExport) {
  Metrics metrics;
  metrics.add_section([](std::string& out) { render_expert_tokens(sample_counts(), out); });
  auto parsed = parse_expert_tokens(metrics.render());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->tokens, sample_counts().tokens);
}

TEST(ExpertLoad, DenseModelHasNoLinesAndAnEmptyReport) {
  std::string text;
  render_expert_tokens(ExpertCounts{}, text);
  EXPECT_EQ(text, "");
  auto parsed = parse_expert_tokens("mxserve_requests_total{route=\"/x\",status=\"200\"} 1\n");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->tokens.empty());
  EXPECT_NE(expert_report_text(*parsed, 1).find("dense"), std::string::npos);
}

TEST(ExpertLoad, MalformedRepeatedOrIncompleteLinesAreErrors) {
  for (const char* text : {
           "mxserve_expert_tokens_total{layer=\"0\",expert=\"x\"} 1\n",
           "mxserve_expert_tokens_total{layer=\"0\",expert=\"0\"} 1 extra\n",
           "mxserve_expert_tokens_total{layer=\"0\",expert=\"0\"}\n",
           "mxserve_expert_tokens_total{layer=\"0\",expert=\"0\"} 1\n"
           "mxserve_expert_tokens_total{layer=\"0\",expert=\"0\"} 2\n",
           "mxserve_expert_tokens_total{layer=\"0\",expert=\"1\"} 1\n",  // expert 0 missing
           "mxserve_expert_tokens_total{layer=\"99999999\",expert=\"0\"} 1\n",
       }) {
    EXPECT_FALSE(parse_expert_tokens(text).ok()) << text;
  }
}

TEST(ExpertLoad, DeltaIsTheDifferenceAndRefusesRestartsAndShapeChanges) {
  ExpertCounts before = sample_counts();
  ExpertCounts after = before;
  after.tokens[3] += 10;
  after.tokens[4] += 1;
  auto delta = expert_counts_delta(before, after);
  ASSERT_TRUE(delta.ok());
  EXPECT_EQ(delta->tokens, (std::vector<uint64_t>{0, 0, 0, 10, 1, 0}));
  EXPECT_FALSE(expert_counts_delta(after, before).ok());  // went down: restarted
  EXPECT_FALSE(expert_counts_delta(before, ExpertCounts{3, 2, std::vector<uint64_t>(6)}).ok());
}

TEST(ExpertLoad, SummaryPerLayer) {
  auto layers = summarize_expert_load(sample_counts());
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].total, 0u);
  EXPECT_EQ(layers[0].imbalance, 0.0);
  EXPECT_EQ(layers[0].idle_experts, 3);
  EXPECT_EQ(layers[1].total, 8u);
  EXPECT_EQ(layers[1].hottest, 0);
  EXPECT_EQ(layers[1].max, 6u);
  EXPECT_DOUBLE_EQ(layers[1].imbalance, 6.0 / (8.0 / 3.0));
  EXPECT_EQ(layers[1].idle_experts, 1);
  auto json = nlohmann::json::parse(expert_report_json(sample_counts(), 2.5));
  EXPECT_EQ(json["layers"][1]["tokens"], nlohmann::json({6, 0, 2}));
  EXPECT_EQ(json["window_seconds"], 2.5);
}

TEST(HttpClient, ParsesServerUrls) {
  auto url = parse_http_url("http://10.0.0.5:8081/api/");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "10.0.0.5");
  EXPECT_EQ(url->port, "8081");
  EXPECT_EQ(url->path_prefix, "/api");
  url = parse_http_url("http://localhost");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->port, "80");
  for (const char* bad : {"https://x", "localhost:80", "http://", "http://h:port", "http://h:"}) {
    EXPECT_FALSE(parse_http_url(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace mx
