// Macros and {% call %} blocks: binding arguments the way jinja2's Macro.__call__ does.
#include "tokenizer/jinja/interpreter.h"

namespace mx::jinja {

Value Interpreter::make_macro(const Stmt& stmt, const FramePtr& frame, const std::string& name) {
  // The macro refers to its defining frame weakly: frames own their variables (which include the
  // macro), so a strong reference would be a cycle.
  std::weak_ptr<Frame> defined_in = frame;
  const Stmt* definition = &stmt;
  return Value(CallablePtr(std::make_shared<Callable>(Callable{
      name, [definition, defined_in, name](Interpreter& interpreter, CallArgs& args) {
        return interpreter.call_macro(*definition, defined_in, name, args);
      }})));
}

Value Interpreter::call_macro(const Stmt& stmt, const std::weak_ptr<Frame>& defined_in,
                              const std::string& name, CallArgs& args) {
  FramePtr parent = defined_in.lock();
  if (!parent) fail("macro '{}' called after the scope that defined it ended", name);
  auto frame = std::make_shared<Frame>();
  frame->parent = parent;
  const std::vector<MacroParam>& params = stmt.params;
  if (args.positional.size() > params.size() && !stmt.uses_varargs) {
    fail("macro '{}' takes not more than {} argument(s)", name, params.size());
  }
  std::vector<bool> bound(params.size(), false);
  for (size_t i = 0; i < args.positional.size() && i < params.size(); ++i) {
    frame->vars[params[i].name] = args.positional[i];
    bound[i] = true;
  }
  Dict extra_kwargs;
  for (auto& [key, value] : args.keyword) {
    size_t index = 0;
    while (index < params.size() && params[index].name != key) ++index;
    if (index < params.size()) {
      if (bound[index]) fail("macro '{}' got multiple values for argument '{}'", name, key);
      frame->vars[key] = value;
      bound[index] = true;
    } else if (key == "caller" && stmt.uses_caller) {
      frame->vars["caller"] = value;
    } else if (stmt.uses_kwargs) {
      extra_kwargs.set(Value(key), value);
    } else {
      fail("macro '{}' takes no keyword argument '{}'", name, key);
    }
  }
  // Defaults are evaluated at call time in the macro's frame (they may use earlier arguments).
  for (size_t i = 0; i < params.size(); ++i) {
    if (bound[i]) continue;
    frame->vars[params[i].name] =
        params[i].default_value
            ? eval(*params[i].default_value, frame)
            : Value::undefined(fmt::format("parameter '{}' was not provided", params[i].name));
  }
  std::vector<Value> varargs;
  for (size_t i = params.size(); i < args.positional.size(); ++i) varargs.push_back(args.positional[i]);
  frame->vars["varargs"] = Value::list(std::move(varargs), true);
  frame->vars["kwargs"] = Value::dict(std::move(extra_kwargs));
  if (stmt.uses_caller && frame->vars.find("caller") == frame->vars.end()) {
    frame->vars["caller"] = Value::undefined("no caller defined");
  }
  std::string out;
  exec_body(stmt.body, frame, out);
  return Value(std::move(out));
}

void Interpreter::exec_call_block(const Stmt& stmt, const FramePtr& frame, std::string& out) {
  // The block's body becomes the `caller` macro passed to the called macro.
  Value caller = make_macro(stmt, frame, "caller");
  const Expr& call_expr = *stmt.expr;
  Value callee = eval(*call_expr.args[0], frame);
  CallArgs args;
  eval_args(call_expr, 1, frame, args);
  args.keyword.emplace_back("caller", caller);
  Value result = call(callee, args);
  append_output(out, to_str(result));
}

}  // namespace mx::jinja
