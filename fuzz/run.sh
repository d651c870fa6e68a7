#!/bin/sh
# run.sh BUILD_DIR SECONDS SRCS... - builds each libFuzzer target
# (fuzz/fuzz_NAME.c) with clang and ASan+UBSan, linking src/lib/*.c and
# the program modules it includes as "PROG/NAME.h" (scripts/prog-mods.sh;
# each compiled once for all targets, two at a time), and runs it for
# SECONDS over fuzz/corpus/NAME (read only; new
# inputs go to BUILD_DIR/corpus/NAME, crashes to BUILD_DIR/crash-*).
# Exits non-zero if a build fails or a target finds a crash: add the
# crasher to fuzz/corpus/NAME once fixed, so replay.sh keeps checking it.
set -eu

[ $# -ge 3 ] || { echo "usage: run.sh BUILD_DIR SECONDS SRCS..." >&2; exit 2; }
out=$1
secs=$2
shift 2

CLANG=${CLANG:-clang}
PKGS="libevent libevent_openssl libevent_pthreads openssl libcrypt libpq"
cflags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Isrc/lib -Isrc
    $(pkg-config --cflags $PKGS)
    -fsanitize=address,undefined -fno-sanitize-recover=undefined"
libs="$(pkg-config --libs $PKGS) -lpthread"

mkdir -p "$out/obj"
# Every source a target links, compiled once (instrumented for coverage).
# shellcheck disable=SC2046
for c in src/lib/*.c $(sh scripts/prog-mods.sh "$@" | sed 's/$/.c/'); do
	echo "$c"
done | sort -u | xargs -P 2 -I{} sh -c '
	o='"$out"'/obj/$(echo "{}" | tr / _ | sed "s/\.c\$/.o/")
	'"$CLANG"' '"$(echo $cflags)"' -fsanitize=fuzzer-no-link -c "{}" -o "$o"'
libobjs=$(for c in src/lib/*.c; do echo "$out/obj/$(echo "$c" | tr / _ |
    sed 's/\.c$/.o/')"; done)
status=0
for src in "$@"; do
	base=$(basename "$src" .c)
	name=${base#fuzz_}
	bin=$out/$base
	mods=$(sh scripts/prog-mods.sh "$src" | tr / _ | sed "s|^|$out/obj/|; s|\$|.o|")
	echo "fuzz: building $bin"
	# shellcheck disable=SC2086
	$CLANG $cflags -fsanitize=fuzzer -o "$bin" "$src" $libobjs $mods $libs
	mkdir -p "$out/corpus/$name" "fuzz/corpus/$name"
	dict=
	[ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
	echo "fuzz: running $base for ${secs}s"
	# shellcheck disable=SC2086
	if ! "$bin" -max_total_time="$secs" -print_final_stats=0 \
	    -artifact_prefix="$out/crash-$name-" $dict \
	    "$out/corpus/$name" "fuzz/corpus/$name" \
	    >"$out/$base.log" 2>&1; then
		tail -n 40 "$out/$base.log" >&2
		echo "fuzz: $base FAILED (log: $out/$base.log)" >&2
		status=1
	else
		echo "fuzz: $base ok: $(grep "DONE" "$out/$base.log" | tail -n 1)"
	fi
done
exit $status
