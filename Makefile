# pop3d - build, test, demo, install.  GNU make; C11; pkg-config for deps.
# Targets: all check lint-man lint-structure unit integration asan fuzz demo install clean

PREFIX	?= /usr/local
DESTDIR	?=
SBINDIR	 = $(PREFIX)/sbin
BINDIR	 = $(PREFIX)/bin
MANDIR	 = $(PREFIX)/share/man
SYSCONFDIR ?= /etc
# systemd finds units below /usr/local/lib/systemd and /usr/lib/systemd,
# so the default PREFIX needs no link; a Debian 12 package (PREFIX=/usr)
# sets SYSTEMDUNITDIR=/lib/systemd/system as debhelper does.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSTEMDUSERUNITDIR ?= $(PREFIX)/lib/systemd/user

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
DEPCFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
	     $(shell pkg-config --cflags pwquality sqlite3 libseccomp libpq \
		 2>/dev/null)
DEPLIBS	  := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALLCFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN) -Isrc/lib \
	    $(DEPCFLAGS) -MMD -MP
LDLIBS	 = $(DEPLIBS) -lpthread

# Every directory under src/ but lib is a program built from its *.c files
# and libpop3.a (what two programs or more share): pop3d, pop3ctl,
# pop3fetch.
PROGS	  := $(filter-out lib,$(notdir $(patsubst %/,%,$(wildcard src/*/))))
# Libraries only one program needs.
LIBS_pop3d     = $(shell pkg-config --libs libseccomp libpq 2>/dev/null)
LIBS_pop3ctl   = $(shell pkg-config --libs pwquality libpq 2>/dev/null)
LIBS_pop3fetch = $(shell pkg-config --libs sqlite3 2>/dev/null)

LIB_SRCS   = $(wildcard src/lib/*.c)
UNIT_SRCS  = $(wildcard tests/unit/test_*.c)
TOOL_SRCS  = $(wildcard tests/tools/*.c)
BENCH_SRCS = $(wildcard bench/*.c)

LIB_OBJS   = $(LIB_SRCS:%.c=$(B)/%.o)
UNIT_BINS  = $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
TOOL_BINS  = $(TOOL_SRCS:tests/tools/%.c=$(B)/tools/%)
BENCH_BINS = $(BENCH_SRCS:bench/%.c=$(B)/bench/%)

all: $(PROGS:%=$(B)/%) $(TOOL_BINS) $(BENCH_BINS)

# V=1 shows the full compiler command lines.
Q	 = $(if $(V),,@)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(ALLCFLAGS) -c $< -o $@

$(B)/libpop3.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

define PROG_template
$(1)_OBJS = $$(patsubst %.c,$$(B)/%.o,$$(wildcard src/$(1)/*.c))
$$(B)/$(1): $$($(1)_OBJS) $$(B)/libpop3.a
	$$(CC) $$(SAN) -o $$@ $$($(1)_OBJS) $$(B)/libpop3.a $$(LIBS_$(1)) \
	    $$(LDLIBS)
endef
$(foreach p,$(PROGS),$(eval $(call PROG_template,$(p))))

# Benchmark programs: one per bench/*.c (built by "make", run by "make bench").
$(B)/bench/%: $(B)/bench/%.o $(B)/libpop3.a
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $< $(B)/libpop3.a $(LDLIBS)

$(B)/tools/%: $(B)/tests/tools/%.o $(B)/libpop3.a
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $< $(B)/libpop3.a $(LDLIBS)

# A unit test or fuzz target of a module that only one program uses (it
# lives in src/PROG, not src/lib) includes it as "PROG/NAME.h", compiled
# with -Isrc, and links the program's object NAME.o, never its main.o.
prog_objs = $(patsubst %,$(B)/%.o,$(shell sh scripts/prog-mods.sh $(1)))
$(B)/tests/unit/%.o: ALLCFLAGS += -Isrc
$(foreach t,$(UNIT_SRCS),$(eval \
    $(t:tests/unit/%.c=$(B)/tests/%): $(call prog_objs,$(t))))

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libpop3.a
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $(filter %.o,$^) $(B)/libpop3.a $(LIBS_pop3d) \
	    $(LDLIBS) $(shell pkg-config --libs cmocka)

deps:
	@sh scripts/deps.sh test

# Unit tests: each binary is a cmocka runner; the summary line counts all.
unit: $(UNIT_BINS)
	@sh tests/run-unit.sh $(UNIT_BINS)

# Integration tests against real processes (POP3D_BUILD selects the binary).
# A hang fails the run after TEST_TIMEOUT seconds instead of stalling CI.
TEST_TIMEOUT ?= 1800
integration: all
	POP3D_BUILD=$(B) timeout -k 10 $(TEST_TIMEOUT) $(PYTHON) -m pytest -q \
	    -p no:cacheprovider tests/integration

check: deps
	$(MAKE) lint-man lint-structure
	$(MAKE) all unit
	$(MAKE) fuzz-replay
	$(MAKE) integration

# Every man page passes mandoc -Tlint.  Two kinds of message depend on
# the machine, not the page, and are left out: a cross-reference to a
# page that is not installed here (pop3d's own before "make install",
# sysexits(3) without manpages-dev) and an out-of-date mandoc.db.
lint-man:
	@out=$$(for m in docs/*.[158]; do mandoc -Tlint $$m 2>&1; done | \
	    grep -v -e 'referenced manual not found' -e 'mandoc\.db'); \
	if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; \
	echo "lint-man: docs/*.[158] clean"

# The layout rules of src/: no file over 800 lines, no include circle in a
# program, every src/lib module shared by two programs (see the script;
# part of make check).
lint-structure:
	@$(PYTHON) scripts/lint-structure.py src

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
	POP3D_BUILD=$(B) POP3D_WRAPPER="$(VALGRIND)" timeout -k 10 \
	    $(TEST_TIMEOUT) $(PYTHON) -m pytest -q \
	    -p no:cacheprovider tests/integration/test_clients.py \
	    tests/integration/test_maildrop.py tests/integration/test_capa.py

# libFuzzer targets (clang); "make fuzz" builds and runs each briefly.
FUZZ_SRCS = $(wildcard fuzz/fuzz_*.c)
FUZZ_PROG_OBJS = $(call prog_objs,$(FUZZ_SRCS))
FUZZ_TIME ?= 20
fuzz:
	@sh fuzz/run.sh build-fuzz $(FUZZ_TIME) $(FUZZ_SRCS)

# Replays each fuzz corpus through the parsers with gcc (part of make check).
fuzz-replay: $(B)/libpop3.a $(FUZZ_PROG_OBJS)
	@sh fuzz/replay.sh $(B) $(FUZZ_SRCS)

# The benchmark against Dovecot (root; see bench/RESULTS.md).  BENCH_ARGS
# passes options, e.g. BENCH_ARGS="--rounds 3 --modes sessions,retr".
bench: all
	@sh scripts/deps.sh bench
	sh bench/run.sh $(BENCH_ARGS)

demo:
	@sh scripts/deps.sh build
	$(MAKE) all
	@sh scripts/demo.sh $(B)

# The units name /usr/local and /etc in their command lines; install
# writes the real directories in.
UNIT_SED = sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' \
	   -e 's|/usr/local/bin/|$(BINDIR)/|g' \
	   -e 's|/etc/pop3d/|$(SYSCONFDIR)/pop3d/|g'
F2B	 = $(DESTDIR)$(SYSCONFDIR)/fail2ban

# Daemons and admin tools go to sbin, user programs (pop3fetch) to bin;
# pop3d.service is a system unit, pop3fetch's units are user units.  The
# fail2ban filter is replaced, the jail and pop3d.conf kept if present.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/pop3d \
	    $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSTEMDUSERUNITDIR) \
	    $(F2B)/filter.d $(F2B)/jail.d
	for p in $(PROGS); do \
		case $$p in pop3fetch) d=$(BINDIR) ;; *) d=$(SBINDIR) ;; esac; \
		install -m 755 $(B)/$$p $(DESTDIR)$$d/$$p || exit 1; \
	done
	for m in docs/*.[158]; do \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/ || exit 1; \
	done
	test -e $(DESTDIR)$(SYSCONFDIR)/pop3d/pop3d.conf || \
	    install -m 644 etc/pop3d.conf $(DESTDIR)$(SYSCONFDIR)/pop3d/pop3d.conf
	$(UNIT_SED) etc/pop3d.service > $(DESTDIR)$(SYSTEMDUNITDIR)/pop3d.service
	for u in pop3fetch.service pop3fetch.timer; do \
		$(UNIT_SED) etc/$$u > $(DESTDIR)$(SYSTEMDUSERUNITDIR)/$$u || \
		    exit 1; \
	done
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/pop3d.service \
	    $(DESTDIR)$(SYSTEMDUSERUNITDIR)/pop3fetch.service \
	    $(DESTDIR)$(SYSTEMDUSERUNITDIR)/pop3fetch.timer
	install -m 644 etc/fail2ban/filter.d/pop3d.conf $(F2B)/filter.d/
	test -e $(F2B)/jail.d/pop3d.conf || \
	    install -m 644 etc/fail2ban/jail.d/pop3d.conf $(F2B)/jail.d/

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all deps unit integration check lint-man lint-structure asan valgrind fuzz fuzz-replay demo install clean bench
-include $(shell find $(B) -name '*.d' 2>/dev/null)
.SECONDARY:
