#!/usr/bin/python3
"""Writes tests/data/chat/requests/*.json: the chat requests every chat template is rendered with
(by mxserve and by jinja2) in tests/e2e/test_chat_template_vs_jinja2.sh. Re-run after editing;
the JSON files are committed so the test needs nothing but this folder."""
import json
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requests")

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. Paris"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]}}}
SEARCH = {"type": "function", "function": {
    "name": "web_search", "description": "Search the web — returns top results (résumé, 東京)",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string"}, "max_results": {"type": "integer", "default": 5},
        "filters": {"type": "object", "properties": {"site": {"type": "string"},
                                                      "after": {"type": "string", "format": "date"}}}},
        "required": ["query"]}}}
CALC = {"type": "function", "function": {
    "name": "calculate", "description": "Evaluate \"math\" expressions with {braces} and \\ slashes",
    "parameters": {"type": "object", "properties": {"expression": {"type": "string"},
                                                    "precision": {"type": "number", "minimum": 0.5}},
                   "required": ["expression"]}}}

SYS = {"role": "system", "content": "You are a helpful assistant."}


def user(text):
    return {"role": "user", "content": text}


def assistant(text, **extra):
    return {"role": "assistant", "content": text, **extra}


def call(name, args, call_id="call_1", as_string=False):
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False) if as_string else args}}


def tool(content, call_id="call_1", name=None):
    message = {"role": "tool", "tool_call_id": call_id, "content": content}
    if name:
        message["name"] = name
    return message


