// Which instruction-set path a CPU kernel runs, chosen at run time from cpu_features().
//
// Every kernel family has a plain scalar path (the reference it is tested against) and, where it
// pays, AVX2 and AVX-512 paths compiled in their own translation units with per-file flags
// (src/kernels/CMakeLists.txt), so the library still runs on a CPU without those extensions.
// Callers normally pass CpuPath::kAuto; tests and benchmarks force a path to cover each one on
// one machine. A forced path the CPU lacks falls back to the best one below it that it has.
#pragma once

namespace mx {

enum class CpuPath {
  kAuto,        // the best path this CPU supports
  kScalar,      // portable C++, no intrinsics
  kAvx2,        // AVX2 + FMA + F16C (int8 dots with vpmaddubsw)
  kAvx512,      // AVX-512 F/BW/VL without VNNI (int8 dots with vpmaddubsw)
  kAvx512Vnni,  // AVX-512 + VNNI (int8 dots with vpdpbusd / vpdpwssd)
};

const char* cpu_path_name(CpuPath path);

// True if this CPU can run `path` (kAuto and kScalar always can).
bool cpu_path_supported(CpuPath path);

// kAuto -> the best supported path; an unsupported forced path -> the best supported one below.
CpuPath resolve_cpu_path(CpuPath requested);

}  // namespace mx
