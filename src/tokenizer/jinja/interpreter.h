// The tree-walking interpreter: renders a parsed template against a context of variables.
//
// Scoping follows jinja2: a for-loop iteration, a macro call and a {% with %} block each get a
// fresh frame whose parent is the enclosing one; {% set %} writes into the innermost frame, so an
// assignment inside a loop is gone after that iteration (namespaces exist to carry state out).
// Macros look names up in the frame they were defined in, at call time.
//
// Runaway templates are stopped by RenderLimits: output size, the size of any one value, total
// work (statements, loop iterations, calls, bytes built) and nesting depth. Exceeding one is a
// TemplateError of kind kLimit naming the limit.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/value.h"

namespace mx::jinja {

struct RenderLimits {
  size_t max_output_bytes = size_t{64} << 20;  // the rendered text
  size_t max_value_bytes = size_t{64} << 20;   // any one string (bytes) or list (items x 16)
  uint64_t max_steps = 20'000'000;             // statements + loop iterations + calls + items
  uint64_t max_bytes_built = uint64_t{4} << 30;  // total bytes of strings built while rendering
  int max_depth = 250;                         // nesting of evaluation (macros, blocks, exprs)
};

struct Frame {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Frame> parent;

  const Value* lookup(const std::string& name) const;
};
using FramePtr = std::shared_ptr<Frame>;

class Interpreter {
 public:
  Interpreter(RenderLimits limits, std::optional<std::time_t> fixed_now);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders `parsed` with `variables` (plus the built-in globals). Throws TemplateError.
  std::string render(std::shared_ptr<const ParsedTemplate> parsed, const Dict& variables);

  // Used by filters, tests, methods and globals.
  Value eval(const Expr& expr, const FramePtr& frame);
  Value call(const Value& callee, CallArgs& args);
  Value apply_filter(const std::string& name, const Value& subject, CallArgs& args);
  bool apply_test(const std::string& name, const Value& subject, CallArgs& args);
  ObjectPtr make_object(std::string type_name);
  // Python's binary operators (+ - * / // % ** and ~).
  Value eval_binary(Op op, const Value& left, const Value& right);
  std::time_t now() const;

  // Work accounting: each throws TemplateError(kLimit) when its limit is passed.
  void charge_steps(uint64_t steps);
  void charge_bytes(size_t bytes);  // a string of `bytes` was just built
  void check_items(size_t items);   // a list of `items` is about to be built
  const RenderLimits& limits() const { return limits_; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Flow exec_body(const std::vector<StmtPtr>& body, const FramePtr& frame, std::string& out);
  Flow exec(const Stmt& stmt, const FramePtr& frame, std::string& out);
  Flow exec_for(const Stmt& stmt, const FramePtr& frame, std::string& out);
  Value make_loop_object(const std::vector<Value>& items, int64_t index, const Value& cycle,
                         const Value& changed);
  void exec_set(const Stmt& stmt, const FramePtr& frame, std::string& out);
  void exec_call_block(const Stmt& stmt, const FramePtr& frame, std::string& out);
  void assign(const Target& target, const Value& value, const FramePtr& frame);
  void append_output(std::string& out, std::string_view text);
  Value make_macro(const Stmt& stmt, const FramePtr& frame, const std::string& name);
  Value call_macro(const Stmt& stmt, const std::weak_ptr<Frame>& defined_in, const std::string& name,
                   CallArgs& args);
  Value apply_filter_chain(const Expr& filter, const Value& input, const FramePtr& frame);

  // Expression families (eval.cpp).
  Value eval_node(const Expr& expr, const FramePtr& frame);
  Value eval_unary(Op op, const Value& operand);
  Value eval_compare(const Expr& expr, const FramePtr& frame);
  Value eval_call(const Expr& expr, const FramePtr& frame);
  Value eval_filter(const Expr& expr, const FramePtr& frame);
  Value eval_test(const Expr& expr, const FramePtr& frame);
  void eval_args(const Expr& expr, size_t first, const FramePtr& frame, CallArgs& args);

  struct DepthGuard {
    explicit DepthGuard(Interpreter& interpreter);
    ~DepthGuard() { --interpreter_.depth_; }
    Interpreter& interpreter_;
  };

  RenderLimits limits_;
  std::optional<std::time_t> fixed_now_;
  std::shared_ptr<const ParsedTemplate> parsed_;  // keeps macro bodies alive while rendering
  uint64_t steps_ = 0;
  uint64_t bytes_built_ = 0;
  int depth_ = 0;
  const Value* filter_block_input_ = nullptr;
  // Every namespace/loop object made while rendering; cleared at the end so that reference
  // cycles (`{% set ns.self = ns %}`) do not leak.
  std::vector<ObjectPtr> objects_;
  struct LoopState {
    int64_t index0 = 0;
    std::optional<Value> last_changed;
  };
  std::vector<std::unique_ptr<LoopState>> loop_states_;
};

// Python's len() for the `length` filter and friends; throws for values without one.
size_t value_length(const Value& value);
// Python iteration: list items, dict keys, string characters; Undefined iterates as empty.
std::vector<Value> iterate(const Value& value);
// `a in b`.
bool value_contains(const Value& container, const Value& item);
// Attribute and item access with jinja2's sandbox semantics (methods.cpp).
Value get_attribute(const Value& object, const std::string& name);
Value get_item(const Value& object, const Value& key);
Value slice_value(const Value& object, const Value& start, const Value& stop, const Value& step);
// The built-in globals: range, dict, namespace, raise_exception, strftime_now (globals.cpp).
void add_globals(Frame& frame);

}  // namespace mx::jinja
