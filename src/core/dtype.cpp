#include "core/dtype.h"

#include <array>
#include <cctype>
#include <limits>

namespace mx {
namespace {

struct Entry {
  DType type;
  DTypeTraits traits;
};

constexpr std::array<Entry, 33> kTypes = {{
    {DType::F32, {"f32", 1, 4, false}},
    {DType::F16, {"f16", 1, 2, false}},
    {DType::Q4_0, {"q4_0", 32, 18, true}},
    {DType::Q4_1, {"q4_1", 32, 20, true}},
    {DType::Q5_0, {"q5_0", 32, 22, true}},
    {DType::Q5_1, {"q5_1", 32, 24, true}},
    {DType::Q8_0, {"q8_0", 32, 34, true}},
    {DType::Q8_1, {"q8_1", 32, 36, true}},
    {DType::Q2_K, {"q2_K", 256, 84, true}},
    {DType::Q3_K, {"q3_K", 256, 110, true}},
    {DType::Q4_K, {"q4_K", 256, 144, true}},
    {DType::Q5_K, {"q5_K", 256, 176, true}},
    {DType::Q6_K, {"q6_K", 256, 210, true}},
    {DType::Q8_K, {"q8_K", 256, 292, true}},
    {DType::IQ4_NL, {"iq4_nl", 32, 18, true}},
    {DType::IQ4_XS, {"iq4_xs", 256, 136, true}},
    {DType::IQ2_XXS, {"iq2_xxs", 256, 66, true}},
    {DType::IQ2_XS, {"iq2_xs", 256, 74, true}},
    {DType::IQ2_S, {"iq2_s", 256, 82, true}},
    {DType::IQ3_XXS, {"iq3_xxs", 256, 98, true}},
    {DType::IQ3_S, {"iq3_s", 256, 110, true}},
    {DType::IQ1_S, {"iq1_s", 256, 50, true}},
    {DType::IQ1_M, {"iq1_m", 256, 56, true}},
    {DType::TQ1_0, {"tq1_0", 256, 54, true}},
    {DType::TQ2_0, {"tq2_0", 256, 66, true}},
    {DType::MXFP4, {"mxfp4", 32, 17, true}},
    {DType::I8, {"i8", 1, 1, false}},
    {DType::I16, {"i16", 1, 2, false}},
    {DType::I32, {"i32", 1, 4, false}},
    {DType::I64, {"i64", 1, 8, false}},
    {DType::F64, {"f64", 1, 8, false}},
    {DType::BF16, {"bf16", 1, 2, false}},
    {DType::F8_E4M3, {"f8_e4m3", 1, 1, false}},
}};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<DTypeTraits> dtype_traits(DType type) {
  for (const Entry& entry : kTypes) {
    if (entry.type == type) return entry.traits;
  }
  return std::nullopt;
}

std::optional<DTypeTraits> dtype_traits_from_id(uint32_t ggml_type_id) {
  if (ggml_type_id == static_cast<uint32_t>(DType::F8_E4M3)) return std::nullopt;
  return dtype_traits(static_cast<DType>(ggml_type_id));
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const Entry& entry : kTypes) {
    if (iequals(entry.traits.name, name)) return entry.type;
  }
  return std::nullopt;
}

std::string_view dtype_name(DType type) {
  auto traits = dtype_traits(type);
  return traits ? traits->name : "unknown";
}

std::optional<uint64_t> row_bytes(DType type, uint64_t elems) {
  auto traits = dtype_traits(type);
  if (!traits || elems % traits->block_elems != 0) return std::nullopt;
  uint64_t blocks = elems / traits->block_elems;
  if (blocks > std::numeric_limits<uint64_t>::max() / traits->block_bytes) return std::nullopt;
  return blocks * traits->block_bytes;
}

}  // namespace mx
