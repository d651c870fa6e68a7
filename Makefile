# pop3d - build, test, demo, install.  GNU make; C11; pkg-config for deps.
# Targets: all check unit integration asan fuzz demo install clean

PREFIX	?= /usr/local
DESTDIR	?=
SBINDIR	 = $(PREFIX)/sbin
MANDIR	 = $(PREFIX)/share/man
SYSCONFDIR ?= /etc

CC	?= cc
PYTHON	?= /usr/bin/python3
B	?= build
WERROR	?= -Werror
OPT	?= -O2 -g
SAN	?=
CFLAGS	?= $(OPT)
WARN	 = -Wall -Wextra $(WERROR) -Wformat=2 -Wshadow -Wno-unused-parameter \
	   -Wstrict-prototypes -Wmissing-prototypes
PKGS	 = libevent libevent_openssl libevent_pthreads openssl libcrypt
DEPCFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEPLIBS	  := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALLCFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN) -Isrc/lib \
	    $(DEPCFLAGS) -MMD -MP
LDLIBS	 = $(DEPLIBS) -lpthread

LIB_SRCS   = $(wildcard src/lib/*.c)
POP3D_SRCS = $(wildcard src/pop3d/*.c)
UNIT_SRCS  = $(wildcard tests/unit/test_*.c)
TOOL_SRCS  = $(wildcard tests/tools/*.c)

LIB_OBJS   = $(LIB_SRCS:%.c=$(B)/%.o)
POP3D_OBJS = $(POP3D_SRCS:%.c=$(B)/%.o)
UNIT_BINS  = $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
TOOL_BINS  = $(TOOL_SRCS:tests/tools/%.c=$(B)/tools/%)

all: $(B)/pop3d $(TOOL_BINS)

# V=1 shows the full compiler command lines.
Q	 = $(if $(V),,@)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(ALLCFLAGS) -c $< -o $@

$(B)/libpop3.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(B)/pop3d: $(POP3D_OBJS) $(B)/libpop3.a
	$(CC) $(SAN) -o $@ $(POP3D_OBJS) $(B)/libpop3.a $(LDLIBS)

$(B)/tools/%: $(B)/tests/tools/%.o $(B)/libpop3.a
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $< $(B)/libpop3.a $(LDLIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libpop3.a
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $< $(B)/libpop3.a $(LDLIBS) $(shell pkg-config --libs cmocka)

deps:
	@sh scripts/deps.sh

# Unit tests: each binary is a cmocka runner; the summary line counts all.
unit: $(UNIT_BINS)
	@sh tests/run-unit.sh $(UNIT_BINS)

# Integration tests against real processes (POP3D_BUILD selects the binary).
integration: all
	POP3D_BUILD=$(B) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

check: deps
	$(MAKE) all unit
	$(MAKE) fuzz-replay
	$(MAKE) integration

# Sanitizer build: unit and integration tests under ASan+UBSan.
asan:
	$(MAKE) B=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    all unit integration

# The daemon under valgrind (every process), over the client and maildrop
# tests: any memory error fails the run.
VALGRIND = valgrind --trace-children=yes --error-exitcode=99 \
	   --errors-for-leak-kinds=none --track-fds=no -q
valgrind: all
	POP3D_BUILD=$(B) POP3D_WRAPPER="$(VALGRIND)" $(PYTHON) -m pytest -q \
	    -p no:cacheprovider tests/integration/test_clients.py \
	    tests/integration/test_maildrop.py tests/integration/test_capa.py

# libFuzzer targets (clang); "make fuzz" builds and runs each briefly.
FUZZ_SRCS = $(wildcard fuzz/fuzz_*.c)
FUZZ_TIME ?= 20
fuzz:
	@sh fuzz/run.sh build-fuzz $(FUZZ_TIME) $(FUZZ_SRCS)

# Replays each fuzz corpus through the parsers with gcc (part of make check).
fuzz-replay: $(B)/libpop3.a
	@sh fuzz/replay.sh $(B) $(FUZZ_SRCS)

demo: deps
	$(MAKE) all
	@sh scripts/demo.sh $(B)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)/pop3d
	install -m 755 $(B)/pop3d $(DESTDIR)$(SBINDIR)/pop3d
	install -m 644 docs/pop3d.8 $(DESTDIR)$(MANDIR)/man8/pop3d.8
	install -m 644 docs/pop3d.conf.5 $(DESTDIR)$(MANDIR)/man5/pop3d.conf.5
	test -e $(DESTDIR)$(SYSCONFDIR)/pop3d/pop3d.conf || \
	    install -m 644 etc/pop3d.conf $(DESTDIR)$(SYSCONFDIR)/pop3d/pop3d.conf

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all deps unit integration check asan valgrind fuzz fuzz-replay demo install clean
-include $(shell find $(B) -name '*.d' 2>/dev/null)
