#include "io/weight_map.h"

namespace mx {

Status WeightMap::add(TensorInfo tensor) {
  std::string name = tensor.name;
  auto [it, inserted] = tensors_.emplace(name, std::move(tensor));
  if (!inserted) {
    return make_error(ErrorCode::kCorruptData, "{}: tensor '{}' appears twice", source, name);
  }
  return ok_status();
}

const TensorInfo* WeightMap::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Result<const TensorInfo*> WeightMap::get(const std::string& name) const {
  const TensorInfo* tensor = find(name);
  if (tensor == nullptr) {
    return make_error(ErrorCode::kNotFound,
                      "{}: tensor '{}' is missing; the file does not hold a complete model of "
                      "this architecture",
                      source, name);
  }
  return tensor;
}

}  // namespace mx
