#!/usr/bin/python3
"""Writes tests/data/chat/jinja_cases.json: small templates covering the Jinja language, each with
the output (or the failure) of Python's jinja2 set up as transformers sets it up. The gtest
tests/unit/tokenizer/jinja_cases_test.cpp renders every case with mxserve's interpreter and
compares. Re-run with /usr/bin/python3 after adding cases."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "reference"))
import render_chat_template as ref  # noqa: E402

M = [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
     {"role": "assistant", "content": "yo", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}]

# (name, template, template variables)
CASES = [
    # output and whitespace control
    ("text_only", "hello\nworld\n", {}),
    ("trailing_newline_kept_once", "a\n\n", {}),
    ("crlf_normalized", "a\r\nb\rc", {}),
    ("expression", "{{ 1 + 2 }}|{{ 'a' ~ 1 ~ none }}|{{ x }}", {"x": "v"}),
    ("strip_markers", "a  {{- 'b' -}}  c\n  {%- if true -%}  d  {%- endif -%}  e", {}),
    ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter", {}),
    ("lstrip_blocks", "line\n    {% if true %}\n    body\n    {% endif %}\nend", {}),
    ("lstrip_not_for_output", "x\n    {{ 'v' }}\n", {}),
    ("lstrip_plus_disables", "x\n    {%+ if true %}y{% endif %}", {}),
    ("trim_plus_disables", "{% if true +%}\ny{% endif %}", {}),
    ("comment", "a {# note #}b\n{# line #}\nc{#- x -#}  d", {}),
    ("raw_block", "{% raw %}{{ not evaluated }}{% endraw %}\nafter", {}),
    ("lstrip_after_tag_on_same_line", "{{ 'a' }}   {% if true %}b{% endif %}", {}),
    ("tab_indent_lstrip", "\t\t{% if true %}x{% endif %}", {}),
    # literals
    ("string_escapes", r"{{ 'a\nb\t\'q\' \"d\" \\ \x41\u00e9\U0001F600 \d' }}", {}),
    ("adjacent_strings", "{{ 'a' \"b\" 'c' }}", {}),
    ("numbers", "{{ 1_000 }} {{ 0x1f }} {{ 0o17 }} {{ 0b101 }} {{ 1.5e3 }} {{ 2.50 }} {{ 1e16 }} {{ 1e-5 }}", {}),
    ("constants", "{{ true }} {{ True }} {{ false }} {{ none }} {{ None }}", {}),
    ("list_tuple_dict", "{{ [1, 'a', none, true] }} {{ (1,) }} {{ (1, 2) }} {{ () }} {{ {'k': [1], 2: 'v'} }}", {}),
    ("repr_quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\'\"', 'nl\\n', 'é😀', '\\x01\\x7f'] }}", {}),
    ("float_repr", "{{ 0.1 + 0.2 }} {{ 1/3 }} {{ 2.0 }} {{ 1e22 }} {{ -0.0 }} {{ 123456789012345678.0 }} {{ 0.0001 }}", {}),
    # operators
    ("arithmetic", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2**3**2 }} {{ -2 ** 2 }}", {}),
    ("float_arith", "{{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 + 2.0 }} {{ true + 1 }}", {}),
    ("string_ops", "{{ 'ab' * 3 }} {{ 2 * 'x' }} {{ 'a' + 'b' }} {{ [1] + [2] }} {{ [0] * 3 }}", {}),
    ("comparisons", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ 1 == true }} {{ 'a' != 'a' }}", {}),
    ("in_not_in", "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }} {{ 'x' in u }}", {}),
    ("logic", "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ [] and 1 }} {{ not 0 }} {{ not 'a' }} {{ none or none }}", {}),
    ("condexpr", "{{ 'y' if true else 'n' }} {{ 'y' if false else 'n' }} [{{ 'y' if false }}]", {}),
    ("precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -3 | abs }} {{ 'a' ~ 1 + 2 }} {{ not 1 == 2 }}", {}),
    ("is_binds_tight", "{{ 1 + 1 is number }}|{{ x is defined and x }}|{{ not x is defined }}", {"x": 5}),
    # access
    ("attribute_and_item", "{{ d.a }} {{ d['a'] }} {{ d.b.c }} {{ l[0] }} {{ l[-1] }} {{ l.1 }} [{{ l[9] }}] [{{ d.missing }}]",
     {"d": {"a": 1, "b": {"c": 2}}, "l": [10, 20, 30]}),
    ("dict_method_wins", "{{ d.items() | list }} {{ d['items'] }} {{ d.get('x', 'dflt') }} {{ d.get('items') }}",
     {"d": {"items": "key", "z": 1}}),
    ("slices", "{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[::2] }} {{ l[5:] }} {{ s[1:3] }} {{ s[::-1] }} {{ t[1:] }}",
     {"l": [1, 2, 3, 4], "s": "héllo", "t": "abc"}),
    ("string_index", "{{ s[0] }} {{ s[-1] }} {{ s|length }}", {"s": "ünï😀"}),
    # statements
    ("if_elif_else", "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}other{% endif %},{% endfor %}", {}),
    ("for_loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", {}),
    ("for_prev_next", "{% for x in [1, 2, 3] %}[{{ loop.previtem }}|{{ loop.nextitem }}]{% endfor %}", {}),
    ("for_cycle", "{% for x in range(5) %}{{ loop.cycle('a', 'b') }}{% endfor %}", {}),
    ("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}", {}),
    ("for_filter", "{% for x in range(10) if x is odd %}{{ x }}{{ loop.index }}{% if loop.last %}!{% endif %} {% endfor %}", {}),
    ("for_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}",
     {"d": {"x": 1, "y": 2}}),
    ("for_dict_keys", "{% for k in d %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("nested_loops", "{% for a in [1, 2] %}{% for b in [1, 2] %}{{ loop.index }}{{ a }}{% endfor %}{{ loop.index }};{% endfor %}", {}),
    ("loop_scoping", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = i * 10 %}{{ x }}{% endfor %}{{ x }}", {}),
    ("if_does_not_scope", "{% if true %}{% set y = 5 %}{% endif %}{{ y }}", {}),
    ("namespace", "{% set ns = namespace(n=0, s='') %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }} {{ ns.s }}", {}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = 3, 4 %}{{ c }}", {}),
    ("set_block", "{% set block %}  x{{ 1 }}\n{% endset %}[{{ block }}]{% set up | upper %}abc{% endset %}{{ up }}", {}),
    ("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }} {{ greet(punct='.', name='c') }}", {}),
    ("macro_varargs_kwargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}", {}),
    ("macro_missing_arg", "{% macro m(a, b) %}[{{ a }}|{{ b }}]{% endmacro %}{{ m(1) }}", {}),
    ("macro_recursion", "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}", {}),
    ("macro_sees_later_globals", "{% macro m() %}{{ g }}{% endmacro %}{% set g = 'late' %}{{ m() }}", {}),
    ("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}inside{% endcall %}", {}),
    ("call_block_args", "{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each([1, 2]) %}<{{ x }}>{% endcall %}", {}),
    ("filter_block", "{% filter upper %}abc {{ 'd' }}{% endfilter %}", {}),
    ("with_block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", {}),
    ("generation_block", "{% generation %}kept{% endgeneration %}", {}),
    # filters
    ("filter_trim", "[{{ '  a b \n' | trim }}] [{{ 'xxaxx' | trim('x') }}]", {}),
    ("filter_case", "{{ 'hello wORLD-foo(bar' | title }} {{ 'aBC' | capitalize }} {{ 'Ab' | upper }} {{ 'Ab' | lower }}", {}),
    ("filter_length", "{{ 'héllo' | length }} {{ [1, 2] | count }} {{ {'a': 1} | length }} {{ u | length }}", {}),
    ("filter_first_last", "{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | first }} [{{ [] | first }}]", {}),
    ("filter_join", "{{ [1, 'a', none] | join(', ') }} {{ ['x', 'y'] | join }} {{ users | join(', ', attribute='name') }}",
     {"users": [{"name": "a"}, {"name": "b"}]}),
    ("filter_default", "{{ u | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | d('n', true) }} {{ 0 | d(5) }}", {}),
    ("filter_replace", "{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 'abc' | replace('', '-') }}", {}),
    ("filter_numbers", "{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int(7) }} {{ '0x1f' | int(base=16) }} {{ 3.9 | int }} {{ '1.5' | float }} {{ 'x' | float }} {{ -5 | abs }} {{ 2.5 | round }} {{ 3.14159 | round(2) }} {{ 2.1 | round(0, 'ceil') }} {{ 7 | round }}", {}),
    ("filter_list_string", "{{ 'ab' | list }} {{ (1, 2) | list }} {{ 5 | string }} {{ none | string }} {{ [1] | string }}", {}),
    ("filter_sort", "{{ [3, 1, 2] | sort }} {{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A', 'c'] | sort(case_sensitive=true) }} {{ [3, 1] | sort(reverse=true) }} {{ users | sort(attribute='age') | map(attribute='name') | join }}",
     {"users": [{"name": "x", "age": 30}, {"name": "y", "age": 20}]}),
    ("filter_unique_reverse", "{{ ['a', 'A', 'b', 'a'] | unique | list }} {{ [1, 2, 3] | reverse | list }} {{ 'abc' | reverse }}", {}),
    ("filter_map", "{{ ['a', 'b'] | map('upper') | join }} {{ users | map(attribute='name') | list }} {{ users | map(attribute='zz', default='-') | list }} {{ ['1', '2'] | map('int') | sum }}",
     {"users": [{"name": "a"}, {"name": "b"}]}),
    ("filter_select", "{{ range(6) | select('odd') | list }} {{ range(6) | reject('odd') | list }} {{ [0, 1, '', 'a'] | select | list }} {{ range(10) | select('divisibleby', 3) | list }}", {}),
    ("filter_selectattr", "{{ M | selectattr('role', 'equalto', 'user') | list | length }} {{ M | rejectattr('role', 'eq', 'user') | map(attribute='role') | join(',') }} {{ M | selectattr('tool_calls', 'defined') | list | length }} {{ M | selectattr('tool_calls') | map(attribute='tool_calls.0.function.name') | first }}",
     {"M": M}),
    ("filter_items_dictsort", "{{ d | items | list }} {{ d | dictsort }} {{ d | dictsort(by='value') }} {{ d | dictsort(reverse=true) }}",
     {"d": {"b": 2, "A": 3, "c": 1}}),
    ("filter_min_max_sum", "{{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }} {{ ['b', 'A'] | max }} {{ [1, 2.5] | sum }} {{ [[1], [2]] | sum(start=[]) }} {{ users | sum(attribute='n') }}",
     {"users": [{"n": 1}, {"n": 2}]}),
    ("filter_indent", "[{{ 'a\nb\n\nc' | indent }}] [{{ 'a\nb\n\nc' | indent(2, true, true) }}] [{{ 'x\ny' | indent('> ', first=true) }}]", {}),
    ("filter_escape_safe", "{{ '<a href=\"x\">&\\'</a>' | e }} {{ '<b>' | escape }} {{ '<b>' | safe }}", {}),
    ("filter_wordcount_center", "{{ 'one two, three!' | wordcount }} [{{ 'ab' | center(7) }}]", {}),
    ("filter_batch", "{{ range(5) | batch(2) | list }} {{ range(3) | batch(2, 'x') | list }}", {}),
    ("filter_format", "{{ '%s is %d years, %.2f' | format('Ann', 30, 1.5) }} {{ '%-5s|%05d' % ('ab', 42) }}", {}),
    ("filter_attr", "{{ d | attr('a') }}", {"d": {"a": 1}}),
    ("tojson_transformers", "{{ d | tojson }} {{ 'é<&>\"' | tojson }} {{ [1.0, 2.5, none, true] | tojson }}",
     {"d": {"b": {"x": [1, {}]}, "a": "é"}}),
    ("tojson_options", "{{ d | tojson(indent=2) }}|{{ d | tojson(sort_keys=true) }}|{{ d | tojson(separators=(',', ':')) }}|{{ 'é😀' | tojson(ensure_ascii=true) }}|{{ d | tojson(indent='\t') }}",
     {"d": {"b": [1, 2], "a": {"c": None}, "e": []}}),
    # tests
    ("tests_types", "{{ 1 is number }} {{ true is number }} {{ true is integer }} {{ 1 is integer }} {{ 1.0 is float }} {{ 'a' is string }} {{ d is mapping }} {{ l is sequence }} {{ 'a' is sequence }} {{ d is iterable }} {{ u is iterable }} {{ none is none }} {{ true is boolean }} {{ range is callable }}",
     {"d": {}, "l": []}),
    ("tests_values", "{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ x is true }} {{ x is false }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 2 is in [1, 2] }} {{ 3 is eq 3 }} {{ 3 is ne 3 }} {{ 3 is gt 2 }} {{ 3 is lessthan 2 }} {{ 3 is ge 3 }} {{ none is sameas none }}",
     {"x": True}),
    ("tests_defined", "{{ u is defined }} {{ u is undefined }} {{ d.a is defined }} {{ d.b is defined }} {{ d.a is not none }} {{ 'upper' is filter }} {{ 'odd' is test }}",
     {"d": {"a": None}}),
    # methods
    ("str_methods", "{{ ' a '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\n\na\n'.lstrip('\n') }}|{{ 'a\n\n'.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}", {}),
    ("str_methods2", "{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'abc'.upper() }} {{ 'ABC'.lower() }} {{ 'hello world'.title() }} {{ 'hello'.capitalize() }} {{ 'aXbX'.replace('X', '-') }} {{ 'héllo'.find('l') }} {{ 'abc'.find('z') }} {{ 'banana'.count('a') }} {{ '-'.join(['a', 'b']) }}", {}),
    ("str_format", "{{ '{} and {}'.format('a', 1) }} {{ '{0}{1}{0}'.format('x', 'y') }} {{ '{name}!'.format(name='n') }} {{ '{{}}'.format() }}", {}),
    ("str_misc", "{{ 'a\nb\r\nc'.splitlines() }} {{ 'abc'.removeprefix('a') }} {{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ ' '.isspace() }} {{ 'a=b=c'.partition('=') }} {{ '5'.zfill(3) if false else 'z' }}", {}),
    ("list_methods", "{{ [1, 2, 1].count(1) }} {{ [1, 2].index(2) }} {{ d.keys() | list }} {{ d.values() | list }}", {"d": {"a": 1}}),
    # globals
    ("range_global", "{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }}", {}),
    ("dict_global", "{{ dict(a=1, b='x') }} {{ dict({'z': 1}, y=2) }}", {}),
    ("namespace_from_dict", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}", {}),
    ("undefined_prints_empty", "[{{ u }}] [{{ u.attr if false }}] {{ u | length }} {% for x in u %}x{% endfor %}", {}),
    ("python_str_output", "{{ d }} {{ l }} {{ t }} {{ f }} {{ n }} {{ b }}",
     {"d": {"k": "v", "n": None, "b": True, "f": 1.5, "l": [1, "x"]}, "l": ["a", 1.0], "t": 2.0, "f": 1e100, "n": None, "b": False}),
    # found by running the fuzz corpus through both renderers
    ("control_chars_are_not_newlines", "a\x0cb\x1ec\x85d\u2028e {{ 'x'\x1d}}", {}),
    ("loop_repr", "{% for x in 'ab' %}{{ loop }}{% endfor %}", {}),
    ("int_bad_base_defaults", "{{ '0x1f' | int(base=u) }} {{ '12' | int(base='x') }}", {}),
    ("sort_equal_undefined_keys", "{{ [3, 1] | sort(attribute='name') }} {{ users | sort(attribute='a,b') | map(attribute='n') | join }}",
     {"users": [{"a": 1, "b": 2, "n": "x"}, {"a": 1, "b": 1, "n": "y"}, {"a": 0, "b": 5, "n": "z"}]}),
    ("lazy_generator_error", "{{ (range(3) | select('divisibleby', 'x')) is defined }} {{ ['a'] | map('int') is iterable }}", {}),
    ("batch_zero", "{{ range(4) | batch(0) | list }}", {}),
    ("undefined_is_sequence", "{{ u is sequence }}", {}),
    ("selectattr_kwargs_to_test", "{{ u | selectattr('a', attribute='x') is defined }} {{ [{'a': 2}] | selectattr('a', 'divisibleby', num=2) | list }}", {}),
    # failures (jinja2 raises; ours must fail too)
    ("lazy_generator_error_when_iterated", "{{ range(3) | select('divisibleby', 'x') | list }}", {}),
    ("attr_of_undefined", "{{ u | attr('a') }}", {}),
    ("indent_needs_string", "{{ [1] | indent }}", {}),
    ("dict_of_undefined", "{{ dict(u) }}", {}),
    ("raise_exception", "{{ raise_exception('bad request: ' ~ 42) }}", {}),
    ("undefined_attribute_of_undefined", "{{ u.a.b }}", {}),
    ("undefined_arith", "{{ u + 1 }}", {}),
    ("type_error_add", "{{ 'a' + 1 }}", {}),
    ("div_zero", "{{ 1 / 0 }}", {}),
    ("unsafe_append", "{% set l = [] %}{{ l.append(1) }}", {}),
    ("generator_length", "{{ [1] | map('string') | length }}", {}),
    ("unknown_filter", "{{ 1 | nosuchfilter }}", {}),
    ("unknown_test", "{{ 1 is nosuchtest }}", {}),
    ("syntax_error", "{% if %}", {}),
    ("unclosed_block", "{% for x in y %}", {}),
    ("break_outside_loop", "{% break %}", {}),
    ("big_range", "{{ range(200000) | length }}", {}),
    ("namespace_assign_non_namespace", "{% set d = {} %}{% set d.x = 1 %}", {}),
    ("macro_too_many_args", "{% macro m() %}{% endmacro %}{{ m(1) }}", {}),
    ("unpack_mismatch", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
    ("compare_unorderable", "{{ 1 < 'a' }}", {}),
]


def main():
    out = []
    for name, template, variables in CASES:
        case = {"name": name, "template": template, "variables": variables}
        try:
            compiled = ref.compile_template(template)
            case["expected"] = compiled.render(**variables)
        except Exception as e:  # noqa: BLE001
            case["error"] = f"{type(e).__name__}: {e}"
        out.append(case)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jinja_cases.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(out)} cases, {sum('error' in c for c in out)} expected failures -> {path}")


if __name__ == "__main__":
    main()
