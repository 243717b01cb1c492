// Element types of tensors: plain floats/ints and GGML's block-quantized types.
//
// The numeric values of the GGML types are the GGUF on-disk type ids (ggml_type). A quantized
// type stores `block_elems` consecutive elements of a row in `block_bytes` bytes; rows are
// always a whole number of blocks. F8_E4M3 comes from Hugging Face safetensors (DeepSeek-V3)
// and has no GGUF id: it is never written to a GGUF file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mx {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  F8_E4M3 = 1000,  // safetensors only
};

struct DTypeTraits {
  std::string_view name;  // "q4_K", "f16", ... (GGML's spelling)
  uint32_t block_elems;   // elements per block (1 for plain types)
  uint32_t block_bytes;   // bytes per block
  bool quantized;
};

// Traits of a known type; nullopt for an id mxserve does not know (e.g. from a bad file).
std::optional<DTypeTraits> dtype_traits(DType type);
std::optional<DTypeTraits> dtype_traits_from_id(uint32_t ggml_type_id);

// Parses "f32", "q8_0", "Q4_K", "bf16"... (case-insensitive); nullopt if unknown.
std::optional<DType> dtype_from_name(std::string_view name);

std::string_view dtype_name(DType type);

// Bytes for `elems` elements of one row; nullopt if elems is not a multiple of the block size
// or the type is unknown. Callers validating files must use this, never multiply blindly.
std::optional<uint64_t> row_bytes(DType type, uint64_t elems);

}  // namespace mx
