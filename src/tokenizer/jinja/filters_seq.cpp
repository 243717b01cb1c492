// Sequence filters: length, first, last, join, list, map, select/reject(attr), sort, unique,
// reverse, items, dictsort, min, max, sum, batch. As in jinja2, map/select/reject/unique/items/
// batch return generators (truthy even when empty, no length) and reverse of a list returns a
// list_reverseiterator; templates must `|list` them, and this interpreter holds them to that.
#include <algorithm>

#include "tokenizer/jinja/filters.h"
#include "tokenizer/jinja/text.h"

namespace mx::jinja {

Value get_attribute_path(const Value& item, const std::string& path) {
  Value current = item;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (current.is_undefined()) fail("{}", current.as_undefined().hint);
    current = get_item(current, digits && part.size() < 18 ? Value(static_cast<int64_t>(std::stoll(part))) : Value(part));
    if (dot == std::string::npos) return current;
    start = dot + 1;
  }
}

Value ignore_case(const Value& value, bool case_sensitive) {
  if (!case_sensitive && value.is_string()) return Value(py_lower(value.as_string()));
  return value;
}

namespace {

Value generator(std::vector<Value> items) { return Value::view(std::move(items), "generator"); }

// Runs a generator's body eagerly; a runtime error becomes the generator's deferred error, to be
// raised only if something iterates it (limits and raise_exception still stop the render).
template <typename Body>
Value lazy_generator(Body body) {
  try {
    return generator(body());
  } catch (const TemplateError& error) {
    if (error.kind() != TemplateErrorKind::kRuntime) throw;
    auto list = std::make_shared<List>();
    list->view = "generator";
    list->deferred_error = std::make_shared<TemplateError>(error);
    return Value(ListPtr(std::move(list)));
  }
}

Value f_length(Interpreter&, const Value& v, ArgReader& args) {
  args.finish();
  return Value(static_cast<int64_t>(value_length(v)));
}

Value f_first(Interpreter&, const Value& v, ArgReader& args) {
  args.finish();
  std::vector<Value> items = iterate(v);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Interpreter&, const Value& v, ArgReader& args) {
  args.finish();
  if (v.is_list() && v.as_list().is_iterator()) fail("'{}' object is not reversible", v.type_name());
  std::vector<Value> items = iterate(v);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_join(Interpreter& interp, const Value& v, ArgReader& args) {
  std::string separator = to_str(args.take_or("d", Value("")));
  Value attribute = args.take_or("attribute", Value(None{}));
  args.finish();
  std::string out;
  bool first = true;
  for (const Value& item : iterate(v)) {
    if (!first) out += separator;
    first = false;
    out += to_str(attribute.is_none() ? item : get_attribute_path(item, to_str(attribute)));
    interp.charge_bytes(out.size());
  }
  return Value(std::move(out));
}

Value f_list(Interpreter&, const Value& v, ArgReader& args) {
  args.finish();
  return Value::list(iterate(v));
}

Value f_map(Interpreter& interp, const Value& v, ArgReader& args) {
  std::vector<Value> positional = args.rest();
  std::optional<Value> attribute = args.take("attribute");
  std::optional<Value> fallback = args.take("default");
  if (attribute) {
    args.finish();
    if (!positional.empty()) fail("map: pass either a filter name or attribute=, not both");
    return lazy_generator([&] {
      std::vector<Value> out;
      for (const Value& item : iterate(v)) {
        Value mapped = get_attribute_path(item, to_str(*attribute));
        out.push_back(fallback && mapped.is_undefined() ? *fallback : mapped);
      }
      return out;
    });
  }
  if (positional.empty()) fail("map requires a filter argument");
  std::string filter = to_str(positional[0]);
  return lazy_generator([&] {
    std::vector<Value> out;
    for (const Value& item : iterate(v)) {
      CallArgs call_args;
      call_args.positional.assign(positional.begin() + 1, positional.end());
      if (fallback) call_args.keyword.emplace_back("default", *fallback);
      out.push_back(interp.apply_filter(filter, item, call_args));
    }
    return out;
  });
}

// select/reject/selectattr/rejectattr share jinja2's select_or_reject.
Value select_or_reject(Interpreter& interp, const Value& v, ArgReader& args, bool by_attribute, bool keep) {
  // Everything, argument checks included, happens inside jinja2's generator: errors surface
  // only when the result is iterated. Keyword arguments go to the test.
  std::optional<Value> attribute = by_attribute ? args.take("attr") : std::nullopt;
  std::vector<Value> rest = args.rest();
  std::vector<std::pair<std::string, Value>> keywords = args.rest_keywords();
  return lazy_generator([&] {
    if (by_attribute && !attribute) fail("Missing parameter for attribute name");
    std::vector<Value> out;
    for (const Value& item : iterate(v)) {
      Value subject = by_attribute ? get_attribute_path(item, to_str(*attribute)) : item;
      bool passed;
      if (rest.empty()) {
        passed = subject.truthy();
      } else {
        CallArgs test_args;
        test_args.positional.assign(rest.begin() + 1, rest.end());
        test_args.keyword = keywords;
        passed = interp.apply_test(to_str(rest[0]), subject, test_args);
      }
      if (passed == keep) out.push_back(item);
    }
    return out;
  });
}

Value f_select(Interpreter& i, const Value& v, ArgReader& a) { return select_or_reject(i, v, a, false, true); }
Value f_reject(Interpreter& i, const Value& v, ArgReader& a) { return select_or_reject(i, v, a, false, false); }
Value f_selectattr(Interpreter& i, const Value& v, ArgReader& a) { return select_or_reject(i, v, a, true, true); }
Value f_rejectattr(Interpreter& i, const Value& v, ArgReader& a) { return select_or_reject(i, v, a, true, false); }

Value sort_key(const Value& item, bool case_sensitive, const Value& attribute) {
  Value key = attribute.is_none() ? item : get_attribute_path(item, to_str(attribute));
  return ignore_case(key, case_sensitive);
}

// jinja2's sort key is a list (one entry per comma-separated attribute), compared as Python
// compares lists: equal entries are skipped with ==, so equal Undefined keys never reach `<`.
std::vector<Value> multi_sort_key(const Value& item, bool case_sensitive, const Value& attribute) {
  if (attribute.is_none()) return {ignore_case(item, case_sensitive)};
  std::vector<Value> key;
  std::string spec = to_str(attribute);
  size_t start = 0;
  while (true) {
    size_t comma = spec.find(',', start);
    std::string part = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    key.push_back(ignore_case(get_attribute_path(item, part), case_sensitive));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return key;
}

bool key_less(const std::vector<Value>& a, const std::vector<Value>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (values_equal(a[i], b[i])) continue;
    return compare_values(a[i], b[i]) < 0;
  }
  return a.size() < b.size();
}

Value f_sort(Interpreter& interp, const Value& v, ArgReader& args) {
  bool reverse = args.take_or("reverse", Value(false)).truthy();
  bool case_sensitive = args.take_or("case_sensitive", Value(false)).truthy();
  Value attribute = args.take_or("attribute", Value(None{}));
  args.finish();
  std::vector<std::pair<std::vector<Value>, Value>> keyed;
  for (const Value& item : iterate(v)) keyed.emplace_back(multi_sort_key(item, case_sensitive, attribute), item);
  interp.charge_steps(keyed.size());
  std::stable_sort(keyed.begin(), keyed.end(), [reverse](const auto& a, const auto& b) {
    return reverse ? key_less(b.first, a.first) : key_less(a.first, b.first);
  });
  std::vector<Value> out;
  for (auto& entry : keyed) out.push_back(std::move(entry.second));
  return Value::list(std::move(out));
}

Value f_unique(Interpreter& interp, const Value& v, ArgReader& args) {
  bool case_sensitive = args.take_or("case_sensitive", Value(false)).truthy();
  Value attribute = args.take_or("attribute", Value(None{}));
  args.finish();
  return lazy_generator([&] {
    Dict seen;
    std::vector<Value> out;
    for (const Value& item : iterate(v)) {
      Value key = sort_key(item, case_sensitive, attribute);
      interp.charge_steps(1);
      if (seen.find(key) != nullptr) continue;
      seen.set(key, Value(true));
      out.push_back(item);
    }
    return out;
  });
}

Value f_reverse(Interpreter&, const Value& v, ArgReader& args) {
  args.finish();
  if (v.is_string()) {
    std::u32string cps = to_code_points(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value(from_code_points(cps));
  }
  std::vector<Value> items = iterate(v);
  std::reverse(items.begin(), items.end());
  // reversed() works on lists, tuples and dicts; other iterables are copied into a list
  bool reversible = v.is_plain_list() || v.is_dict();
  return reversible ? Value::view(std::move(items), "list_reverseiterator") : Value::list(std::move(items));
}

Value f_items(Interpreter&, const Value& v, ArgReader& args) {
  args.finish();
  if (v.is_undefined()) return generator({});
  if (!v.is_dict()) fail("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [key, value] : v.as_dict().entries()) out.push_back(Value::list({key, value}, true));
  return generator(std::move(out));
}

Value f_dictsort(Interpreter&, const Value& v, ArgReader& args) {
  bool case_sensitive = args.take_or("case_sensitive", Value(false)).truthy();
  std::string by = to_str(args.take_or("by", Value("key")));
  bool reverse = args.take_or("reverse", Value(false)).truthy();
  args.finish();
  if (by != "key" && by != "value") fail("You can only sort by either \"key\" or \"value\"");
  if (!v.is_dict()) fail("'{}' object has no attribute 'items'", v.type_name());
  std::vector<Value> pairs;
  for (const auto& [key, value] : v.as_dict().entries()) pairs.push_back(Value::list({key, value}, true));
  size_t index = by == "key" ? 0 : 1;
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& a, const Value& b) {
    Value x = ignore_case(a.as_list().items[index], case_sensitive);
    Value y = ignore_case(b.as_list().items[index], case_sensitive);
    return reverse ? compare_values(y, x) < 0 : compare_values(x, y) < 0;
  });
  return Value::list(std::move(pairs));
}

Value min_max(const Value& v, ArgReader& args, bool want_max) {
  bool case_sensitive = args.take_or("case_sensitive", Value(false)).truthy();
  Value attribute = args.take_or("attribute", Value(None{}));
  args.finish();
  std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  Value best_key = sort_key(items[0], case_sensitive, attribute);
  for (size_t i = 1; i < items.size(); ++i) {
    Value key = sort_key(items[i], case_sensitive, attribute);
    int c = compare_values(key, best_key);
    if (want_max ? c > 0 : c < 0) {
      best = i;
      best_key = key;
    }
  }
  return items[best];
}

Value f_min(Interpreter&, const Value& v, ArgReader& args) { return min_max(v, args, false); }
Value f_max(Interpreter&, const Value& v, ArgReader& args) { return min_max(v, args, true); }

Value f_sum(Interpreter& interp, const Value& v, ArgReader& args) {
  Value attribute = args.take_or("attribute", Value(None{}));
  Value total = args.take_or("start", Value(0));
  args.finish();
  for (const Value& item : iterate(v)) {
    Value term = attribute.is_none() ? item : get_attribute_path(item, to_str(attribute));
    total = interp.eval_binary(Op::kAdd, total, term);  // Python's + semantics
  }
  return total;
}

Value f_batch(Interpreter& interp, const Value& v, ArgReader& args) {
  Value size = args.required("linecount");
  std::optional<Value> fill = args.take("fill_with");
  args.finish();
  // jinja2 checks len(batch) == linecount before adding each item: a linecount of 0 yields an
  // empty batch first, a non-number never completes one.
  return lazy_generator([&] {
    std::vector<Value> batches, current;
    for (const Value& item : iterate(v)) {
      if (values_equal(Value(static_cast<int64_t>(current.size())), size)) {
        batches.push_back(Value::list(std::move(current)));
        current.clear();
      }
      current.push_back(item);
    }
    if (!current.empty()) {
      if (fill && !fill->is_none()) {
        int64_t want = expect_int(size, "linecount");
        if (want > 0) interp.check_items(static_cast<size_t>(want));
        while (static_cast<int64_t>(current.size()) < want) current.push_back(*fill);
      }
      batches.push_back(Value::list(std::move(current)));
    }
    return batches;
  });
}

}  // namespace

void add_sequence_filters(FilterTable& table) {
  table["length"] = table["count"] = f_length;
  table["first"] = f_first;
  table["last"] = f_last;
  table["join"] = f_join;
  table["list"] = f_list;
  table["map"] = f_map;
  table["select"] = f_select;
  table["reject"] = f_reject;
  table["selectattr"] = f_selectattr;
  table["rejectattr"] = f_rejectattr;
  table["sort"] = f_sort;
  table["unique"] = f_unique;
  table["reverse"] = f_reverse;
  table["items"] = f_items;
  table["dictsort"] = f_dictsort;
  table["min"] = f_min;
  table["max"] = f_max;
  table["sum"] = f_sum;
  table["batch"] = f_batch;
}

}  // namespace mx::jinja