REQUESTS = {
    "01_single_user": {"messages": [user("Hello!")], "add_generation_prompt": True},
    "02_single_user_no_generation_prompt": {"messages": [user("Hello!")]},
    "03_system_user": {"messages": [SYS, user("What is 2 + 2?")], "add_generation_prompt": True},
    "04_multi_turn": {"messages": [SYS, user("Hi"), assistant("Hello! How can I help?"), user("Tell me a joke."),
                                   assistant("Why did the chicken cross the road?"), user("Why?")],
                      "add_generation_prompt": True},
    "05_multi_turn_no_system": {"messages": [user("Hi"), assistant("Hello!"), user("Bye")],
                                "add_generation_prompt": True},
    "06_think_in_content": {"messages": [user("Is 7 prime?"),
                                         assistant("<think>\n7 has no divisors but 1 and 7.\n</think>\n\nYes, 7 is prime."),
                                         user("And 9?")], "add_generation_prompt": True},
    "07_reasoning_content": {"messages": [user("Is 7 prime?"),
                                          assistant("Yes, 7 is prime.", reasoning_content="Check divisors 2..sqrt(7)."),
                                          user("And 9?")], "add_generation_prompt": True},
    "08_reasoning_last_assistant": {"messages": [user("Is 7 prime?"),
                                                 assistant("Yes.", reasoning_content="Only 1 and 7 divide it.")]},
    "09_think_last_assistant": {"messages": [user("Count to 3"), assistant("<think>easy</think>1, 2, 3")]},
    "10_enable_thinking_false": {"messages": [user("Quick answer: capital of France?")],
                                 "add_generation_prompt": True, "chat_template_kwargs": {"enable_thinking": False}},
    "11_enable_thinking_true": {"messages": [user("Capital of France?")], "add_generation_prompt": True,
                                "chat_template_kwargs": {"enable_thinking": True}},
    "12_tools_basic": {"messages": [user("What's the weather in Paris?")], "tools": [WEATHER],
                       "add_generation_prompt": True},
    "13_tools_with_system": {"messages": [SYS, user("Search for mxserve")], "tools": [WEATHER, SEARCH, CALC],
                             "add_generation_prompt": True},
    "14_tool_call_object_args": {"messages": [user("Weather in Paris?"),
                                              assistant("", tool_calls=[call("get_weather", {"city": "Paris", "unit": "celsius"})]),
                                              tool("{\"temperature\": 21, \"condition\": \"sunny\"}", name="get_weather")],
                                 "tools": [WEATHER], "add_generation_prompt": True},
    "15_tool_call_string_args": {"messages": [user("Weather in Paris?"),
                                              assistant(None, tool_calls=[call("get_weather", {"city": "Paris"}, as_string=True)]),
                                              tool("21 degrees, sunny")],
                                 "tools": [WEATHER], "add_generation_prompt": True},
    "16_tool_call_with_content": {"messages": [user("Weather in Paris?"),
                                               assistant("Let me check.", tool_calls=[call("get_weather", {"city": "Paris"})]),
                                               tool("sunny"), assistant("It is sunny in Paris.")],
                                  "tools": [WEATHER]},
    "17_multiple_tool_calls": {"messages": [user("Weather in Paris and Tokyo?"),
                                            assistant("", tool_calls=[call("get_weather", {"city": "Paris"}, "call_1"),
                                                                      call("get_weather", {"city": "東京"}, "call_2")]),
                                            tool("sunny", "call_1"), tool("rainy", "call_2")],
                               "tools": [WEATHER], "add_generation_prompt": True},
    "18_multiple_tool_calls_string_args": {"messages": [user("Weather in Paris and Tokyo?"),
                                                        assistant(None, tool_calls=[
                                                            call("get_weather", {"city": "Paris"}, "call_1", True),
                                                            call("get_weather", {"city": "Tokyo"}, "call_2", True)]),
                                                        tool("sunny", "call_1"), tool("rainy", "call_2"),
                                                        assistant("Paris is sunny, Tokyo rainy.")],
                                           "tools": [WEATHER]},
    "19_tool_full_cycle": {"messages": [SYS, user("What is 17 * 23?"),
                                        assistant("", tool_calls=[call("calculate", {"expression": "17 * 23", "precision": 1.5})]),
                                        tool("391"), assistant("17 × 23 = 391."), user("Thanks!")],
                           "tools": [CALC], "add_generation_prompt": True},
    "20_unicode_emoji": {"messages": [user("こんにちは 😀 — ¿Qué tal? Привет! مرحبا 👩‍👩‍👧 e\u0301"),
                                      assistant("你好！🎉 «ok» ‘quotes’ “double”"), user("🙂")],
                         "add_generation_prompt": True},
    "21_empty_content": {"messages": [user(""), assistant(""), user("")], "add_generation_prompt": True},
    "22_whitespace_content": {"messages": [SYS, user("  \n\tpadded question\n\n  "), assistant("\n\nanswer  \n"),
                                           user("\n")], "add_generation_prompt": True},
    "23_template_syntax_in_content": {"messages": [user("Literal {{ braces }} and {% tags %} and {# comments #} "
                                                        "and 'quotes' \"double\" \\backslash\\ \\n"),
                                                   assistant("<|im_end|> is just text here")],
                                      "add_generation_prompt": True},
    "24_json_in_content": {"messages": [user("{\"key\": [1, 2.5, null, true], \"nested\": {\"a\": \"b\"}}")],
                           "add_generation_prompt": True},
    "25_long_conversation": {"messages": [SYS] + [m for i in range(12) for m in
                                                  (user(f"Question {i}: what is {i} squared?"),
                                                   assistant(f"{i} squared is {i * i}."))] + [user("Done.")],
                             "add_generation_prompt": True},
    "26_system_only": {"messages": [SYS], "add_generation_prompt": True},
    "27_consecutive_users": {"messages": [user("First."), user("Second."), user("Third.")],
                             "add_generation_prompt": True},
    "28_multiple_systems": {"messages": [SYS, {"role": "system", "content": "Answer in French."}, user("Hello")],
                            "add_generation_prompt": True},
    "29_tool_result_json_content": {"messages": [user("Search mxserve"),
                                                 assistant("", tool_calls=[call("web_search", {"query": "mxserve", "max_results": 3,
                                                                                               "filters": {"site": "github.com"}})]),
                                                 tool("[{\"title\": \"mxserve\", \"url\": \"https://example.com\"}]", name="web_search")],
                                    "tools": [SEARCH], "add_generation_prompt": True},
    "30_numbers_in_arguments": {"messages": [user("Compute"),
                                             assistant("", tool_calls=[call("calculate", {"expression": "1/3", "precision": 0.001,
                                                                                          "flags": [True, False, None], "n": -42,
                                                                                          "big": 12345678901234, "exp": 1e-07,
                                                                                          "f": 2.0})]),
                                             tool("0.333")], "tools": [CALC], "add_generation_prompt": True},
    "31_content_parts_list": {"messages": [{"role": "user", "content": [{"type": "text", "text": "Describe this."}]}],
                              "add_generation_prompt": True},
    "32_llama_date_and_user_tools": {"messages": [SYS, user("Weather in Oslo?")], "tools": [WEATHER],
                                     "add_generation_prompt": True,
                                     "chat_template_kwargs": {"date_string": "01 Jan 2025", "tools_in_user_message": True}},
    "33_llama_system_tools": {"messages": [SYS, user("Weather in Oslo?")], "tools": [WEATHER],
                              "add_generation_prompt": True,
                              "chat_template_kwargs": {"date_string": "01 Jan 2025", "tools_in_user_message": False}},
    "34_ipython_role": {"messages": [user("Run it"), assistant("", tool_calls=[call("calculate", {"expression": "2+2"})]),
                                     {"role": "ipython", "content": "4"}],
                        "tools": [CALC], "add_generation_prompt": True,
                        "chat_template_kwargs": {"date_string": "01 Jan 2025"}},
    "35_null_content_user": {"messages": [{"role": "user", "content": None}], "add_generation_prompt": True},
    "36_tools_empty_list": {"messages": [user("Hi")], "tools": [], "add_generation_prompt": True},
    "37_non_string_content": {"messages": [user("Numbers"), assistant("ok"), {"role": "tool", "content": {"result": 42, "ok": True}}],
                              "add_generation_prompt": True},
}


def main():
    os.makedirs(HERE, exist_ok=True)
    for name, request in REQUESTS.items():
        with open(os.path.join(HERE, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(request, f, ensure_ascii=False, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
