// libFuzzer target: SafetensorsFile::parse_buffer on arbitrary bytes must never crash, leak or
// read outside the buffer (ASan/UBSan), and what it accepts must satisfy the header invariants.
// Seeds: tests/fuzz/corpus/safetensors (written by tests/tools/make_hf_fixtures.py).
//   build-fuzz-st/bin/fuzz_safetensors -max_total_time=600 tests/fuzz/corpus/safetensors
#include <cstdint>
#include <cstdlib>
#include <string>

#include "io/hf_names.h"
#include "io/safetensors.h"

namespace {

volatile uint32_t checksum_sink = 0;

void require(bool condition) {
  if (!condition) std::abort();  // an accepted file broke an invariant: a finding
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = mx::SafetensorsFile::parse_buffer(data, size, "fuzz.safetensors");
  if (!file.ok()) {
    require(!file.error().message.empty());
    return 0;
  }
  require(file->data_start() <= size);
  uint32_t checksum = 0;
  for (const mx::SafetensorsTensor& tensor : file->tensors()) {
    require(file->find(tensor.name) == &tensor);
    require(tensor.offset >= file->data_start() && tensor.offset <= size);
    require(tensor.nbytes <= size - tensor.offset);
    require(static_cast<uint64_t>(tensor.numel()) * tensor.elem_bytes == tensor.nbytes);
    // Touch every byte the parser handed out: ASan reports any that lie outside the input.
    for (uint64_t i = 0; i < tensor.nbytes; ++i) checksum += tensor.data[i];
    require(tensor.nbytes == 0 || tensor.data == data + tensor.offset);
    (void)mx::hf_to_canonical_name(tensor.name);
  }
  checksum_sink = checksum;  // keeps the reads from being optimized away
  return 0;
}
