// A read-only memory-mapped file. Weights are read in place from the mapping (no copies);
// the mapping lives as long as any WeightMap that points into it (shared_ptr).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace mx {

class MappedFile {
 public:
  // Maps the whole file read-only. An empty file maps to size() == 0, data() == nullptr.
  static Result<std::shared_ptr<const MappedFile>> open(const std::string& path);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a whole (small) file into a string, e.g. config.json.
Result<std::string> read_text_file(const std::string& path);

}  // namespace mx
