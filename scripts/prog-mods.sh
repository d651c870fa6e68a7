#!/bin/sh
# prog-mods.sh FILE... - prints src/PROG/NAME, one a line, for each
# '#include "PROG/NAME.h"' in the FILEs whose module has a NAME.c: the
# program modules (not in src/lib) that a unit test or fuzz target uses,
# compiled with -Isrc (a header-only one, such as pop3d/ipc.h, needs no
# object).  The Makefile links their objects, fuzz/run.sh compiles their
# sources and fuzz/replay.sh links their objects; a program's main is
# never one.  Modules without a header of their own (pop3d's command
# handlers) are named in a line "/* links: PROG/NAME PROG/NAME */".
set -eu

{
	sed -n 's|^#include "\([a-z0-9_]*/[a-z0-9_]*\)\.h".*|src/\1|p' "$@"
	sed -n 's|^/\* links: \(.*\) \*/$|\1|p' "$@" | tr ' ' '\n' |
	    sed -n 's|^\([a-z0-9_]*/[a-z0-9_]*\)$|src/\1|p'
} | grep -v '/main$' | sort -u |
    while read -r m; do
	    [ -f "$m.c" ] && echo "$m"
    done
exit 0
