#!/bin/sh
# prog-mods.sh FILE... - prints src/PROG/NAME, one a line, for each
# '#include "PROG/NAME.h"' in the FILEs whose module has a NAME.c: the
# program modules (not in src/lib) that a unit test or fuzz target uses,
# compiled with -Isrc (a header-only one, such as pop3d/ipc.h, needs no
# object).  The Makefile links their objects, fuzz/run.sh compiles their
# sources and fuzz/replay.sh links their objects; a program's main is
# never one.
set -eu

sed -n 's|^#include "\([a-z0-9_]*/[a-z0-9_]*\)\.h".*|src/\1|p' "$@" |
    grep -v '/main$' | sort -u |
    while read -r m; do
	    [ -f "$m.c" ] && echo "$m"
    done
exit 0
