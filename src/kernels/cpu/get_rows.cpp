#include "kernels/cpu/get_rows.h"

#include <atomic>

#include "kernels/cpu/quants.h"

namespace mx {

Status get_rows(DType type, const void* table, int64_t n_table_rows, int64_t cols,
                const int32_t* ids, int64_t n_ids, float* y, int64_t y_stride, ThreadPool& pool) {
  auto bytes = row_bytes(type, static_cast<uint64_t>(cols));
  if (!can_dequantize(type) || !bytes) {
    return make_error(ErrorCode::kUnsupported, "get_rows: cannot read {} rows of {} elements",
                      dtype_name(type), cols);
  }
  if (y_stride < cols) {
    return make_error(ErrorCode::kInvalidArgument, "get_rows: y_stride {} < cols {}", y_stride,
                      cols);
  }
  for (int64_t i = 0; i < n_ids; ++i) {
    if (ids[i] < 0 || ids[i] >= n_table_rows) {
      return make_error(ErrorCode::kOutOfRange, "get_rows: id {} at index {} is outside [0, {})",
                        ids[i], i, n_table_rows);
    }
  }
  const auto* base = static_cast<const uint8_t*>(table);
  std::atomic<bool> ok{true};
  auto rows = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const uint8_t* row = base + static_cast<uint64_t>(ids[i]) * *bytes;
      if (!dequantize_row(type, row, y + i * y_stride, cols)) ok.store(false);
    }
  };
  if (n_ids < 8 || pool.size() == 1) {
    rows(0, n_ids);
  } else {
    pool.parallel_for(n_ids, rows);
  }
  if (!ok.load()) {
    return make_error(ErrorCode::kInternal, "get_rows: dequantize_row failed for {}",
                      dtype_name(type));
  }
  return ok_status();
}

}  // namespace mx
