#include "cluster/worker_messages.h"

#include <fmt/format.h>

namespace mx {
namespace pb = mxserve::worker;

namespace {

pb::StopReason stop_reason_to_proto(StopReason reason) {
  switch (reason) {
    case StopReason::kNone:
      return pb::STOP_NONE;
    case StopReason::kStop:
      return pb::STOP_STOP;
    case StopReason::kLength:
      return pb::STOP_LENGTH;
    case StopReason::kCancelled:
      return pb::STOP_CANCELLED;
    case StopReason::kError:
      break;
  }
  return pb::STOP_ERROR;
}

StopReason stop_reason_from_proto(int reason) {
  switch (reason) {
    case pb::STOP_NONE:
      return StopReason::kNone;
    case pb::STOP_STOP:
      return StopReason::kStop;
    case pb::STOP_LENGTH:
      return StopReason::kLength;
    case pb::STOP_CANCELLED:
      return StopReason::kCancelled;
    default:
      return StopReason::kError;  // STOP_ERROR, or a value this build does not know
  }
}

void sampling_to_proto(const SamplingParams& in, pb::SamplingParams& out) {
  out.set_temperature(in.temperature);
  out.set_top_k(in.top_k);
  out.set_top_p(in.top_p);
  out.set_min_p(in.min_p);
  out.set_repetition_penalty(in.repetition_penalty);
  out.set_presence_penalty(in.presence_penalty);
  out.set_frequency_penalty(in.frequency_penalty);
  for (const auto& [token, bias] : in.logit_bias) {
    pb::LogitBias* entry = out.add_logit_bias();
    entry->set_token(token);
    entry->set_bias(bias);
  }
  out.set_has_seed(in.seed.has_value());
  out.set_seed(in.seed.value_or(0));
  out.set_top_logprobs(in.top_logprobs);
  out.set_logprobs(in.logprobs);
}

SamplingParams sampling_from_proto(const pb::SamplingParams& in) {
  SamplingParams out;
  out.temperature = in.temperature();
  out.top_k = in.top_k();
  out.top_p = in.top_p();
  out.min_p = in.min_p();
  out.repetition_penalty = in.repetition_penalty();
  out.presence_penalty = in.presence_penalty();
  out.frequency_penalty = in.frequency_penalty();
  for (const pb::LogitBias& entry : in.logit_bias()) {
    out.logit_bias.emplace_back(entry.token(), entry.bias());
  }
  if (in.has_seed()) out.seed = in.seed();
  out.top_logprobs = in.top_logprobs();
  out.logprobs = in.logprobs();
  return out;
}

}  // namespace

void to_proto(const SequenceRequest& in, pb::SequenceRequest& out) {
  out.mutable_prompt()->Assign(in.prompt.begin(), in.prompt.end());
  sampling_to_proto(in.sampling, *out.mutable_sampling());
  out.set_max_new_tokens(in.max_new_tokens);
  out.mutable_stop_token_ids()->Assign(in.stop_token_ids.begin(), in.stop_token_ids.end());
  out.set_ignore_eos(in.ignore_eos);
  out.set_resumed_tokens(in.resumed_tokens);
}

SequenceRequest from_proto(const pb::SequenceRequest& in) {
  SequenceRequest out;
  out.prompt.assign(in.prompt().begin(), in.prompt().end());
  out.sampling = sampling_from_proto(in.sampling());
  out.max_new_tokens = in.max_new_tokens();
  out.stop_token_ids.assign(in.stop_token_ids().begin(), in.stop_token_ids().end());
  out.ignore_eos = in.ignore_eos();
  out.resumed_tokens = in.resumed_tokens();
  return out;
}

void to_proto(int32_t index, const TokenEvent& in, pb::TokenEvent& out) {
  out.set_index(index);
  out.set_token(in.token.token);
  out.set_logprob(in.token.logprob);
  for (const TokenLogprob& alt : in.token.top_logprobs) {
    pb::TokenLogprob* entry = out.add_top_logprobs();
    entry->set_token(alt.token);
    entry->set_logprob(alt.logprob);
  }
  out.set_finished(in.finished);
  out.set_stop_reason(stop_reason_to_proto(in.stop_reason));
  out.set_error(in.error);
  out.set_stop_token(in.stop_token);
  out.set_prompt_tokens(in.prompt_tokens);
  out.set_cached_tokens(in.cached_tokens);
  out.set_completion_tokens(in.completion_tokens);
}

TokenEvent from_proto(const pb::TokenEvent& in) {
  TokenEvent out;
  out.token.token = in.token();
  out.token.logprob = in.logprob();
  for (const pb::TokenLogprob& alt : in.top_logprobs()) {
    out.token.top_logprobs.push_back(TokenLogprob{alt.token(), alt.logprob()});
  }
  out.finished = in.finished();
  out.stop_reason = stop_reason_from_proto(in.stop_reason());
  out.error = in.error();
  out.stop_token = in.stop_token();
  out.prompt_tokens = in.prompt_tokens();
  out.cached_tokens = in.cached_tokens();
  out.completion_tokens = in.completion_tokens();
  return out;
}

void to_proto(const EngineLimits& in, pb::EngineLimits& out) {
  out.set_max_context(in.max_context);
  out.set_vocab_size(in.vocab_size);
  out.set_kv_blocks_total(in.kv_blocks_total);
  out.set_block_size(in.block_size);
  out.set_max_running(in.max_running);
  out.set_max_waiting(in.max_waiting);
  out.set_moe_layers(in.moe_layers);
  out.set_n_experts(in.n_experts);
  out.set_prefix_hash_seed(in.prefix_hash_seed);
}

EngineLimits from_proto(const pb::EngineLimits& in) {
  EngineLimits out;
  out.max_context = in.max_context();
  out.vocab_size = in.vocab_size();
  out.kv_blocks_total = in.kv_blocks_total();
  out.block_size = in.block_size();
  out.max_running = in.max_running();
  out.max_waiting = in.max_waiting();
  out.moe_layers = in.moe_layers();
  out.n_experts = in.n_experts();
  out.prefix_hash_seed = in.prefix_hash_seed();
  return out;
}

namespace {

void tier_to_proto(const KvTierStats& in, pb::KvTierStats& out) {
  out.set_tier(in.tier);
  out.set_capacity_bytes(in.capacity_bytes);
  out.set_used_bytes(in.used_bytes);
  out.set_blocks(in.blocks);
  out.set_hits(in.hits);
  out.set_misses(in.misses);
  out.set_stores(in.stores);
  out.set_evictions(in.evictions);
  out.set_bad_blocks(in.bad_blocks);
  out.set_io_errors(in.io_errors);
  out.set_dropped_writes(in.dropped_writes);
  out.set_bytes_read(in.bytes_read);
  out.set_bytes_written(in.bytes_written);
  out.set_read_seconds(in.read_seconds);
  out.set_write_seconds(in.write_seconds);
}

KvTierStats tier_from_proto(const pb::KvTierStats& in) {
  KvTierStats out;
  out.tier = in.tier();
  out.capacity_bytes = in.capacity_bytes();
  out.used_bytes = in.used_bytes();
  out.blocks = in.blocks();
  out.hits = in.hits();
  out.misses = in.misses();
  out.stores = in.stores();
  out.evictions = in.evictions();
  out.bad_blocks = in.bad_blocks();
  out.io_errors = in.io_errors();
  out.dropped_writes = in.dropped_writes();
  out.bytes_read = in.bytes_read();
  out.bytes_written = in.bytes_written();
  out.read_seconds = in.read_seconds();
  out.write_seconds = in.write_seconds();
  return out;
}

}  // namespace

void to_proto(const EngineStats& in, pb::EngineStats& out) {
  out.set_waiting(in.waiting);
  out.set_running(in.running);
  out.set_kv_blocks_total(in.kv_blocks_total);
  out.set_kv_blocks_used(in.kv_blocks_used);
  out.set_kv_blocks_free(in.kv_blocks_free);
  out.set_prefix_queries(in.prefix_queries);
  out.set_prefix_hits(in.prefix_hits);
  out.set_prompt_tokens(in.prompt_tokens);
  out.set_cached_tokens(in.cached_tokens);
  out.set_generated_tokens(in.generated_tokens);
  out.set_steps(in.steps);
  out.set_preemptions(in.preemptions);
  out.set_store_restored_blocks(in.store_restored_blocks);
  for (const KvTierStats& tier : in.kv_tiers) tier_to_proto(tier, *out.add_kv_tiers());
  out.set_sampling_steps(in.sampling_steps);
  out.set_spec_proposed_tokens(in.spec_proposed_tokens);
  out.set_spec_draft_tokens(in.spec_draft_tokens);
  out.set_spec_accepted_tokens(in.spec_accepted_tokens);
  out.set_spec_verify_steps(in.spec_verify_steps);
  out.set_spec_emitted_tokens(in.spec_emitted_tokens);
}

EngineStats from_proto(const pb::EngineStats& in) {
  EngineStats out;
  out.waiting = in.waiting();
  out.running = in.running();
  out.kv_blocks_total = in.kv_blocks_total();
  out.kv_blocks_used = in.kv_blocks_used();
  out.kv_blocks_free = in.kv_blocks_free();
  out.prefix_queries = in.prefix_queries();
  out.prefix_hits = in.prefix_hits();
  out.prompt_tokens = in.prompt_tokens();
  out.cached_tokens = in.cached_tokens();
  out.generated_tokens = in.generated_tokens();
  out.steps = in.steps();
  out.preemptions = in.preemptions();
  out.store_restored_blocks = in.store_restored_blocks();
  for (const pb::KvTierStats& tier : in.kv_tiers()) out.kv_tiers.push_back(tier_from_proto(tier));
  out.sampling_steps = in.sampling_steps();
  out.spec_proposed_tokens = in.spec_proposed_tokens();
  out.spec_draft_tokens = in.spec_draft_tokens();
  out.spec_accepted_tokens = in.spec_accepted_tokens();
  out.spec_verify_steps = in.spec_verify_steps();
  out.spec_emitted_tokens = in.spec_emitted_tokens();
  return out;
}

void to_proto(const Error& in, pb::Admission& out) {
  out.set_accepted(false);
  out.set_error_code(static_cast<int32_t>(in.code));
  out.set_error(in.message);
}

Error error_from_proto(const pb::Admission& in) {
  const int32_t code = in.error_code();
  const bool known = code >= 0 && code <= static_cast<int32_t>(ErrorCode::kResourceExhausted);
  return Error{known ? static_cast<ErrorCode>(code) : ErrorCode::kInternal, in.error()};
}

std::string fingerprint_hex(uint64_t fingerprint) { return fmt::format("{:016x}", fingerprint); }

}  // namespace mx
