// tokenizer.json pipeline components -> spec steps. See tokenizer_json.h for what is supported.
#include <fmt/format.h>

#include "tokenizer/tokenizer_json_internal.h"

namespace mx::tokenizer_json {
namespace {

Error unsupported(const std::string& where, const std::string& what, const std::string& type,
                  const char* supported) {
  return make_error(ErrorCode::kUnsupported, "{}: {} type '{}' is not supported (supported: {})",
                    where, what, type, supported);
}

Result<std::string> get_type(const Json& json, const std::string& where) {
  if (!json.is_object()) return make_error(ErrorCode::kCorruptData, "{}: expected an object", where);
  return get_string(json, "type", where);
}

// {"Regex": "..."} or {"String": "..."}.
Status parse_pattern(const Json& json, const std::string& where, std::string& pattern,
                     bool& is_regex) {
  if (!json.is_object()) return make_error(ErrorCode::kCorruptData, "{}: expected a pattern", where);
  if (json.contains("Regex")) {
    MX_ASSIGN_OR_RETURN(pattern, get_string(json, "Regex", where));
    is_regex = true;
    return ok_status();
  }
  if (json.contains("String")) {
    MX_ASSIGN_OR_RETURN(pattern, get_string(json, "String", where));
    is_regex = false;
    return ok_status();
  }
  return make_error(ErrorCode::kCorruptData, "{}: pattern needs 'Regex' or 'String'", where);
}

Result<PrependScheme> parse_prepend_scheme(const Json& json, const std::string& where) {
  // Older files have add_prefix_space (bool) instead of prepend_scheme.
  if (json.contains("prepend_scheme")) {
    MX_ASSIGN_OR_RETURN(std::string scheme, get_string(json, "prepend_scheme", where));
    if (scheme == "always") return PrependScheme::kAlways;
    if (scheme == "first") return PrependScheme::kFirst;
    if (scheme == "never") return PrependScheme::kNever;
    return make_error(ErrorCode::kCorruptData, "{}: unknown prepend_scheme '{}'", where, scheme);
  }
  MX_ASSIGN_OR_RETURN(bool add_prefix_space, get_bool(json, "add_prefix_space", true, where));
  return add_prefix_space ? PrependScheme::kAlways : PrependScheme::kNever;
}

Result<SplitBehavior> parse_behavior(const std::string& name, const std::string& where) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return make_error(ErrorCode::kCorruptData, "{}: unknown split behavior '{}'", where, name);
}

// Iterates a JSON array field of a Sequence component.
template <typename Fn>
Status for_each_in_sequence(const Json& json, const char* key, const std::string& where, Fn fn) {
  auto it = json.find(key);
  if (it == json.end() || !it->is_array()) {
    return make_error(ErrorCode::kCorruptData, "{}: Sequence needs an array '{}'", where, key);
  }
  for (size_t i = 0; i < it->size(); ++i) {
    MX_RETURN_IF_ERROR(fn((*it)[i], fmt::format("{}.{}[{}]", where, key, i)));
  }
  return ok_status();
}

}  // namespace

Result<std::string> get_string(const Json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return make_error(ErrorCode::kCorruptData, "{}: expected a string field '{}'", where, key);
  }
  return it->get<std::string>();
}

Result<bool> get_bool(const Json& object, const char* key, bool fallback,
                      const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) {
    return make_error(ErrorCode::kCorruptData, "{}: field '{}' must be a boolean", where, key);
  }
  return it->get<bool>();
}

Result<int> get_int(const Json& object, const char* key, int fallback, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > (1 << 30)) {
    return make_error(ErrorCode::kCorruptData, "{}: field '{}' must be a small integer", where,
                      key);
  }
  return static_cast<int>(it->get<int64_t>());
}

