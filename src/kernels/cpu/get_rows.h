// Embedding lookup: y[i, :] = dequantize(table row ids[i]) for a table in any type that
// dequantize_row (quants.h) handles (F32, F16, BF16, legacy and K quants, IQ4_NL, IQ4_XS). One
// row per token, so the reference dequantizers are fast enough; rows are spread over the pool
// for prefill.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/status.h"
#include "core/thread_pool.h"

namespace mx {

// table [n_table_rows, cols] in `type`, rows back to back; ids [n_ids]; y [n_ids, cols] with row
// stride y_stride floats. Errors for an id outside [0, n_table_rows), an unsupported type or a
// cols that is not a whole number of blocks; y is then left unspecified.
Status get_rows(DType type, const void* table, int64_t n_table_rows, int64_t cols,
                const int32_t* ids, int64_t n_ids, float* y, int64_t y_stride, ThreadPool& pool);

}  // namespace mx
