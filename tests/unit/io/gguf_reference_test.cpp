// Our reader against a file written by llama.cpp's GGUFWriter (gguf-py): every key, value and
// tensor must read back exactly as tests/data/gguf/reference.json (written by the same script,
// tests/tools/make_reference_gguf.py) says gguf-py wrote it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>

#include <nlohmann/json.hpp>

#include "gguf_test_util.h"
#include "io/gguf.h"

namespace mx {
namespace {

using gguf_test::data_path;
using nlohmann::json;

json load_expected() {
  auto text = read_text_file(data_path("gguf/reference.json"));
  EXPECT_TRUE(text.ok());
  return json::parse(*text);
}

// Compares one scalar (or string) value with its JSON form.
void expect_scalar(const GgufValue& value, const json& want, const std::string& where) {
  switch (value.type()) {
    case GgufType::kString:
      EXPECT_EQ(value.to_string().value_or("<not a string>"), want.get<std::string>()) << where;
      break;
    case GgufType::kBool:
      EXPECT_EQ(value.to_bool(), std::optional<bool>(want.get<bool>())) << where;
      break;
    case GgufType::kFloat32:
    case GgufType::kFloat64:
      EXPECT_EQ(value.to_double(), std::optional<double>(want.get<double>())) << where;
      break;
    default:
      ASSERT_TRUE(gguf_is_integer(value.type())) << where;
      if (want.is_number_unsigned()) {
        EXPECT_EQ(value.to_uint64(), std::optional<uint64_t>(want.get<uint64_t>())) << where;
      } else {
        EXPECT_EQ(value.to_int64(), std::optional<int64_t>(want.get<int64_t>())) << where;
      }
  }
}

void expect_value(const GgufValue& value, const json& want, const std::string& where) {
  if (!want.is_array()) return expect_scalar(value, want, where);
  ASSERT_TRUE(value.is_array()) << where;
  ASSERT_EQ(value.size(), want.size()) << where;
  for (size_t i = 0; i < want.size(); ++i) {
    expect_value(value.element(i), want[i], where + "[" + std::to_string(i) + "]");
  }
  if (value.element_type() == GgufType::kString) {
    ASSERT_EQ(value.strings().size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_EQ(value.strings()[i], want[i].get<std::string>());
  }
}

TEST(GgufReference, ReadsEveryKeyAsGgufPyWroteIt) {
  json expected = load_expected();
  auto file = GgufFile::open(data_path("gguf/reference.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->alignment(), expected["alignment"].get<uint32_t>());
  ASSERT_EQ(file->metadata().size(), expected["metadata"].size());
  for (size_t i = 0; i < expected["metadata"].size(); ++i) {
    const json& entry = expected["metadata"][i];
    std::string key = entry["key"];
    EXPECT_EQ(file->metadata()[i].first, key) << "file order";
    const GgufValue* value = file->find(key);
    ASSERT_NE(value, nullptr) << key;
    EXPECT_EQ(gguf_type_name(value->type()), entry["type"].get<std::string>()) << key;
    if (entry.contains("element_type")) {
      EXPECT_EQ(gguf_type_name(value->element_type()), entry["element_type"].get<std::string>())
          << key;
    }
    expect_value(*value, entry["value"], key);
  }
}

TEST(GgufReference, ReadsEveryTensorAsGgufPyWroteIt) {
  json expected = load_expected();
  auto file = GgufFile::open(data_path("gguf/reference.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->data_offset(), expected["data_offset"].get<uint64_t>());
  EXPECT_EQ(file->file_size(), expected["file_size"].get<size_t>());
  ASSERT_EQ(file->tensors().size(), expected["tensors"].size());
  for (size_t i = 0; i < expected["tensors"].size(); ++i) {
    const json& want = expected["tensors"][i];
    const GgufTensor& tensor = file->tensors()[i];
    std::string name = want["name"];
    EXPECT_EQ(tensor.name, name);
    EXPECT_EQ(file->find_tensor(name), &tensor);
    EXPECT_EQ(dtype_name(tensor.dtype), want["type"].get<std::string>()) << name;
    EXPECT_EQ(tensor.shape(), want["shape"].get<std::vector<int64_t>>()) << name;
    std::vector<int64_t> ne(tensor.ne.begin(), tensor.ne.begin() + tensor.n_dims);
    EXPECT_EQ(ne, want["ne"].get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(tensor.offset, want["offset"].get<uint64_t>()) << name;
    std::vector<uint8_t> bytes = gguf_test::from_hex(want["hex"]);
    ASSERT_EQ(tensor.nbytes, bytes.size()) << name;
    EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), tensor.data)) << name;
  }
}

TEST(GgufReference, TypedGettersAndTokenizerArrays) {
  auto file = GgufFile::open(data_path("gguf/reference.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->get_string("general.architecture").value(), "testarch");
  EXPECT_EQ(file->get_u32("test.context_length").value(), 4096u);
  EXPECT_EQ(file->get_i32("test.context_length").value(), 4096);
  EXPECT_EQ(file->get_u32("test.small_i64").value(), 42u);  // int64 that fits
  EXPECT_EQ(file->get_u64("test.uint64").value(), UINT64_MAX);
  EXPECT_EQ(file->get_i64("test.int64").value(), INT64_MIN);
  EXPECT_FLOAT_EQ(file->get_f32("test.float32").value(), 3.14159265f);
  EXPECT_EQ(file->get_f64("test.float64").value(), 2.718281828459045);
  EXPECT_TRUE(file->get_bool("test.bool_true").value());
  EXPECT_EQ(file->get_u32_or("absent.key", 7).value(), 7u);
  EXPECT_EQ(file->get_f32_or("test.float32", 0.0f).value(), file->get_f32("test.float32").value());

  auto tokens = file->get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 6u);
  EXPECT_EQ((*tokens)[2], "\xc4\xa0the");  // "Ġthe"
  EXPECT_EQ(file->get_i32_array("tokenizer.ggml.token_type").value(),
            (std::vector<int32_t>{3, 3, 1, 1, 1, 1}));
  EXPECT_EQ(file->get_f32_array("tokenizer.ggml.scores").value()[3], -2.25f);
  EXPECT_EQ(file->get_i64_array("test.array.int8").value(), (std::vector<int64_t>{-128, 0, 127}));
  EXPECT_EQ(file->get_f32_array("test.array.int16").value(), (std::vector<float>{-32768, 32767}));
  auto nested = file->get_array("test.array.nested_int32", GgufType::kArray);
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ((*nested)->arrays()[2].size(), 3u);
  EXPECT_EQ((*nested)->arrays()[2].element(1).to_int64(), 5);
}

TEST(GgufReference, GetterErrorsNameTheKeyAndType) {
  auto file = GgufFile::open(data_path("gguf/reference.gguf"));
  ASSERT_TRUE(file.ok());
  auto missing = file->get_u32("llama.block_count");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("'llama.block_count' is missing"), std::string::npos);
  EXPECT_NE(missing.error().message.find("reference.gguf"), std::string::npos);

  auto wrong = file->get_u32("test.string");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kCorruptData);
  EXPECT_NE(wrong.error().message.find("'test.string': expected uint32, found string"),
            std::string::npos)
      << wrong.error().message;

  auto negative = file->get_u32("test.int8");  // -128
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.error().code, ErrorCode::kOutOfRange);
  EXPECT_NE(negative.error().message.find("int8 -128 does not fit in uint32"), std::string::npos)
      << negative.error().message;
  EXPECT_EQ(file->get_i32("test.uint32").error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(file->get_bool("test.uint8").error().code, ErrorCode::kCorruptData);
  EXPECT_EQ(file->get_string_array("tokenizer.ggml.scores").error().code, ErrorCode::kCorruptData);
  EXPECT_EQ(file->get_i32_array("test.array.uint32").error().code, ErrorCode::kCorruptData);
  EXPECT_EQ(file->get_u32_or("test.string", 1).error().code, ErrorCode::kCorruptData);
}

TEST(GgufReference, WeightMapReversesShapesAndKeepsTheMappingAlive) {
  Result<WeightMap> map = make_error(ErrorCode::kInternal, "unset");
  {
    auto file = GgufFile::open(data_path("gguf/reference.gguf"));
    ASSERT_TRUE(file.ok());
    map = file->to_weight_map();
    ASSERT_TRUE(map.ok()) << map.error().message;
  }  // the GgufFile is gone; the map must still own the mapping
  const TensorInfo* tensor = map->find("blk.0.f32_4d");
  ASSERT_NE(tensor, nullptr);
  EXPECT_EQ(tensor->shape, (std::vector<int64_t>{2, 1, 3, 2}));
  EXPECT_EQ(tensor->nbytes, 12u * 4u);
  EXPECT_NE(tensor->source.find("reference.gguf"), std::string::npos);
  float first;
  std::memcpy(&first, tensor->data, sizeof first);  // readable after the GgufFile is gone
  EXPECT_TRUE(std::isfinite(first));
  EXPECT_EQ(map->find("blk.1.q6_K")->shape, (std::vector<int64_t>{2, 256}));
  EXPECT_EQ(map->size(), 10u);
}

}  // namespace
}  // namespace mx
