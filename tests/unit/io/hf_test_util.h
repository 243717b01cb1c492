// Helpers shared by the safetensors and HF-folder tests: fixture paths (written by
// tests/tools/make_hf_fixtures.py) and the FNV-1a 64 hash its *.expected.json files use.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/mapped_file.h"

namespace mx::testing {

inline std::string hf_data(const std::string& relative) {
  return std::string(MX_TEST_DATA_DIR) + "/hf/" + relative;
}

inline uint64_t fnv1a64(const uint8_t* data, uint64_t size) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (uint64_t i = 0; i < size; ++i) {
    hash ^= data[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

// "<folder>.expected.json": canonical name → {hf_name, dtype, shape, nbytes, fnv1a64 (hex)}.
inline nlohmann::json load_expected(const std::string& folder) {
  auto text = read_text_file(hf_data(folder + ".expected.json"));
  if (!text.ok()) return nlohmann::json::object();
  return nlohmann::json::parse(text.value());
}

}  // namespace mx::testing
