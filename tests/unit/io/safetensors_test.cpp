#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "hf_test_util.h"

namespace mx {
namespace {

using testing::hf_data;

// A safetensors image built in memory: 8-byte LE length, header, data.
std::vector<uint8_t> image(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> bytes(8 + header.size() + data_bytes, 0);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  return bytes;
}

Result<SafetensorsFile> parse(const std::vector<uint8_t>& bytes) {
  return SafetensorsFile::parse_buffer(bytes.data(), bytes.size(), "mem.safetensors");
}

TEST(Safetensors, ReadsTinyLlamaInPlace) {
  auto file = SafetensorsFile::open(hf_data("tiny_llama/model.safetensors"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  nlohmann::json expected = testing::load_expected("tiny_llama");
  ASSERT_EQ(file->tensors().size(), expected.size());
  EXPECT_EQ(file->metadata().at("format"), "pt");
  const uint8_t* begin = file->file()->data();
  const uint8_t* end = begin + file->file()->size();
  for (const auto& [canonical, want] : expected.items()) {
    const SafetensorsTensor* tensor = file->find(want["hf_name"].get<std::string>());
    ASSERT_NE(tensor, nullptr) << want["hf_name"];
    EXPECT_EQ(tensor->dtype_name, want["dtype"].get<std::string>());
    EXPECT_EQ(tensor->shape, want["shape"].get<std::vector<int64_t>>()) << tensor->name;
    ASSERT_EQ(tensor->nbytes, want["nbytes"].get<uint64_t>());
    ASSERT_GE(tensor->data, begin + file->data_start());
    ASSERT_LE(tensor->data + tensor->nbytes, end);
    EXPECT_EQ(tensor->data, begin + tensor->offset);  // zero copy: points into the mapping
    EXPECT_EQ(fmt::format("{:016x}", testing::fnv1a64(tensor->data, tensor->nbytes)),
              want["fnv1a64"].get<std::string>())
        << tensor->name;
  }
  const SafetensorsTensor* embd = file->find("model.embed_tokens.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->dtype, DType::BF16);
  EXPECT_EQ(embd->numel(), 64 * 16);
  EXPECT_EQ(file->find("model.embed_tokens"), nullptr);
}

struct BadFile {
  const char* file;
  ErrorCode code;
  const char* mentions;  // the tensor or key the message must name ("" for header-level errors)
  const char* says;      // a phrase of the explanation
};

class SafetensorsBadFile : public ::testing::TestWithParam<BadFile> {};

TEST_P(SafetensorsBadFile, FailsWithCodeNamingFileAndTensor) {
  const BadFile& bad = GetParam();
  std::string path = hf_data(std::string("bad/") + bad.file);
  auto file = SafetensorsFile::open(path);
  ASSERT_FALSE(file.ok()) << path;
  const Error& error = file.error();
  EXPECT_EQ(error_code_name(error.code), std::string(error_code_name(bad.code))) << error.message;
  EXPECT_NE(error.message.find(path), std::string::npos) << error.message;
  EXPECT_NE(error.message.find(bad.mentions), std::string::npos) << error.message;
  EXPECT_NE(error.message.find(bad.says), std::string::npos) << error.message;
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, SafetensorsBadFile,
    ::testing::Values(
        BadFile{"truncated_header.safetensors", ErrorCode::kCorruptData, "", "too short"},
        BadFile{"truncated_data.safetensors", ErrorCode::kCorruptData, "'a.weight'",
                "beyond the data section"},
        BadFile{"header_beyond_file.safetensors", ErrorCode::kCorruptData, "header length 4096",
                "beyond the end of the file"},
        BadFile{"header_too_large.safetensors", ErrorCode::kOutOfRange, "header length", "limit"},
        BadFile{"bad_json.safetensors", ErrorCode::kCorruptData, "at byte 46", "syntax error"},
        BadFile{"not_object.safetensors", ErrorCode::kCorruptData, "", "JSON object"},
        BadFile{"bad_dtype.safetensors", ErrorCode::kUnsupported, "'weird.weight'", "'F7'"},
        BadFile{"offsets_out_of_range.safetensors", ErrorCode::kCorruptData, "'big.weight'",
                "[64, 128) extend beyond the data section (64 bytes)"},
        BadFile{"offsets_reversed.safetensors", ErrorCode::kCorruptData, "'rev.weight'",
                "begin 16 is after end 0"},
        BadFile{"overlap.safetensors", ErrorCode::kCorruptData, "'b.weight'",
                "overlaps tensor 'a.weight'"},
        BadFile{"size_mismatch.safetensors", ErrorCode::kCorruptData, "'mismatch.weight'",
                "hold 60 bytes"},
        BadFile{"wrong_field_type.safetensors", ErrorCode::kCorruptData, "'typed.weight'",
                "'shape' must be an array"},
        BadFile{"negative_dim.safetensors", ErrorCode::kCorruptData, "'neg.weight'",
                "shape[0] must be a non-negative integer, got -1"},
        BadFile{"huge_dims.safetensors", ErrorCode::kCorruptData, "'huge.weight'",
                "more than 2^64 elements"},
        BadFile{"duplicate_name.safetensors", ErrorCode::kCorruptData, "'dup.weight'",
                "appears twice"},
        BadFile{"metadata_not_string.safetensors", ErrorCode::kCorruptData, "'format'",
                "must be a string"}),
    [](const auto& info) {
      std::string name = info.param.file;
      return name.substr(0, name.find('.'));
    });

TEST(Safetensors, EmptyScalarAndByteTensors) {
  // Zero-element tensors take no bytes and may share an offset with anything; a scalar has
  // shape [] and one element; U8/BOOL parse but have no DType.
  std::string header = R"({"empty": {"dtype": "F32", "shape": [0, 4], "data_offsets": [4, 4]},)"
                       R"( "scalar": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},)"
                       R"( "mask": {"dtype": "BOOL", "shape": [2], "data_offsets": [4, 6]},)"
                       R"( "bytes": {"dtype": "U8", "shape": [2], "data_offsets": [6, 8]}})";
  auto bytes = image(header + "    ", 8);  // trailing spaces pad headers; allowed
  auto file = parse(bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  ASSERT_EQ(file->tensors().size(), 4u);
  EXPECT_EQ(file->find("empty")->nbytes, 0u);
  EXPECT_EQ(file->find("empty")->data, nullptr);
  EXPECT_EQ(file->find("scalar")->numel(), 1);
  EXPECT_TRUE(file->find("scalar")->shape.empty());
  EXPECT_FALSE(file->find("mask")->dtype.has_value());
  EXPECT_EQ(file->find("bytes")->elem_bytes, 1u);
  EXPECT_TRUE(file->metadata().empty());
}

TEST(Safetensors, RejectsEdgeCasesInMemory) {
  struct Case {
    std::string header;
    size_t data;
    ErrorCode code;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"", 0, ErrorCode::kCorruptData,
       "header JSON is invalid at byte 0 of the header (file offset 8)"},
      {R"({"x": {"dtype": "F32", "shape": [1,1,1,1,1,1,1,1,1], "data_offsets": [0, 4]}})", 4,
       ErrorCode::kUnsupported, "rank 9"},
      {R"({"x": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", 4,
       ErrorCode::kCorruptData, "shape[0] must be a non-negative integer, got 1.5"},
      {R"({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 4, ErrorCode::kCorruptData,
       "'data_offsets' must be [begin, end]"},
      {R"({"x": {"dtype": "F32", "shape": [1]}})", 4, ErrorCode::kCorruptData,
       "missing 'data_offsets'"},
      {R"({"x": {"dtype": 7, "shape": [1], "data_offsets": [0, 4]}})", 4, ErrorCode::kCorruptData,
       "'dtype' must be a string"},
      {R"({"x": [1]})", 0, ErrorCode::kCorruptData, "entry must be an object"},
      {R"({"": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 4,
       ErrorCode::kCorruptData, "empty name"},
      {R"({"__metadata__": [1]})", 0, ErrorCode::kCorruptData, "'__metadata__' must be"},
      {R"({"x": {"dtype": "F32", "shape": [281474976710657], "data_offsets": [0, 4]}})", 4,
       ErrorCode::kCorruptData, "absurdly large"},
      {R"({"x": {"dtype": "F64", "shape": [2147483648, 2147483648], "data_offsets": [0, 8]}})", 8,
       ErrorCode::kCorruptData, "overflows"},
      {R"({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 18446744073709551615]}})", 4,
       ErrorCode::kCorruptData, "beyond the data section"},
      {R"({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "dtype": "F16"}})", 4,
       ErrorCode::kCorruptData, "key 'dtype' appears twice"},
      {"{\"x\xff\": 1}", 0, ErrorCode::kCorruptData, "header JSON is invalid"},
      {R"({"x": {"dtype": "F32", "shape": [[[[[[[[1]]]]]]]], "data_offsets": [0, 4]}})", 4,
       ErrorCode::kCorruptData, "nests deeper than 8 levels at byte 38"},
  };
  for (const Case& c : cases) {
    auto bytes = image(c.header, c.data);
    auto file = parse(bytes);
    ASSERT_FALSE(file.ok()) << c.header;
    EXPECT_EQ(file.error().code, c.code) << file.error().message;
    EXPECT_NE(file.error().message.find(c.says), std::string::npos) << file.error().message;
    EXPECT_EQ(file.error().message.rfind("mem.safetensors: ", 0), 0u) << file.error().message;
  }
  EXPECT_FALSE(SafetensorsFile::parse_buffer(nullptr, 0, "none").ok());
}

TEST(Safetensors, LongNamesAreShortenedInMessages) {
  std::string name(5000, 'n');
  auto bytes =
      image("{\"" + name + R"(": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 1]}})", 1);
  auto file = parse(bytes);
  ASSERT_FALSE(file.ok());
  EXPECT_LT(file.error().message.size(), 600u);
  EXPECT_NE(file.error().message.find("(5000 bytes)"), std::string::npos);
}

TEST(Safetensors, BracketsAndQuotesInsideNamesAreNotNesting) {
  std::string header =
      R"({"we\"ird[[[[[[[[[[\\": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})";
  auto bytes = image(header, 4);
  auto file = parse(bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_NE(file->find("we\"ird[[[[[[[[[[\\"), nullptr);
}

TEST(Safetensors, JsonErrorsQuoteLongTokensShortly) {
  auto bytes = image("{\"" + std::string(100000, 'x'), 0);  // unterminated 100 kB string
  auto file = parse(bytes);
  ASSERT_FALSE(file.ok());
  EXPECT_LT(file.error().message.size(), 600u) << file.error().message.substr(0, 600);
}

TEST(Safetensors, DTypeNames) {
  EXPECT_EQ(safetensors_dtype("F8_E4M3"), DType::F8_E4M3);
  EXPECT_EQ(safetensors_dtype("BF16"), DType::BF16);
  EXPECT_EQ(safetensors_elem_bytes("I64"), 8u);
  EXPECT_EQ(safetensors_elem_bytes("BOOL"), 1u);
  EXPECT_FALSE(safetensors_dtype("BOOL").has_value());
  EXPECT_FALSE(safetensors_elem_bytes("bf16").has_value());  // names are case-sensitive
  EXPECT_FALSE(safetensors_elem_bytes("F8_E5M2").has_value());
}

}  // namespace
}  // namespace mx
