// Codebooks of the IQ1 / IQ2 / IQ3 GGML types (generated data, quants_grids_iq{1,2,3}.cpp, from
// llama.cpp's gguf-py by tests/tools/make_iq_grids.py). Byte j of an entry is value j of that
// grid point: all positive for IQ2 / IQ3 (their signs are stored apart), int8 -1, 0, 1 for IQ1.
#pragma once

#include <cstdint>

namespace mx::quant {

extern const uint64_t kIq2xxsGrid[256];  // values 8, 25, 43
extern const uint64_t kIq2xsGrid[512];   // values 8, 25, 43
extern const uint64_t kIq2sGrid[1024];   // values 8, 25, 43
extern const uint32_t kIq3xxsGrid[256];  // values 4, 12, .., 52, 62
extern const uint32_t kIq3sGrid[512];    // values 1, 3, .., 15
extern const uint64_t kIq1sGrid[2048];   // IQ1_S and IQ1_M; int8 -1, 0, 1

}  // namespace mx::quant
