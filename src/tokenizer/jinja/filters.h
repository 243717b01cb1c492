// Built-in filters and tests (internal to the jinja folder). Each follows jinja2 3.1's
// implementation of the same name, with transformers' tojson replacing jinja2's.
#pragma once

#include <string>
#include <unordered_map>

#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/parser.h"

namespace mx::jinja {

using FilterFn = Value (*)(Interpreter&, const Value& subject, ArgReader& args);
using TestFn = bool (*)(Interpreter&, const Value& subject, ArgReader& args);
using FilterTable = std::unordered_map<std::string, FilterFn>;

void add_string_filters(FilterTable& table);    // filters.cpp
void add_sequence_filters(FilterTable& table);  // filters_seq.cpp

// jinja2's make_attrgetter: "a.b.0" looked up part by part with getitem semantics.
Value get_attribute_path(const Value& item, const std::string& path);
// Sort key helper: strings lower-cased unless case_sensitive.
Value ignore_case(const Value& value, bool case_sensitive);

}  // namespace mx::jinja
