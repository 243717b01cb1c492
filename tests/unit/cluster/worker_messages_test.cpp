// The worker API's messages carry every field across and check what a peer could get wrong.
#include "cluster/worker_messages.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

TEST(WorkerMessagesTest, SequenceRequestRoundTrips) {
  SequenceRequest in;
  in.prompt = {1, 2, 3, 151000};
  in.sampling.temperature = 0.7f;
  in.sampling.top_k = 40;
  in.sampling.top_p = 0.9f;
  in.sampling.min_p = 0.05f;
  in.sampling.repetition_penalty = 1.1f;
  in.sampling.presence_penalty = 0.5f;
  in.sampling.frequency_penalty = -0.5f;
  in.sampling.logit_bias = {{5, -100.0f}, {7, 2.5f}};
  in.sampling.seed = 0;  // a seed of 0 is a seed, not "unset"
  in.sampling.top_logprobs = 3;
  in.sampling.logprobs = true;
  in.max_new_tokens = 77;
  in.stop_token_ids = {151645, 151643};
  in.ignore_eos = true;
  in.resumed_tokens = 2;
  mxserve::worker::SequenceRequest wire;
  to_proto(in, wire);
  mxserve::worker::SequenceRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire.SerializeAsString()));
  const SequenceRequest out = from_proto(parsed);
  EXPECT_EQ(out.prompt, in.prompt);
  EXPECT_EQ(out.sampling.temperature, in.sampling.temperature);
  EXPECT_EQ(out.sampling.top_k, in.sampling.top_k);
  EXPECT_EQ(out.sampling.top_p, in.sampling.top_p);
  EXPECT_EQ(out.sampling.min_p, in.sampling.min_p);
  EXPECT_EQ(out.sampling.repetition_penalty, in.sampling.repetition_penalty);
  EXPECT_EQ(out.sampling.presence_penalty, in.sampling.presence_penalty);
  EXPECT_EQ(out.sampling.frequency_penalty, in.sampling.frequency_penalty);
  EXPECT_EQ(out.sampling.logit_bias, in.sampling.logit_bias);
  ASSERT_TRUE(out.sampling.seed.has_value());
  EXPECT_EQ(*out.sampling.seed, 0u);
  EXPECT_EQ(out.sampling.top_logprobs, 3);
  EXPECT_TRUE(out.sampling.logprobs);
  EXPECT_EQ(out.max_new_tokens, 77);
  EXPECT_EQ(out.stop_token_ids, in.stop_token_ids);
  EXPECT_TRUE(out.ignore_eos);
  EXPECT_EQ(out.resumed_tokens, 2);

  SequenceRequest unseeded;
  unseeded.prompt = {1};
  to_proto(unseeded, wire);
  EXPECT_FALSE(from_proto(wire).sampling.seed.has_value());
}

TEST(WorkerMessagesTest, TokenEventRoundTripsAndUnknownStopReasonsAreErrors) {
  TokenEvent in;
  in.token = SampledToken{42, -0.25f, {{42, -0.25f}, {7, -1.5f}}};
  in.finished = true;
  in.stop_reason = StopReason::kLength;
  in.stop_token = true;
  in.prompt_tokens = 10;
  in.cached_tokens = 4;
  in.completion_tokens = 9;
  mxserve::worker::TokenEvent wire;
  to_proto(3, in, wire);
  EXPECT_EQ(wire.index(), 3);
  const TokenEvent out = from_proto(wire);
  EXPECT_EQ(out.token.token, 42);
  EXPECT_EQ(out.token.logprob, -0.25f);
  ASSERT_EQ(out.token.top_logprobs.size(), 2u);
  EXPECT_EQ(out.token.top_logprobs[1].token, 7);
  EXPECT_TRUE(out.finished);
  EXPECT_EQ(out.stop_reason, StopReason::kLength);
  EXPECT_TRUE(out.stop_token);
  EXPECT_EQ(out.prompt_tokens, 10);
  EXPECT_EQ(out.cached_tokens, 4);
  EXPECT_EQ(out.completion_tokens, 9);

  wire.set_stop_reason(static_cast<mxserve::worker::StopReason>(99));  // a newer peer's value
  EXPECT_EQ(from_proto(wire).stop_reason, StopReason::kError);
}

TEST(WorkerMessagesTest, RefusalsKeepTheirErrorCodeAndOutOfRangeCodesAreInternal) {
  mxserve::worker::Admission admission;
  to_proto(Error{ErrorCode::kResourceExhausted, "busy"}, admission);
  EXPECT_FALSE(admission.accepted());
  Error back = error_from_proto(admission);
  EXPECT_EQ(back.code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(back.message, "busy");
  admission.set_error_code(1000);
  EXPECT_EQ(error_from_proto(admission).code, ErrorCode::kInternal);
  admission.set_error_code(-1);
  EXPECT_EQ(error_from_proto(admission).code, ErrorCode::kInternal);
}

TEST(WorkerMessagesTest, StatsAndLimitsRoundTrip) {
  EngineStats stats;
  stats.running = 3;
  stats.kv_blocks_used = 17;
  stats.steps = 1234;
  stats.spec_emitted_tokens = 9;
  stats.kv_tiers.push_back(KvTierStats{});
  stats.kv_tiers[0].tier = "ssd";
  stats.kv_tiers[0].bytes_read = 4096;
  stats.kv_tiers[0].read_seconds = 0.5;
  mxserve::worker::EngineStats wire;
  to_proto(stats, wire);
  const EngineStats out = from_proto(wire);
  EXPECT_EQ(out.running, 3);
  EXPECT_EQ(out.kv_blocks_used, 17);
  EXPECT_EQ(out.steps, 1234);
  EXPECT_EQ(out.spec_emitted_tokens, 9);
  ASSERT_EQ(out.kv_tiers.size(), 1u);
  EXPECT_EQ(out.kv_tiers[0].tier, "ssd");
  EXPECT_EQ(out.kv_tiers[0].bytes_read, 4096);
  EXPECT_EQ(out.kv_tiers[0].read_seconds, 0.5);

  EngineLimits limits{4096, 151669, 1024, 32, 16, 256, 2, 8, 0xfedcba9876543210ull};
  mxserve::worker::EngineLimits limits_wire;
  to_proto(limits, limits_wire);
  const EngineLimits limits_out = from_proto(limits_wire);
  EXPECT_EQ(limits_out.max_context, 4096);
  EXPECT_EQ(limits_out.vocab_size, 151669);
  EXPECT_EQ(limits_out.kv_blocks_total, 1024);
  EXPECT_EQ(limits_out.block_size, 32);
  EXPECT_EQ(limits_out.max_running, 16);
  EXPECT_EQ(limits_out.max_waiting, 256);
  EXPECT_EQ(limits_out.moe_layers, 2);
  EXPECT_EQ(limits_out.n_experts, 8);
  EXPECT_EQ(limits_out.prefix_hash_seed, 0xfedcba9876543210ull);
  EXPECT_EQ(fingerprint_hex(0xabcULL), "0000000000000abc");
}

}  // namespace
}  // namespace mx
