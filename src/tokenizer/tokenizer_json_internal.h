// Parsers for the pipeline components of tokenizer.json (normalizer, pre_tokenizer, decoder,
// post_processor), shared by tokenizer_json.cpp. They throw nothing: errors are Results whose
// messages name the JSON path ("pre_tokenizer.pretokenizers[1]: ...").
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/tokenizer_spec.h"

namespace mx::tokenizer_json {

using Json = nlohmann::json;

// Field accessors that turn a missing or mistyped field into an error instead of an exception.
Result<std::string> get_string(const Json& object, const char* key, const std::string& where);
Result<bool> get_bool(const Json& object, const char* key, bool fallback, const std::string& where);
Result<int> get_int(const Json& object, const char* key, int fallback, const std::string& where);

Status parse_normalizer(const Json& json, const std::string& where,
                        std::vector<NormalizerStep>& out);
Status parse_pre_tokenizer(const Json& json, const std::string& where,
                           std::vector<PreTokenizerStep>& out);
Status parse_decoder(const Json& json, const std::string& where, std::vector<DecoderStep>& out);

// Fills spec.prefix_ids / suffix_ids from the template for a single sequence.
Status parse_post_processor(const Json& json, const std::string& where, TokenizerSpec& spec);

}  // namespace mx::tokenizer_json
