#include "tokenizer/detokenizer.h"

#include "tokenizer/utf8.h"

namespace mx {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

}  // namespace

Detokenizer::Detokenizer(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(tokenizer),
      skip_special_(skip_special),
      leading_strip_left_(tokenizer.leading_strip().count) {}

std::string Detokenizer::take_complete() {
  // Leading characters the decoder strips (Llama 2's first space): drop them as they arrive.
  const std::string& strip = tokenizer_.leading_strip().character;
  while (leading_strip_left_ > 0 && !strip.empty() && !pending_.empty()) {
    if (pending_.compare(0, strip.size(), strip) == 0) {
      pending_.erase(0, strip.size());
      --leading_strip_left_;
    } else if (pending_.size() < strip.size() && strip.compare(0, pending_.size(), pending_) == 0) {
      return {};  // could still become the stripped character: wait
    } else {
      leading_strip_left_ = 0;
    }
  }
  std::string out;
  size_t pos = 0, copied = 0;
  while (pos < pending_.size()) {
    if (static_cast<uint8_t>(pending_[pos]) < 0x80) {
      ++pos;
      continue;
    }
    size_t subpart = 0;
    size_t length = utf8_valid_sequence_at(pending_, pos, &subpart);
    if (length > 0) {
      pos += length;
      continue;
    }
    bool unfinished = utf8_sequence_length(static_cast<uint8_t>(pending_[pos])) > 0 &&
                      pos + subpart == pending_.size();
    if (unfinished) break;  // more bytes may complete it
    out.append(pending_, copied, pos - copied);
    out += kReplacement;
    pos += subpart;
    copied = pos;
  }
  out.append(pending_, copied, pos - copied);
  pending_.erase(0, pos);
  return out;
}

std::string Detokenizer::push_by_redecoding(int32_t id) {
  ids_.push_back(id);
  std::string text = tokenizer_.decode(ids_, skip_special_);
  // A trailing U+FFFD may be a character still arriving in pieces: wait for the next token.
  if (text.size() >= kReplacement.size() &&
      std::string_view(text).substr(text.size() - kReplacement.size()) == kReplacement) {
    return {};
  }
  // A decoder that strips the end (Strip with stop) may strip what is trailing now once more
  // arrives: hold back the trailing characters it could remove.
  size_t stable = text.size();
  const std::string& strip = tokenizer_.trailing_strip().character;
  if (tokenizer_.trailing_strip().count > 0 && !strip.empty()) {
    while (stable > emitted_bytes_ && strip.find(text[stable - 1]) != std::string::npos) --stable;
    while (stable > emitted_bytes_ && (static_cast<uint8_t>(text[stable]) & 0xC0) == 0x80) --stable;
  }
  if (stable <= emitted_bytes_) return {};
  std::string out = text.substr(emitted_bytes_, stable - emitted_bytes_);
  emitted_bytes_ = stable;
  return out;
}

std::string Detokenizer::push(int32_t id) {
  if (!tokenizer_.pieces_concatenate()) return push_by_redecoding(id);
  if (skip_special_ && tokenizer_.is_special(id)) return {};
  pending_ += tokenizer_.token_to_piece(id);
  return take_complete();
}

std::string Detokenizer::flush() {
  if (!tokenizer_.pieces_concatenate()) {
    std::string text = tokenizer_.decode(ids_, skip_special_);
    std::string out = text.size() > emitted_bytes_ ? text.substr(emitted_bytes_) : std::string();
    emitted_bytes_ = text.size();
    return out;
  }
  std::string out = take_complete();
  out += utf8_lossy(pending_);
  pending_.clear();
  return out;
}

}  // namespace mx
