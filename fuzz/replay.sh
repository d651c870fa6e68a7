#!/bin/sh
# replay.sh BUILD_DIR SRCS... - builds each fuzz target (fuzz/fuzz_NAME.c)
# with the ordinary compiler against BUILD_DIR/libpop3.a plus replay.c
# and the objects of the program modules it includes as "PROG/NAME.h"
# (scripts/prog-mods.sh; the Makefile builds them first), and runs it
# over fuzz/corpus/NAME: the seeds and every crasher ever found are
# re-checked without clang.  Exits non-zero on any failure.
set -eu

[ $# -ge 2 ] || { echo "usage: replay.sh BUILD_DIR SRCS..." >&2; exit 2; }
out=$1
shift

CC=${CC:-cc}
PKGS="libevent libevent_openssl libevent_pthreads openssl libcrypt"
cflags="-std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Wshadow
    -Wno-unused-parameter -Isrc/lib -Isrc $(pkg-config --cflags $PKGS) ${SAN:-}"
libs="$(pkg-config --libs $PKGS) -lpthread"

mkdir -p "$out/fuzz-replay"
# replay.c once, then one link per target.
# shellcheck disable=SC2086
$CC $cflags -c fuzz/replay.c -o "$out/fuzz-replay/replay.o"
status=0
for src in "$@"; do
	base=$(basename "$src" .c)
	name=${base#fuzz_}
	bin=$out/fuzz-replay/$base
	objs=$(sh scripts/prog-mods.sh "$src" | sed "s|^|$out/|; s|\$|.o|")
	# shellcheck disable=SC2086
	$CC $cflags -o "$bin" "$src" "$out/fuzz-replay/replay.o" $objs \
	    "$out/libpop3.a" $libs
	if ! "$bin" "$name" "fuzz/corpus/$name"; then
		echo "replay: $name: FAILED" >&2
		status=1
	fi
done
exit $status
