#!/usr/bin/python3
"""Independent reference for mxserve's chat templates: renders with Python's jinja2 set up the way
Hugging Face transformers' apply_chat_template sets it up (transformers itself is not installed).

What transformers does (utils/chat_template_utils.py, _compile_jinja_template and
render_jinja_template):
  * ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
    extensions=[AssistantTracker, jinja2.ext.loopcontrols]); AssistantTracker adds the
    {% generation %} ... {% endgeneration %} block, which renders its body unchanged.
  * tojson is replaced by json.dumps(x, ensure_ascii=False, indent=indent,
    separators=separators, sort_keys=sort_keys) (jinja2's own tojson HTML-escapes).
  * globals raise_exception(message) -> raises TemplateError(message), strftime_now(format) ->
    datetime.now().strftime(format).
  * template.render(messages=..., tools=tools or None, documents=documents or None,
    add_generation_prompt=..., **special_tokens_map, **chat_template_kwargs).

Usage:
  render_chat_template.py --tokenizer DIR|tokenizer_config.json --request-file F.json [--template-name N]
  render_chat_template.py --template-file T.jinja [--bos-token S] [--eos-token S] --request-file F.json
Writes the prompt bytes (UTF-8) to stdout with nothing appended. Exit status 1 with the
message on stderr when the template raises (raise_exception) or fails.
With --out-dir DIR, --request-file may be repeated: each request's prompt goes to DIR/NAME.out,
or its error to DIR/NAME.err (NAME = the request file's name without .json); exit status 0.
"""

import argparse
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment


class AssistantTracker(jinja2.ext.Extension):
    """{% generation %}...{% endgeneration %}: transformers uses it to mark assistant tokens;
    for rendering text it is a pass-through block."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


class TemplateRaised(Exception):
    pass


def compile_template(source):
    def raise_exception(message):
        raise TemplateRaised(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True,
        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


def token_text(value):
    """Special tokens in tokenizer_config.json are strings or AddedToken dicts."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token",
                      "cls_token", "mask_token")


def load_tokenizer(path, name):
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    config_path = os.path.join(folder, "tokenizer_config.json") if os.path.isdir(path) else path
    config = {}
    if os.path.exists(config_path):
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
    tokens = {k: token_text(config[k]) for k in SPECIAL_TOKEN_KEYS if k in config}
    tokens = {k: v for k, v in tokens.items() if v is not None}
    jinja_path = os.path.join(folder, "chat_template.jinja")
    if os.path.isdir(path) and os.path.exists(jinja_path) and name in (None, "default"):
        with open(jinja_path, encoding="utf-8") as f:
            return f.read(), tokens
    template = config.get("chat_template")
    if isinstance(template, list):
        wanted = name or "default"
        matches = [t["template"] for t in template if t.get("name") == wanted]
        if not matches:
            raise SystemExit(f"no chat template named {wanted!r}")
        template = matches[0]
    if not isinstance(template, str):
        raise SystemExit(f"{path}: no chat template")
    return template, tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizer")
    parser.add_argument("--template-name")
    parser.add_argument("--template-file")
    parser.add_argument("--bos-token")
    parser.add_argument("--eos-token")
    parser.add_argument("--request-file", action="append", required=True)
    parser.add_argument("--out-dir")
    args = parser.parse_args()

    if args.template_file:
        with open(args.template_file, encoding="utf-8") as f:
            source = f.read()
        tokens = {}
        if args.bos_token is not None:
            tokens["bos_token"] = args.bos_token
        if args.eos_token is not None:
            tokens["eos_token"] = args.eos_token
    else:
        source, tokens = load_tokenizer(args.tokenizer, args.template_name)

    template = None
    try:
        template = compile_template(source)
    except Exception as e:  # a template jinja2 cannot parse fails every request the same way
        compile_error = f"template error: {type(e).__name__}: {e}"
    if args.out_dir is None:
        if len(args.request_file) != 1:
            raise SystemExit("several --request-file need --out-dir")
        if template is None:
            print(compile_error, file=sys.stderr)
            return 1
        ok, text = render(template, tokens, args.request_file[0])
        if not ok:
            print(text, file=sys.stderr)
            return 1
        sys.stdout.buffer.write(text.encode("utf-8"))
        return 0
    os.makedirs(args.out_dir, exist_ok=True)
    for path in args.request_file:
        name = os.path.splitext(os.path.basename(path))[0]
        ok, text = (False, compile_error) if template is None else render(template, tokens, path)
        with open(os.path.join(args.out_dir, name + (".out" if ok else ".err")), "wb") as f:
            f.write(text.encode("utf-8"))
    return 0


def render(template, tokens, request_path):
    """(True, prompt) or (False, error message)."""
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    kwargs = dict(tokens)
    kwargs.update(request.get("chat_template_kwargs") or {})
    try:
        return True, template.render(
            messages=request["messages"],
            tools=request.get("tools"),
            documents=request.get("documents"),
            add_generation_prompt=request.get("add_generation_prompt", False),
            **kwargs)
    except TemplateRaised as e:
        return False, f"template raised: {e}"
    except Exception as e:  # jinja2 errors, TypeErrors from the template's operations
        return False, f"template error: {type(e).__name__}: {e}"


if __name__ == "__main__":
    sys.exit(main())
