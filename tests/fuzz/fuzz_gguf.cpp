// libFuzzer target: GgufFile::parse_bytes on arbitrary bytes must never crash, hang, leak or
// read outside the input (ASan/UBSan); what it accepts must satisfy the reader's invariants,
// survive every accessor (metadata walk, typed getters, arrays, weight map, dequantizing a
// row of each tensor), and rewrite through GgufWriter into a file that parses again.
// Seeds: tests/fuzz/corpus/gguf (tests/tools/make_reference_gguf.py, make_bad_gguf.py).
//   build-fuzz-gguf/bin/fuzz_gguf -max_total_time=600 -dict=tests/fuzz/fuzz_gguf.dict \
//       tests/fuzz/corpus/gguf
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "kernels/cpu/quants.h"

namespace {

volatile uint64_t checksum_sink = 0;

void require(bool condition) {
  if (!condition) std::abort();  // an accepted file broke an invariant: a finding
}

// Visits every element of a value (nested arrays included) through the public accessors.
uint64_t walk_value(const mx::GgufValue& value) {
  uint64_t sum = 0;
  if (!value.is_array()) {
    sum += value.to_int64().value_or(0) + value.to_uint64().value_or(0);
    sum += static_cast<uint64_t>(value.to_double().value_or(0.0) != 0.0);
    sum += value.to_string().value_or("").size();
    return sum;
  }
  require(value.raw_elements().size() == value.size() * mx::gguf_fixed_size(value.element_type()) ||
          mx::gguf_fixed_size(value.element_type()) == 0);
  for (uint64_t i = 0; i < value.size(); ++i) sum += walk_value(value.element(i));
  return sum;
}

void exercise_getters(const mx::GgufFile& file, std::string_view key) {
  (void)file.get_u32(key);
  (void)file.get_i64(key);
  (void)file.get_f32(key);
  (void)file.get_bool(key);
  (void)file.get_string(key);
  (void)file.get_string_array(key);
  (void)file.get_f32_array(key);
  (void)file.get_i32_array(key);
}

uint64_t check_tensors(const mx::GgufFile& file, const uint8_t* data, size_t size) {
  uint64_t sum = 0;
  std::vector<float> row;
  for (const mx::GgufTensor& tensor : file.tensors()) {
    require(file.find_tensor(tensor.name) == &tensor);
    require(tensor.data >= data && tensor.nbytes <= size &&
            static_cast<size_t>(tensor.data - data) <= size - tensor.nbytes);
    auto row_size = mx::row_bytes(tensor.dtype, static_cast<uint64_t>(tensor.ne[0]));
    require(row_size &&
            *row_size * static_cast<uint64_t>(tensor.numel() / tensor.ne[0]) == tensor.nbytes);
    for (uint64_t i = 0; i < tensor.nbytes; ++i) sum += tensor.data[i];
    // Dequantize the first row (capped) from the file bytes: any bit pattern must decode.
    if (mx::can_dequantize(tensor.dtype) && tensor.ne[0] <= 4096) {
      row.resize(static_cast<size_t>(tensor.ne[0]));
      require(mx::dequantize_row(tensor.dtype, tensor.data, row.data(), tensor.ne[0]));
    }
  }
  return sum;
}

// Copies the file through GgufWriter; if the writer accepts it, the result must parse again.
void rewrite(const mx::GgufFile& file) {
  // A legal but huge alignment (up to 2^31) would make the writer pad gigabytes: not a bug.
  if (file.alignment() > 4096) return;
  mx::GgufWriter writer(file.alignment());
  for (const auto& [key, value] : file.metadata())
    writer.set(key, mx::GgufWriteValue::copy_of(value));
  for (const mx::GgufTensor& tensor : file.tensors()) {
    require(
        writer.add_tensor(tensor.name, tensor.dtype, tensor.shape(), {tensor.data, tensor.nbytes})
            .ok());
  }
  auto bytes = writer.to_bytes();
  if (!bytes.ok()) return;  // e.g. general.alignment stored as uint64: the writer wants uint32
  auto again = mx::GgufFile::parse_bytes(*bytes, "rewritten.gguf");
  require(again.ok());
  require(again->metadata().size() == file.metadata().size());
  require(again->tensors().size() == file.tensors().size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = mx::GgufFile::parse_bytes(std::span<const uint8_t>(data, size), "fuzz.gguf");
  if (!file.ok()) {
    require(file.error().message.rfind("fuzz.gguf: ", 0) == 0);
    return 0;
  }
  require(file->data_offset() % file->alignment() == 0);
  uint64_t sum = 0;
  for (const auto& [key, value] : file->metadata()) {
    require(file->find(key) == &value);
    sum += walk_value(value);
    sum += value.to_display_string(16).size();
    exercise_getters(*file, key);
  }
  sum += check_tensors(*file, data, size);
  auto map = file->to_weight_map();
  require(map.ok() && map->size() == file->tensors().size());
  rewrite(*file);
  checksum_sink = sum;  // keeps the reads from being optimized away
  return 0;
}
