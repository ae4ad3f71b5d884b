#!/usr/bin/env bash
# tests/unit/t-category-sql.sh: sql/0018_category_knowledge.sql is exactly what scripts/gen-category-sql
# makes of data/categories/*.tsv (the TSV files were not edited without regenerating it), and the
# generator refuses a match given two categories and an unknown category.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd -P)"
root="$here/../.."
[[ -x $root/scripts/gen-category-sql ]] || root="${srcdir:-.}"
fail() { echo "FAIL: $*"; exit 1; }
"$root/scripts/gen-category-sql" --check || fail "the checked-in SQL differs from the TSV files"
# A scratch copy of the tree's scripts and data: a conflicting and a bad line are refused.
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/scripts" "$T/data/categories" "$T/sql"
cp "$root/scripts/gen-category-sql" "$root/scripts/lib.sh" "$T/scripts/"
printf 'tesco\tGroceries\ten\tbrand\tword\ntesco\tShopping\ten\tbrand\tword\n' > "$T/data/categories/a.tsv"
if "$T/scripts/gen-category-sql" >/dev/null 2>&1; then fail "a match with two categories was accepted"; fi
printf 'tesco\tFood\ten\tbrand\tword\n' > "$T/data/categories/a.tsv"
if "$T/scripts/gen-category-sql" >/dev/null 2>&1; then fail "an unknown category was accepted"; fi
printf "tesco\tGroceries\ten\tbrand\tword\nmcdonald's\tDining\tany\tbrand\tprefix\n" > "$T/data/categories/a.tsv"
"$T/scripts/gen-category-sql" >/dev/null || fail "a good file was refused"
grep -q "('mcdonald''s', 'Dining', 'prefix', 'any', 'brand')" "$T/sql/0018_category_knowledge.sql" ||
  fail "quotes are not doubled in the SQL"
echo "PASS: category knowledge SQL is generated from the TSV files"