Status parse_normalizer(const Json& json, const std::string& where,
                        std::vector<NormalizerStep>& out) {
  if (json.is_null()) return ok_status();
  MX_ASSIGN_OR_RETURN(std::string type, get_type(json, where));
  using Kind = NormalizerStep::Kind;
  NormalizerStep step;
  if (type == "Sequence") {
    return for_each_in_sequence(json, "normalizers", where, [&](const Json& j, std::string w) {
      return parse_normalizer(j, w, out);
    });
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    step.kind = type == "NFC" ? Kind::kNfc
                : type == "NFD" ? Kind::kNfd
                : type == "NFKC" ? Kind::kNfkc
                                 : Kind::kNfkd;
  } else if (type == "Lowercase") {
    step.kind = Kind::kLowercase;
  } else if (type == "Prepend") {
    step.kind = Kind::kPrepend;
    MX_ASSIGN_OR_RETURN(step.content, get_string(json, "prepend", where));
  } else if (type == "Replace") {
    step.kind = Kind::kReplace;
    MX_RETURN_IF_ERROR(parse_pattern(json.value("pattern", Json()), where + ".pattern",
                                     step.pattern, step.pattern_is_regex));
    MX_ASSIGN_OR_RETURN(step.content, get_string(json, "content", where));
  } else {
    return unsupported(where, "normalizer", type,
                       "NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Sequence");
  }
  out.push_back(std::move(step));
  return ok_status();
}

Status parse_pre_tokenizer(const Json& json, const std::string& where,
                           std::vector<PreTokenizerStep>& out) {
  if (json.is_null()) return ok_status();
  MX_ASSIGN_OR_RETURN(std::string type, get_type(json, where));
  using Kind = PreTokenizerStep::Kind;
  PreTokenizerStep step;
  if (type == "Sequence") {
    return for_each_in_sequence(json, "pretokenizers", where, [&](const Json& j, std::string w) {
      return parse_pre_tokenizer(j, w, out);
    });
  } else if (type == "Split") {
    step.kind = Kind::kSplit;
    MX_RETURN_IF_ERROR(parse_pattern(json.value("pattern", Json()), where + ".pattern",
                                     step.pattern, step.pattern_is_regex));
    MX_ASSIGN_OR_RETURN(std::string behavior, get_string(json, "behavior", where));
    MX_ASSIGN_OR_RETURN(step.behavior, parse_behavior(behavior, where));
    MX_ASSIGN_OR_RETURN(step.invert, get_bool(json, "invert", false, where));
  } else if (type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
    MX_ASSIGN_OR_RETURN(step.add_prefix_space, get_bool(json, "add_prefix_space", true, where));
    MX_ASSIGN_OR_RETURN(step.use_regex, get_bool(json, "use_regex", true, where));
  } else if (type == "Metaspace") {
    step.kind = Kind::kMetaspace;
    MX_ASSIGN_OR_RETURN(step.replacement, get_string(json, "replacement", where));
    MX_ASSIGN_OR_RETURN(step.prepend_scheme, parse_prepend_scheme(json, where));
    MX_ASSIGN_OR_RETURN(step.split, get_bool(json, "split", true, where));
  } else if (type == "Digits") {
    step.kind = Kind::kDigits;
    MX_ASSIGN_OR_RETURN(step.individual_digits,
                        get_bool(json, "individual_digits", false, where));
  } else {
    return unsupported(where, "pre_tokenizer", type,
                       "Split, ByteLevel, Metaspace, Digits, Sequence");
  }
  out.push_back(std::move(step));
  return ok_status();
}

Status parse_decoder(const Json& json, const std::string& where, std::vector<DecoderStep>& out) {
  if (json.is_null()) return ok_status();
  MX_ASSIGN_OR_RETURN(std::string type, get_type(json, where));
  using Kind = DecoderStep::Kind;
  DecoderStep step;
  if (type == "Sequence") {
    return for_each_in_sequence(json, "decoders", where, [&](const Json& j, std::string w) {
      return parse_decoder(j, w, out);
    });
  } else if (type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
  } else if (type == "Replace") {
    step.kind = Kind::kReplace;
    bool is_regex = false;
    MX_RETURN_IF_ERROR(parse_pattern(json.value("pattern", Json()), where + ".pattern",
                                     step.pattern, is_regex));
    if (is_regex) {
      return make_error(ErrorCode::kUnsupported,
                        "{}: decoder Replace with a Regex pattern is not supported", where);
    }
    MX_ASSIGN_OR_RETURN(step.content, get_string(json, "content", where));
  } else if (type == "ByteFallback") {
    step.kind = Kind::kByteFallback;
  } else if (type == "Fuse") {
    step.kind = Kind::kFuse;
  } else if (type == "Strip") {
    step.kind = Kind::kStrip;
    MX_ASSIGN_OR_RETURN(step.content, get_string(json, "content", where));
    MX_ASSIGN_OR_RETURN(step.strip_start, get_int(json, "start", 0, where));
    MX_ASSIGN_OR_RETURN(step.strip_stop, get_int(json, "stop", 0, where));
  } else if (type == "Metaspace") {
    step.kind = Kind::kMetaspace;
    MX_ASSIGN_OR_RETURN(step.replacement, get_string(json, "replacement", where));
    MX_ASSIGN_OR_RETURN(step.prepend_scheme, parse_prepend_scheme(json, where));
  } else {
    return unsupported(where, "decoder", type,
                       "ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence");
  }
  out.push_back(std::move(step));
  return ok_status();
}

