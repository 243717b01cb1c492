// Malformed GGUF files (tests/data/gguf/bad, made by tests/tools/make_bad_gguf.py): each must
// fail with the expected error code and a message naming the file and the key or tensor at
// fault. Plus exhaustive truncation and byte-corruption sweeps over valid files, which must
// fail cleanly or parse, never crash (run under ASan/UBSan in the sanitizer preset).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "gguf_test_util.h"
#include "io/gguf.h"

namespace mx {
namespace {

using gguf_test::data_path;

TEST(GgufBadFiles, EachFailsWithACodeAndAMessageNamingTheCulprit) {
  auto text = read_text_file(data_path("gguf/bad/expected.json"));
  ASSERT_TRUE(text.ok());
  nlohmann::json expected = nlohmann::json::parse(*text);
  ASSERT_GE(expected.size(), 30u);
  size_t files_on_disk = 0;
  for (const auto& entry : std::filesystem::directory_iterator(data_path("gguf/bad"))) {
    files_on_disk += entry.path().extension() == ".gguf";
  }
  EXPECT_EQ(files_on_disk, expected.size()) << "every bad file needs an expectation";

  for (const auto& [name, want] : expected.items()) {
    std::string path = data_path("gguf/bad/" + name + ".gguf");
    auto file = GgufFile::open(path);
    ASSERT_FALSE(file.ok()) << name << " parsed but should not";
    const Error& error = file.error();
    EXPECT_STREQ(error_code_name(error.code), want["code"].get<std::string>().c_str())
        << name << ": " << error.message;
    for (const auto& word : want["message_contains"]) {
      EXPECT_NE(error.message.find(word.get<std::string>()), std::string::npos)
          << name << ": message lacks \"" << word.get<std::string>() << "\": " << error.message;
    }
    // The in-memory path reports the same error.
    std::vector<uint8_t> bytes = gguf_test::read_file_bytes(path);
    auto parsed = GgufFile::parse_bytes(bytes, path);
    ASSERT_FALSE(parsed.ok()) << name;
    EXPECT_EQ(parsed.error().message, error.message);
  }
}

TEST(GgufBadFiles, ExampleMessagesReadWell) {
  auto file = GgufFile::open(data_path("gguf/bad/truncated_data.gguf"));
  ASSERT_FALSE(file.ok());
  std::string prefix =
      data_path("gguf/bad/truncated_data.gguf") + ": tensor 'blk.0.attn_q.weight': data [offset ";
  EXPECT_EQ(file.error().message.rfind(prefix, 0), 0u) << file.error().message;
  EXPECT_NE(file.error().message.find(
                "128 bytes] runs past the end of the file (534 bytes); the file is truncated"),
            std::string::npos)
      << file.error().message;
}

TEST(GgufBadFiles, MissingFileIsNotFound) {
  auto file = GgufFile::open(data_path("gguf/does_not_exist.gguf"));
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.error().code, ErrorCode::kNotFound);
}

std::vector<std::vector<uint8_t>> valid_files() {
  return {gguf_test::read_file_bytes(data_path("gguf/reference.gguf")),
          gguf_test::read_file_bytes(data_path("../fuzz/corpus/gguf/tiny_valid.gguf"))};
}

// Every proper prefix of a valid file is an error: the end of the file is always detected.
TEST(GgufBadFiles, EveryTruncationFailsCleanly) {
  for (const std::vector<uint8_t>& bytes : valid_files()) {
    ASSERT_TRUE(GgufFile::parse_bytes(bytes, "whole").ok());
    for (size_t length = 0; length < bytes.size(); ++length) {
      // A copy of exactly `length` bytes, so that ASan sees any read past the end.
      std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(length));
      auto file = GgufFile::parse_bytes(prefix, "prefix");
      if (file.ok()) {
        // Only the padding after the last tensor may be cut.
        ASSERT_FALSE(file->tensors().empty());
        const GgufTensor& last = file->tensors().back();
        EXPECT_LE(file->data_offset() + last.offset + last.nbytes, length);
      } else {
        EXPECT_EQ(file.error().message.rfind("prefix: ", 0), 0u);
      }
    }
  }
}

// Random byte corruption: parse, then walk everything the parser accepted.
TEST(GgufBadFiles, CorruptedBytesNeverCrash) {
  std::mt19937 rng(1234);
  int accepted = 0;
  for (const std::vector<uint8_t>& original : valid_files()) {
    for (int trial = 0; trial < 3000; ++trial) {
      std::vector<uint8_t> bytes = original;
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
      auto file = GgufFile::parse_bytes(bytes, "corrupt");
      if (!file.ok()) continue;
      ++accepted;
      for (const auto& [key, value] : file->metadata()) (void)value.to_display_string(1000);
      uint64_t checksum = 0;
      for (const GgufTensor& tensor : file->tensors()) {
        for (uint64_t i = 0; i < tensor.nbytes; ++i) checksum += tensor.data[i];
      }
      (void)checksum;
      EXPECT_TRUE(file->to_weight_map().ok());
    }
  }
  EXPECT_GT(accepted, 0);  // flips inside tensor data are harmless
}

}  // namespace
}  // namespace mx
