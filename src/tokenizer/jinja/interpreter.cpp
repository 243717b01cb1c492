// Statement execution: output, if, for, set, macro, call and filter blocks (see interpreter.h).
#include "tokenizer/jinja/interpreter.h"

#include "tokenizer/jinja/args.h"

namespace mx::jinja {

const Value* Frame::lookup(const std::string& name) const {
  for (const Frame* frame = this; frame != nullptr; frame = frame->parent.get()) {
    auto it = frame->vars.find(name);
    if (it != frame->vars.end()) return &it->second;
  }
  return nullptr;
}

Interpreter::DepthGuard::DepthGuard(Interpreter& interpreter) : interpreter_(interpreter) {
  if (++interpreter_.depth_ > interpreter_.limits_.max_depth) {
    throw TemplateError(TemplateErrorKind::kLimit,
                        fmt::format("template evaluation nested more than {} levels deep "
                                    "(runaway macro recursion?)",
                                    interpreter_.limits_.max_depth));
  }
}

Interpreter::Interpreter(RenderLimits limits, std::optional<std::time_t> fixed_now)
    : limits_(limits), fixed_now_(fixed_now) {}

Interpreter::~Interpreter() {
  for (const ObjectPtr& object : objects_) object->attributes = Dict();
}

std::time_t Interpreter::now() const { return fixed_now_ ? *fixed_now_ : std::time(nullptr); }

ObjectPtr Interpreter::make_object(std::string type_name) {
  auto object = std::make_shared<Object>();
  object->type_name = std::move(type_name);
  objects_.push_back(object);
  return object;
}

void Interpreter::charge_steps(uint64_t steps) {
  steps_ += steps;
  if (steps_ > limits_.max_steps) {
    throw TemplateError(TemplateErrorKind::kLimit,
                        fmt::format("template exceeded {} evaluation steps (runaway loop?)",
                                    limits_.max_steps));
  }
}

void Interpreter::charge_bytes(size_t bytes) {
  if (bytes > limits_.max_value_bytes) {
    throw TemplateError(TemplateErrorKind::kLimit,
                        fmt::format("template built a string of {} bytes, over the {} byte limit",
                                    bytes, limits_.max_value_bytes));
  }
  bytes_built_ += bytes;
  if (bytes_built_ > limits_.max_bytes_built) {
    throw TemplateError(TemplateErrorKind::kLimit,
                        fmt::format("template built more than {} bytes of strings in total",
                                    limits_.max_bytes_built));
  }
}

void Interpreter::check_items(size_t items) {
  if (items > limits_.max_value_bytes / 16) {
    throw TemplateError(TemplateErrorKind::kLimit,
                        fmt::format("template built a list of {} items, over the limit", items));
  }
  charge_steps(items / 16);
}

void Interpreter::append_output(std::string& out, std::string_view text) {
  if (out.size() + text.size() > limits_.max_output_bytes) {
    throw TemplateError(TemplateErrorKind::kLimit,
                        fmt::format("rendered output exceeds {} bytes", limits_.max_output_bytes));
  }
  out.append(text);
}

std::string Interpreter::render(std::shared_ptr<const ParsedTemplate> parsed, const Dict& variables) {
  parsed_ = std::move(parsed);
  auto globals = std::make_shared<Frame>();
  add_globals(*globals);
  auto frame = std::make_shared<Frame>();
  frame->parent = globals;
  for (const auto& [key, value] : variables.entries()) {
    if (key.is_string()) frame->vars[key.as_string()] = value;
  }
  std::string out;
  exec_body(parsed_->body, frame, out);
  return out;
}

Interpreter::Flow Interpreter::exec_body(const std::vector<StmtPtr>& body, const FramePtr& frame,
                                         std::string& out) {
  for (const StmtPtr& stmt : body) {
    Flow flow = exec(*stmt, frame, out);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec(const Stmt& stmt, const FramePtr& frame, std::string& out) {
  DepthGuard guard(*this);
  charge_steps(1);
  try {
    switch (stmt.kind) {
      case StmtKind::kText:
        append_output(out, stmt.text);
        return Flow::kNormal;
      case StmtKind::kOutput: {
        Value value = eval(*stmt.expr, frame);
        if (value.is_string()) {
          append_output(out, value.as_string());
        } else {
          append_output(out, to_str(value));
        }
        return Flow::kNormal;
      }
      case StmtKind::kIf:
        return exec_body(eval(*stmt.expr, frame).truthy() ? stmt.body : stmt.else_body, frame, out);
      case StmtKind::kFor:
        return exec_for(stmt, frame, out);
      case StmtKind::kSet:
      case StmtKind::kSetBlock:
        exec_set(stmt, frame, out);
        return Flow::kNormal;
      case StmtKind::kMacro:
        frame->vars[stmt.text] = make_macro(stmt, frame, stmt.text);
        return Flow::kNormal;
      case StmtKind::kCallBlock:
        exec_call_block(stmt, frame, out);
        return Flow::kNormal;
      case StmtKind::kFilterBlock: {
        std::string inner;
        auto block_frame = std::make_shared<Frame>();
        block_frame->parent = frame;
        exec_body(stmt.body, block_frame, inner);
        append_output(out, to_str(apply_filter_chain(*stmt.filter, Value(std::move(inner)), frame)));
        return Flow::kNormal;
      }
      case StmtKind::kWith: {
        auto inner = std::make_shared<Frame>();
        inner->parent = frame;
        for (const MacroParam& assignment : stmt.params) {
          inner->vars[assignment.name] = eval(*assignment.default_value, frame);
        }
        return exec_body(stmt.body, inner, out);
      }
      case StmtKind::kBreak:
        return Flow::kBreak;
      case StmtKind::kContinue:
        return Flow::kContinue;
      case StmtKind::kBlockGroup:
        return exec_body(stmt.body, frame, out);
    }
  } catch (TemplateError& error) {
    if (!error.has_pos()) error.set_pos(stmt.pos);
    throw;
  }
  return Flow::kNormal;
}

void Interpreter::assign(const Target& target, const Value& value, const FramePtr& frame) {
  if (!target.attribute.empty()) {
    const Value* object = frame->lookup(target.names[0]);
    if (object == nullptr || !object->is_object() || object->as_object().type_name != "Namespace") {
      fail("cannot assign attribute on non-namespace object '{}'", target.names[0]);
    }
    object->as_object().attributes.set(Value(target.attribute), value);
    return;
  }
  if (!target.is_tuple) {
    frame->vars[target.names[0]] = value;
    return;
  }
  std::vector<Value> items = iterate(value);
  if (items.size() != target.names.size()) {
    fail("{} values to unpack (expected {}, got {})",
         items.size() > target.names.size() ? "too many" : "not enough", target.names.size(),
         items.size());
  }
  for (size_t i = 0; i < items.size(); ++i) frame->vars[target.names[i]] = items[i];
}

void Interpreter::exec_set(const Stmt& stmt, const FramePtr& frame, std::string& out) {
  (void)out;
  if (stmt.kind == StmtKind::kSet) {
    assign(stmt.target, eval(*stmt.expr, frame), frame);
    return;
  }
  std::string captured;
  exec_body(stmt.body, frame, captured);
  Value value(std::move(captured));
  if (stmt.filter) value = apply_filter_chain(*stmt.filter, value, frame);
  assign(stmt.target, value, frame);
}

Value Interpreter::apply_filter_chain(const Expr& filter, const Value& input, const FramePtr& frame) {
  const Value* saved = filter_block_input_;
  filter_block_input_ = &input;
  Value result = eval(filter, frame);
  filter_block_input_ = saved;
  return result;
}

Interpreter::Flow Interpreter::exec_for(const Stmt& stmt, const FramePtr& frame, std::string& out) {
  Value iterable = eval(*stmt.expr, frame);
  std::vector<Value> items = iterate(iterable);
  if (stmt.condition) {  // `for x in y if cond`: filtered before loop.index/length are counted
    std::vector<Value> kept;
    auto scratch = std::make_shared<Frame>();
    scratch->parent = frame;
    for (Value& item : items) {
      charge_steps(1);
      assign(stmt.target, item, scratch);
      if (eval(*stmt.condition, scratch).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    auto else_frame = std::make_shared<Frame>();
    else_frame->parent = frame;
    exec_body(stmt.else_body, else_frame, out);
    return Flow::kNormal;
  }
  const int64_t length = static_cast<int64_t>(items.size());
  // loop.cycle and loop.changed read the iteration through state the interpreter owns (a
  // callable owning it could form a reference cycle through loop.changed's remembered value), so
  // they are made once per loop rather than once per iteration.
  loop_states_.push_back(std::make_unique<LoopState>());
  LoopState* state = loop_states_.back().get();
  Value cycle, changed;
  if (stmt.uses_loop) {
    cycle = callable("loop.cycle", [state](Interpreter&, CallArgs& args) -> Value {
      if (args.positional.empty()) fail("no items for cycling given");
      return args.positional[static_cast<size_t>(state->index0) % args.positional.size()];
    });
    changed = callable("loop.changed", [state](Interpreter&, CallArgs& args) -> Value {
      Value current = Value::list(args.positional);
      if (state->last_changed && values_equal(*state->last_changed, current)) return Value(false);
      state->last_changed = current;
      return Value(true);
    });
  }
  for (int64_t i = 0; i < length; ++i) {
    charge_steps(1);
    auto iteration = std::make_shared<Frame>();
    iteration->parent = frame;
    assign(stmt.target, items[static_cast<size_t>(i)], iteration);
    if (stmt.uses_loop) {
      state->index0 = i;
      iteration->vars["loop"] = make_loop_object(items, i, cycle, changed);
    }
    if (exec_body(stmt.body, iteration, out) == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

Value Interpreter::make_loop_object(const std::vector<Value>& items, int64_t i, const Value& cycle,
                                    const Value& changed) {
  const int64_t length = static_cast<int64_t>(items.size());
  ObjectPtr loop = make_object("LoopContext");
  Dict& attributes = loop->attributes;
  attributes.set("index", Value(i + 1));
  attributes.set("index0", Value(i));
  attributes.set("revindex", Value(length - i));
  attributes.set("revindex0", Value(length - i - 1));
  attributes.set("first", Value(i == 0));
  attributes.set("last", Value(i == length - 1));
  attributes.set("length", Value(length));
  attributes.set("depth", Value(1));
  attributes.set("depth0", Value(0));
  attributes.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)]
                                   : Value::undefined("there is no previous item"));
  attributes.set("nextitem", i + 1 < length ? items[static_cast<size_t>(i + 1)]
                                            : Value::undefined("there is no next item"));
  attributes.set("cycle", cycle);
  attributes.set("changed", changed);
  return Value(loop);
}

}  // namespace mx::jinja
