#!/usr/bin/env bash
# cmake/embed_file.cmake: the generated header, compiled, gives back the input byte for byte
# (the dashboard page, a text of several pieces with UTF-8, semicolons, backslashes, quotes,
# brackets and a long line, an empty file); an input holding the closing delimiter is refused.
# $1: the C++ compiler; MX_SOURCE_DIR: the repository root.
set -euo pipefail
cxx="${1:-c++}"
source_dir="${MX_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
script="$source_dir/cmake/embed_file.cmake"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

# Embeds $1, compiles a program that writes the symbol to stdout, compares with $1.
roundtrip() {
  local input="$1" name="$2"
  cmake -DINPUT="$input" -DOUTPUT="$work/$name.h" -DSYMBOL=embedded_text -P "$script"
  printf '#include <cstdio>\n#include "%s.h"\nint main() { std::fwrite(embedded_text.data(), 1, embedded_text.size(), stdout); }\n' \
    "$name" >"$work/$name.cpp"
  "$cxx" -std=c++20 -Wall -Wextra -Werror -I"$work" "$work/$name.cpp" -o "$work/$name"
  if "$work/$name" | cmp -s - "$input"; then
    echo "ok   $name: $(wc -c <"$input") bytes in $(grep -c '^R"mxraw(' "$work/$name.h" || true) piece(s)"
    passed=$((passed + 1))
  else
    echo "FAIL $name: the embedded text differs from the input"
    failed=$((failed + 1))
  fi
}

roundtrip "$source_dir/web/dashboard.html" dashboard

# Several pieces: ~30 KiB of awkward lines, a 10 KiB line without a newline, no final newline.
tricky="$work/tricky.txt"
{
  for i in $(seq 1 300); do
    printf 'line %d; a;b "quoted" \\n back\\slash [bracket] ${not_a_var} @at@ é—ü 漢字 )mxraw )"\n' "$i"
  done
  head -c 10240 /dev/zero | tr '\0' 'x'
  printf '\nlast line without newline ; ;'
} >"$tricky"
roundtrip "$tricky" tricky

: >"$work/empty.txt"
roundtrip "$work/empty.txt" empty

printf 'before )mxraw" after\n' >"$work/delimiter.txt"
if cmake -DINPUT="$work/delimiter.txt" -DOUTPUT="$work/delimiter.h" -DSYMBOL=x -P "$script" \
     >"$work/delimiter.log" 2>&1; then
  echo "FAIL delimiter: a text holding the raw-string delimiter was embedded"
  failed=$((failed + 1))
else
  tr -s ' \n' ' ' <"$work/delimiter.log" | grep -q "would end the raw string" && echo "ok   delimiter: refused" &&
    passed=$((passed + 1)) || { echo "FAIL delimiter: wrong message"; cat "$work/delimiter.log"; failed=$((failed + 1)); }
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
