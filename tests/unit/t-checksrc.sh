#!/usr/bin/env bash
# tests/unit/t-checksrc.sh: scripts/checksrc lists every banned call and every C file without
# its top comment as file:line, ignores the words in comments and strings, and passes a clean tree.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd -P)"
checksrc="$here/../../scripts/checksrc"
[[ -x $checksrc ]] || checksrc="${srcdir:-.}/scripts/checksrc"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$T/modules/m" "$T/tests/unit"
cat > "$T/modules/m/good.c" <<'C'
/* good.c: a clean file; strcpy( in a comment and "atoi(" in a string are not calls. */
#include <stdio.h>
int good(char *out, size_t n, const char *s) { strtok_r(NULL, ",", NULL); return snprintf(out, n, "atoi(%s)", s); }
C
cat > "$T/tests/unit/check_x.c" <<'C'
/* check_x.c: tests may name anything */
C
"$checksrc" --no-build "$T" > "$T/out" 2>&1 || fail "a clean tree was refused: $(cat "$T/out")"

cat > "$T/modules/m/bad.c" <<'C'
/* bad.c: every banned call once */
int bad(const char *s, char *d)
{
    int n = atoi(s); long l = atol(s); long long ll = atoll(s);
    sprintf(d, "%d", n);
    strcpy(d, s); strcat(d, s);
    char *t = strtok(d, ",");
    return (int)(l + ll) + (t != 0);
}
C
printf '#include <stdio.h>\n' > "$T/modules/m/noheader.h"
printf '/* wrong.c: names another file */\n' > "$T/tests/unit/other.c"
if "$checksrc" --no-build "$T" > "$T/out" 2>&1; then fail "findings were not refused"; fi
for want in "modules/m/bad.c:4: banned call atoi()" "modules/m/bad.c:4: banned call atol()" \
            "modules/m/bad.c:4: banned call atoll()" "modules/m/bad.c:5: banned call sprintf()" \
            "modules/m/bad.c:6: banned call strcpy()" "modules/m/bad.c:6: banned call strcat()" \
            "modules/m/bad.c:7: banned call strtok()" "modules/m/noheader.h:1: the first line must be" \
            "tests/unit/other.c:1: the first line must be"; do
  grep -qF "$want" "$T/out" || fail "missing '$want' in: $(cat "$T/out")"
done
(( $(grep -c 'banned call' "$T/out") == 7 )) || fail "expected 7 banned calls: $(cat "$T/out")"
grep -q 'good.c' "$T/out" && fail "good.c was flagged: $(cat "$T/out")"
echo "ok: checksrc lists banned calls and missing top comments by file:line"