namespace {

// TemplateProcessing "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}, ...]
Status parse_template(const Json& json, const std::string& where, TokenizerSpec& spec) {
  const Json& single = json.value("single", Json());
  const Json& specials = json.value("special_tokens", Json::object());
  if (!single.is_array() || !specials.is_object()) {
    return make_error(ErrorCode::kCorruptData, "{}: TemplateProcessing needs 'single' and "
                      "'special_tokens'", where);
  }
  bool seen_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const Json& piece = single[i];
    if (piece.is_object() && piece.contains("Sequence")) {
      seen_sequence = true;
      continue;
    }
    if (!piece.is_object() || !piece.contains("SpecialToken") ||
        !piece["SpecialToken"].is_object()) {
      return make_error(ErrorCode::kCorruptData, "{}.single[{}]: expected SpecialToken or "
                        "Sequence", where, i);
    }
    MX_ASSIGN_OR_RETURN(std::string name, get_string(piece["SpecialToken"], "id", where));
    auto special = specials.find(name);
    if (special == specials.end() || !special->is_object() || !special->contains("ids") ||
        !(*special)["ids"].is_array()) {
      return make_error(ErrorCode::kCorruptData, "{}: special token '{}' has no ids", where, name);
    }
    for (const Json& id : (*special)["ids"]) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
          id.get<int64_t>() >= static_cast<int64_t>(spec.tokens.size())) {
        return make_error(ErrorCode::kCorruptData, "{}: special token '{}' has a bad id", where,
                          name);
      }
      (seen_sequence ? spec.suffix_ids : spec.prefix_ids).push_back(id.get<int32_t>());
    }
  }
  return ok_status();
}

// RobertaProcessing / BertProcessing: {"cls": ["<s>", 0], "sep": ["</s>", 2]}.
Status parse_cls_sep(const Json& json, const std::string& where, TokenizerSpec& spec) {
  for (const char* key : {"cls", "sep"}) {
    const Json& pair = json.value(key, Json());
    if (!pair.is_array() || pair.size() != 2 || !pair[1].is_number_integer() ||
        pair[1].get<int64_t>() < 0 ||
        pair[1].get<int64_t>() >= static_cast<int64_t>(spec.tokens.size())) {
      return make_error(ErrorCode::kCorruptData, "{}: '{}' must be [token, id]", where, key);
    }
    (key[0] == 'c' ? spec.prefix_ids : spec.suffix_ids).push_back(pair[1].get<int32_t>());
  }
  return ok_status();
}

}  // namespace

Status parse_post_processor(const Json& json, const std::string& where, TokenizerSpec& spec) {
  if (json.is_null()) return ok_status();
  MX_ASSIGN_OR_RETURN(std::string type, get_type(json, where));
  if (type == "Sequence") {
    return for_each_in_sequence(json, "processors", where, [&](const Json& j, std::string w) {
      return parse_post_processor(j, w, spec);
    });
  }
  if (type == "ByteLevel") return ok_status();  // only adjusts offsets, which mxserve has none of
  if (type == "TemplateProcessing") return parse_template(json, where, spec);
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    return parse_cls_sep(json, where, spec);
  }
  return unsupported(where, "post_processor", type,
                     "TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence");
}

}  // namespace mx::tokenizer_json
