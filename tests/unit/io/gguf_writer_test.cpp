// GgufWriter: files it writes read back identically, and rewriting the gguf-py reference file
// through it reproduces that file byte for byte.
#include "io/gguf_writer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <limits>

#include "gguf_test_util.h"
#include "io/gguf.h"

namespace mx {
namespace {

using gguf_test::data_path;

std::vector<uint8_t> pattern_bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> bytes(n);
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<uint8_t>(seed + 37 * i);
  return bytes;
}

GgufWriter make_writer(uint32_t alignment) {
  GgufWriter writer(alignment);
  writer.set_string("general.architecture", "llama");
  writer.set("t.u8", GgufWriteValue::u8(200));
  writer.set("t.i8", GgufWriteValue::i8(-5));
  writer.set("t.u16", GgufWriteValue::u16(65000));
  writer.set("t.i16", GgufWriteValue::i16(-30000));
  writer.set_u32("t.u32", 123456789);
  writer.set("t.i32", GgufWriteValue::i32(-123456789));
  writer.set("t.u64", GgufWriteValue::u64(std::numeric_limits<uint64_t>::max()));
  writer.set("t.i64", GgufWriteValue::i64(std::numeric_limits<int64_t>::min()));
  writer.set_f32("t.f32", 0.1f);
  writer.set("t.f64", GgufWriteValue::f64(0.1));
  writer.set_bool("t.bool", true);
  writer.set_string("t.empty_string", "");
  writer.set("t.strings", GgufWriteValue::string_array({"a", "",
                                                        "\xc4\xa0"
                                                        "b"}));
  writer.set("t.floats", GgufWriteValue::array(std::vector<float>{1.5f, -2.0f}));
  writer.set("t.i64s", GgufWriteValue::array(std::vector<int64_t>{-1, 1LL << 40}));
  writer.set("t.u8s", GgufWriteValue::array(std::vector<uint8_t>{}));  // empty arrays are legal
  writer.set("t.no_floats", GgufWriteValue::array(std::vector<float>{}));
  writer.set("t.bools", GgufWriteValue::bool_array({true, false}));
  writer.set(
      "t.nested",
      GgufWriteValue::array_of_arrays(
          {GgufWriteValue::array(std::vector<int32_t>{1, 2}), GgufWriteValue::string_array({"x"}),
           GgufWriteValue::array_of_arrays({GgufWriteValue::array(std::vector<double>{})})}));
  writer.set_u32("t.u32", 7);  // replaced in place: stays where it was first set
  EXPECT_TRUE(writer.add_tensor("a.f32", DType::F32, {3, 5}, pattern_bytes(60, 1)).ok());
  EXPECT_TRUE(writer.add_tensor("b.q8_0", DType::Q8_0, {2, 64}, pattern_bytes(2 * 68, 2)).ok());
  EXPECT_TRUE(writer.add_tensor("c.q4_K", DType::Q4_K, {1, 1, 256}, pattern_bytes(144, 3)).ok());
  EXPECT_TRUE(writer.add_tensor("d.bf16", DType::BF16, {2, 1, 1, 3}, pattern_bytes(12, 4)).ok());
  return writer;
}

TEST(GgufWriter, WrittenFileReadsBackIdentically) {
  GgufWriter writer = make_writer(128);
  auto bytes = writer.to_bytes();
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  auto file = GgufFile::parse_bytes(*bytes, "written.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->alignment(), 128u);
  EXPECT_EQ(file->data_offset() % 128, 0u);
  EXPECT_EQ(file->metadata()[0].first, "general.alignment");
  EXPECT_EQ(file->metadata()[6].first, "t.u32");
  EXPECT_EQ(file->get_u32("t.u32").value(), 7u);
  EXPECT_EQ(file->get_u32("t.u8").value(), 200u);
  EXPECT_EQ(file->get_i32("t.i8").value(), -5);
  EXPECT_EQ(file->get_u32("t.u16").value(), 65000u);
  EXPECT_EQ(file->get_i32("t.i16").value(), -30000);
  EXPECT_EQ(file->get_i64("t.i32").value(), -123456789);
  EXPECT_EQ(file->get_u64("t.u64").value(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(file->get_i64("t.i64").value(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(file->get_f32("t.f32").value(), 0.1f);
  EXPECT_EQ(file->get_f64("t.f64").value(), 0.1);
  EXPECT_TRUE(file->get_bool("t.bool").value());
  EXPECT_EQ(file->get_string("t.empty_string").value(), "");
  auto strings = file->get_string_array("t.strings").value();
  ASSERT_EQ(strings.size(), 3u);
  EXPECT_EQ(strings[2],
            "\xc4\xa0"
            "b");
  EXPECT_EQ(file->get_f32_array("t.floats").value(), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(file->get_i64_array("t.i64s").value(), (std::vector<int64_t>{-1, 1LL << 40}));
  EXPECT_EQ(file->get_array("t.u8s", GgufType::kUint8).value()->size(), 0u);
  EXPECT_TRUE(file->get_f32_array("t.no_floats").value().empty());  // fuzz finding: memcpy(null)
  EXPECT_TRUE(file->get_i32_array("t.u8s").value().empty());
  EXPECT_EQ(file->find("t.bools")->element(1).to_bool(), false);
  const GgufValue* nested = file->find("t.nested");
  ASSERT_EQ(nested->arrays().size(), 3u);
  EXPECT_EQ(nested->arrays()[0].element(1).to_int64(), 2);
  EXPECT_EQ(nested->arrays()[1].strings()[0], "x");
  EXPECT_EQ(nested->arrays()[2].arrays()[0].element_type(), GgufType::kFloat64);
  EXPECT_EQ(nested->to_display_string(),
            "array[3] [int32[2] [1, 2], string[1] [\"x\"], array[1] [float64[0] []]]");

  ASSERT_EQ(file->tensors().size(), 4u);
  const GgufTensor* q4k = file->find_tensor("c.q4_K");
  ASSERT_NE(q4k, nullptr);
  EXPECT_EQ(q4k->shape(), (std::vector<int64_t>{1, 1, 256}));
  EXPECT_EQ(q4k->ne[0], 256);
  EXPECT_EQ(q4k->nbytes, 144u);
  EXPECT_EQ(q4k->offset % 128, 0u);
  EXPECT_EQ(std::vector<uint8_t>(q4k->data, q4k->data + 144), pattern_bytes(144, 3));
  EXPECT_EQ(file->find_tensor("d.bf16")->shape(), (std::vector<int64_t>{2, 1, 1, 3}));
}

TEST(GgufWriter, WriteFileMatchesToBytes) {
  GgufWriter writer = make_writer(32);
  gguf_test::TempFile temp("writer_test.gguf");
  ASSERT_TRUE(writer.write_file(temp.path()).ok());
  EXPECT_EQ(gguf_test::read_file_bytes(temp.path()), writer.to_bytes().value());
  auto file = GgufFile::open(temp.path());
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->find("general.alignment"), nullptr);  // the default is not recorded
  EXPECT_EQ(file->tensors().size(), 4u);
}

// Copying every key and tensor of the gguf-py file into our writer must give the same bytes:
// same layout, same padding, same encoding of every value type.
TEST(GgufWriter, RewritingTheGgufPyReferenceIsByteIdentical) {
  std::string path = data_path("gguf/reference.gguf");
  auto file = GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  GgufWriter writer(file->alignment());
  for (const auto& [key, value] : file->metadata()) writer.set(key, GgufWriteValue::copy_of(value));
  for (const GgufTensor& tensor : file->tensors()) {
    ASSERT_TRUE(
        writer.add_tensor(tensor.name, tensor.dtype, tensor.shape(), {tensor.data, tensor.nbytes})
            .ok());
  }
  auto bytes = writer.to_bytes();
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  EXPECT_TRUE(*bytes == gguf_test::read_file_bytes(path));
}

TEST(GgufWriter, RejectsBadTensorsAndAlignment) {
  GgufWriter writer;
  std::vector<uint8_t> bytes(68);
  EXPECT_TRUE(writer.add_tensor("x", DType::Q8_0, {2, 32}, bytes).ok());
  EXPECT_EQ(writer.add_tensor("x", DType::Q8_0, {2, 32}, bytes).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_FALSE(writer.add_tensor("y", DType::Q8_0, {68}, bytes).ok());     // not whole blocks
  EXPECT_FALSE(writer.add_tensor("y", DType::Q8_0, {1, 32}, bytes).ok());  // size mismatch
  EXPECT_FALSE(writer.add_tensor("y", DType::F8_E4M3, {68}, bytes).ok());  // no GGUF id
  EXPECT_FALSE(writer.add_tensor("y", DType::I8, {1, 1, 1, 1, 68}, bytes).ok());
  EXPECT_FALSE(writer.add_tensor("y", DType::I8, {0, 68}, bytes).ok());
  EXPECT_FALSE(writer.add_tensor("", DType::I8, {68}, bytes).ok());
  EXPECT_FALSE(GgufWriter(48).to_bytes().ok());
  GgufWriter mismatched(64);
  mismatched.set_u32("general.alignment", 32);
  EXPECT_FALSE(mismatched.to_bytes().ok());
  GgufWriter malformed;
  malformed.set("k", GgufWriteValue::array_of_arrays({GgufWriteValue::u8(1)}));
  EXPECT_FALSE(malformed.to_bytes().ok());
}

}  // namespace
}  // namespace mx

namespace mx {
namespace {

// Streaming: declared tensors are filled one at a time; the file equals write_file's, and a
// fill that fails (or gives the wrong size) leaves no file behind.
TEST(GgufWriter, StreamedFileEqualsTheBufferedOne) {
  const std::string dir = ::testing::TempDir();
  std::vector<uint8_t> a = pattern_bytes(4 * 6, 1), b = pattern_bytes(34 * 2, 9);
  GgufWriter buffered, streamed;
  for (GgufWriter* w : {&buffered, &streamed}) w->set_string("general.architecture", "llama");
  ASSERT_TRUE(buffered.add_tensor("a", DType::F32, {2, 3}, a).ok());
  ASSERT_TRUE(buffered.add_tensor("b", DType::Q8_0, {2, 32}, b).ok());
  ASSERT_TRUE(streamed.declare_tensor("a", DType::F32, {2, 3}).ok());
  ASSERT_TRUE(streamed.declare_tensor("b", DType::Q8_0, {2, 32}).ok());
  EXPECT_FALSE(streamed.declare_tensor("c", DType::Q8_0, {2, 33}).ok());  // not whole blocks
  ASSERT_TRUE(buffered.write_file(dir + "/buffered.gguf").ok());
  std::vector<size_t> asked;
  Status status = streamed.write_file_streaming(dir + "/streamed.gguf",
                                                [&](size_t i, std::vector<uint8_t>& bytes) {
                                                  asked.push_back(i);
                                                  bytes = i == 0 ? a : b;
                                                  return ok_status();
                                                });
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(asked, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(gguf_test::read_file_bytes(dir + "/buffered.gguf"),
            gguf_test::read_file_bytes(dir + "/streamed.gguf"));

  status = streamed.write_file_streaming(dir + "/short.gguf",
                                         [&](size_t, std::vector<uint8_t>& bytes) {
                                           bytes.assign(3, 0);
                                           return ok_status();
                                         });
  EXPECT_FALSE(status.ok());
  EXPECT_FALSE(std::filesystem::exists(dir + "/short.gguf"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/short.gguf.partial"));
}

}  // namespace
}  // namespace mx
