# cairn: one non-recursive build.
#   make                 build everything into build/
#   make check           every test (unit + integration)
#   make check SANITIZE=1  the same under AddressSanitizer + UBSan (in build/sanitize/)
#   make bench           print the benchmark figures
#   make demo            the end-to-end demo
#   make install PREFIX=/usr/local DESTDIR=
#   make uninstall PREFIX=/usr/local DESTDIR=

VERSION   := 0.1.0
PREFIX    ?= /usr/local
# The Python package goes where Debian's python3 looks for this prefix:
# /usr/lib/python3/dist-packages for /usr, PREFIX/lib/python3.X/dist-packages
# for any other (X: the interpreter's minor version). Set PYTHONDIR to choose.
PYTHON3   ?= $(firstword $(wildcard /usr/bin/python3) python3)
PYTHONDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/python3/dist-packages,$(PREFIX)/lib/python$(shell \
    $(PYTHON3) -c 'import sys; print("%d.%d" % sys.version_info[:2])')/dist-packages)
DESTDIR   ?=
CC        ?= cc

ifeq ($(SANITIZE),1)
BUILD     ?= build/sanitize
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT       := -O1
else
BUILD     ?= build
SAN_FLAGS :=
OPT       := -O2
endif

PKGS      := libzmq msgpack lmdb libconfig jansson libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS    ?= $(OPT) -g
CFLAGS    += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -MMD -MP \
             -DCAIRN_VERSION='"$(VERSION)"' -DCAIRN_PLUGIN_DIR='"$(PREFIX)/lib/cairn/plugins"' \
             $(SAN_FLAGS) \
             -Isdk/include -Isdk/src -Icoordinator -Icli -Iagent $(PKG_CFLAGS)
LDFLAGS   += $(SAN_FLAGS)
LDLIBS    := $(PKG_LIBS) -lpthread -lm

OBJ       := $(BUILD)/obj
BIN       := $(BUILD)/bin
LIB       := $(BUILD)/lib
TESTBIN   := $(BUILD)/tests

SDK_SRC   := $(wildcard sdk/src/*.c)
# What only the daemons use (their config files and options) stays out of the
# shared library, which SDK users load: it would make them need libconfig.
SDK_SO_SRC := $(filter-out sdk/src/daemon_%.c,$(SDK_SRC))
COORD_SRC := $(filter-out coordinator/main.c,$(wildcard coordinator/*.c))
CLI_SRC   := $(filter-out cli/main.c,$(wildcard cli/*.c))
AGENT_SRC := $(filter-out agent/main.c,$(wildcard agent/*.c))
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
TOOL_SRC  := $(wildcard tests/tools/*.c)
BENCH_SRC := $(wildcard tests/bench/bench_*.c)
# One directory per plugin under plugins/, its sources beside it: each builds
# into build/plugins/NAME.so with nothing but the public headers, as a third
# party's would (see docs/plugins.md).
PLUGIN_DIRS := $(patsubst %/,%,$(dir $(wildcard plugins/*/*.c)))
PLUGIN_NAMES := $(sort $(notdir $(PLUGIN_DIRS)))

obj = $(patsubst %.c,$(OBJ)/%.o,$(1))

LIBCAIRN_A  := $(LIB)/libcairn.a
LIBSDK_A    := $(OBJ)/libsdk.a
LIBCAIRN_SO := $(LIB)/libcairn.so
LIBCOORD_A  := $(OBJ)/libcoordinator.a
LIBCLI_A    := $(OBJ)/libcli.a
LIBAGENT_A  := $(OBJ)/libagent.a

PROGRAMS  := $(BIN)/cairn-coordinator $(BIN)/cairn $(BIN)/cairn-agent \
             $(if $(wildcard agent/check/main.c),$(BIN)/cairn-plugin-check)
PLUGINS   := $(patsubst %,$(BUILD)/plugins/%.so,$(PLUGIN_NAMES))
MAN1      := docs/man/cairn.1 docs/man/cairn-plugin-check.1
MAN8      := docs/man/cairn-agent.8 docs/man/cairn-coordinator.8
# Plugins the tests load: tests/plugins/NAME.c, and from bad_plugins.c one
# refused variant per BAD_* define.
BAD_VARIANTS := abi size kind init default
TEST_PLUGINS := $(patsubst tests/plugins/%.c,$(TESTBIN)/plugins/%.so,\
                  $(filter-out tests/plugins/bad_plugins.c,$(wildcard tests/plugins/*.c))) \
                $(patsubst %,$(TESTBIN)/plugins/bad_%.so,$(BAD_VARIANTS))
UNITS     := $(patsubst tests/unit/%.c,$(TESTBIN)/%,$(UNIT_SRC))
TOOLS     := $(patsubst tests/tools/%.c,$(TESTBIN)/%,$(TOOL_SRC))
BENCHES   := $(patsubst tests/bench/%.c,$(TESTBIN)/%,$(BENCH_SRC))

.PHONY: all deps check unit integration bench demo install uninstall clean
all: $(PROGRAMS) $(LIBCAIRN_A) $(LIBCAIRN_SO) $(LIB)/pkgconfig/cairn.pc $(PLUGINS)

deps:
	@packaging/install-deps.sh

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS) -c $< -o $@

# What cairn's own programs link: the whole SDK, its internals and the
# daemons' shared parts included.
$(LIBSDK_A): $(call obj,$(SDK_SRC))
	@mkdir -p $(dir $@)
	@echo "AR $@"
	@rm -f $@ && ar rcs $@ $^

# The static library for users: the shared library's objects joined into
# one, in which only cairn_* stays global, as the shared library's version
# script keeps it. Internal names (error_set, kvlog, msg_*) would otherwise
# clash with a program's own at link time.
$(LIBCAIRN_A): $(call obj,$(SDK_SO_SRC))
	@mkdir -p $(dir $@)
	@echo "AR $@"
	@ld -r -o $(OBJ)/libcairn-joined.o $^
	@objcopy -w --keep-global-symbol='cairn_*' $(OBJ)/libcairn-joined.o $(OBJ)/libcairn-public.o
	@rm -f $@ && ar rcs $@ $(OBJ)/libcairn-public.o

# Only cairn_* symbols leave the shared library: the codec and helpers are
# internal and may change without an ABI bump.
$(LIBCAIRN_SO): $(call obj,$(SDK_SO_SRC)) sdk/libcairn.map
	@mkdir -p $(dir $@)
	@echo "LD $@"
	@$(CC) -shared -Wl,-soname,libcairn.so.0 -Wl,--version-script=sdk/libcairn.map \
	    $(LDFLAGS) -o $@.0 $(call obj,$(SDK_SO_SRC)) $(LDLIBS)
	@ln -sf libcairn.so.0 $@

$(LIB)/pkgconfig/cairn.pc: sdk/cairn.pc.in
	@mkdir -p $(dir $@)
	@sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

$(LIBCOORD_A): $(call obj,$(COORD_SRC))
	@echo "AR $@"
	@rm -f $@ && ar rcs $@ $^

$(LIBCLI_A): $(call obj,$(CLI_SRC))
	@echo "AR $@"
	@rm -f $@ && ar rcs $@ $^

$(LIBAGENT_A): $(call obj,$(AGENT_SRC))
	@echo "AR $@"
	@rm -f $@ && ar rcs $@ $^

$(BIN)/cairn-coordinator: $(OBJ)/coordinator/main.o $(LIBCOORD_A) $(LIBSDK_A)
	@mkdir -p $(dir $@)
	@echo "LD $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/cairn: $(OBJ)/cli/main.o $(LIBCLI_A) $(LIBSDK_A)
	@mkdir -p $(dir $@)
	@echo "LD $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/cairn-agent: $(OBJ)/agent/main.o $(LIBAGENT_A) $(LIBSDK_A)
	@mkdir -p $(dir $@)
	@echo "LD $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -ldl

$(BIN)/cairn-plugin-check: $(call obj,$(wildcard agent/check/*.c)) $(LIBAGENT_A) $(LIBSDK_A)
	@mkdir -p $(dir $@)
	@echo "LD $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -ldl

# A plugin sees sdk/include only. Extra libraries: plugins/NAME/LIBS holds
# pkg-config package names (webhook: libcurl).
PLUGIN_CFLAGS = $(OPT) -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -fvisibility=hidden \
                $(SAN_FLAGS) -Isdk/include
plugin_libs = $(if $(wildcard plugins/$(1)/LIBS),$(shell pkg-config --cflags --libs $(shell cat plugins/$(1)/LIBS)))
.SECONDEXPANSION:
$(BUILD)/plugins/%.so: $$(wildcard plugins/$$*/*.c) $$(wildcard plugins/$$*/*.h) sdk/include/cairn/plugin.h
	@mkdir -p $(dir $@)
	@echo "PLUGIN $@"
	@$(CC) $(PLUGIN_CFLAGS) -shared -o $@ $(filter %.c,$^) $(call plugin_libs,$*)

$(TESTBIN)/plugins/bad_%.so: tests/plugins/bad_plugins.c sdk/include/cairn/plugin.h
	@mkdir -p $(dir $@)
	@echo "PLUGIN $@"
	@$(CC) $(PLUGIN_CFLAGS) -DBAD_$(shell echo $* | tr a-z A-Z) -shared -o $@ $<

$(TESTBIN)/plugins/%.so: tests/plugins/%.c sdk/include/cairn/plugin.h
	@mkdir -p $(dir $@)
	@echo "PLUGIN $@"
	@$(CC) $(PLUGIN_CFLAGS) -shared -o $@ $<

$(TESTBIN)/test_%: $(OBJ)/tests/unit/test_%.o $(LIBCOORD_A) $(LIBCLI_A) $(LIBAGENT_A) $(LIBSDK_A)
	@mkdir -p $(dir $@)
	@echo "LD $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka -ldl

$(TESTBIN)/%: $(OBJ)/tests/tools/%.o $(LIBCOORD_A) $(LIBSDK_A)
	@mkdir -p $(dir $@)
	@echo "LD $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(TESTBIN)/bench_%: $(OBJ)/tests/bench/bench_%.o $(LIBCOORD_A) $(LIBAGENT_A) $(LIBSDK_A)
	@mkdir -p $(dir $@)
	@echo "LD $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -ldl

check: deps
	@$(MAKE) --no-print-directory all $(UNITS) $(TOOLS) $(TEST_PLUGINS)
	@CAIRN_BUILD=$(BUILD) tests/run-tests.sh $(UNITS)

unit: all $(UNITS) $(TEST_PLUGINS)
	@CAIRN_BUILD=$(BUILD) CAIRN_ONLY=unit tests/run-tests.sh $(UNITS)

integration: all $(TOOLS) $(TEST_PLUGINS)
	@CAIRN_BUILD=$(BUILD) CAIRN_ONLY=integration tests/run-tests.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BENCHES) $(TOOLS) $(TEST_PLUGINS)
	@CAIRN_BUILD=$(BUILD) tests/bench/run-bench.sh $(BENCHES)

demo: deps
	@$(MAKE) --no-print-directory all
	@CAIRN_BUILD=$(BUILD) examples/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/include/cairn $(DESTDIR)$(PREFIX)/share/doc/cairn \
	    $(DESTDIR)/etc/cairn
	install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIBCAIRN_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIBCAIRN_SO).0 $(DESTDIR)$(PREFIX)/lib/libcairn.so.0
	ln -sf libcairn.so.0 $(DESTDIR)$(PREFIX)/lib/libcairn.so
	install -m 644 sdk/include/cairn/*.h $(DESTDIR)$(PREFIX)/include/cairn/
	install -d $(DESTDIR)$(PREFIX)/lib/cairn/plugins
	$(if $(PLUGINS),install -m 755 $(PLUGINS) $(DESTDIR)$(PREFIX)/lib/cairn/plugins/)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' sdk/cairn.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/cairn.pc
	chmod 644 $(DESTDIR)$(PREFIX)/lib/pkgconfig/cairn.pc
	install -m 644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/cairn/
	install -d $(DESTDIR)$(PREFIX)/share/doc/cairn/plugins
	for readme in plugins/*/README.md; do \
	    name=$${readme#plugins/}; install -m 644 $$readme \
	        $(DESTDIR)$(PREFIX)/share/doc/cairn/plugins/$${name%/README.md}.md; done
	install -d $(DESTDIR)$(PYTHONDIR)/cairn
	install -m 644 sdk/python/cairn/*.py $(DESTDIR)$(PYTHONDIR)/cairn/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	for unit in cairn-agent cairn-coordinator; do \
	    sed -e 's|@PREFIX@|$(PREFIX)|g' packaging/systemd/$$unit.service.in \
	        > $(DESTDIR)$(PREFIX)/lib/systemd/system/$$unit.service; \
	    chmod 644 $(DESTDIR)$(PREFIX)/lib/systemd/system/$$unit.service; done
	install -m 644 conf/coordinator.conf $(DESTDIR)/etc/cairn/coordinator.conf.example
	install -m 644 conf/agent.conf $(DESTDIR)/etc/cairn/agent.conf.example
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	for page in $(MAN1) $(MAN8); do \
	    section=$${page##*.}; \
	    sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $$page \
	        > $(DESTDIR)$(PREFIX)/share/man/man$$section/$${page##*/}; \
	    chmod 644 $(DESTDIR)$(PREFIX)/share/man/man$$section/$${page##*/}; done
# Straight into this system: the dynamic linker finds a new libcairn.so.0 in
# /usr/local/lib only through its cache. A staged (DESTDIR) install leaves
# that to the package manager; only root can write the cache.
	$(if $(DESTDIR),,@if [ "$$(id -u)" -eq 0 ]; then echo ldconfig; ldconfig; fi)

# Removes what install put there, and nothing an operator made: the
# configuration in /etc/cairn, plugins of other makers and the daemons' data
# directories stay.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(notdir $(PROGRAMS))) \
	    $(DESTDIR)$(PREFIX)/lib/libcairn.a $(DESTDIR)$(PREFIX)/lib/libcairn.so \
	    $(DESTDIR)$(PREFIX)/lib/libcairn.so.0 $(DESTDIR)$(PREFIX)/lib/pkgconfig/cairn.pc \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/cairn-agent.service \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/cairn-coordinator.service \
	    $(addprefix $(DESTDIR)$(PREFIX)/share/man/man1/,$(notdir $(MAN1))) \
	    $(addprefix $(DESTDIR)$(PREFIX)/share/man/man8/,$(notdir $(MAN8))) \
	    $(DESTDIR)/etc/cairn/coordinator.conf.example $(DESTDIR)/etc/cairn/agent.conf.example
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/include/cairn/,$(notdir $(wildcard sdk/include/cairn/*.h))) \
	    $(addprefix $(DESTDIR)$(PREFIX)/lib/cairn/plugins/,$(notdir $(PLUGINS)))
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/cairn $(DESTDIR)$(PYTHONDIR)/cairn
# Plugins of other makers in lib/cairn/plugins, and a configuration beside
# the examples, keep their directories.
	for dir in include/cairn lib/cairn/plugins lib/cairn; do \
	    rmdir $(DESTDIR)$(PREFIX)/$$dir 2>/dev/null || true; done
	rmdir $(DESTDIR)/etc/cairn 2>/dev/null || true
	$(if $(DESTDIR),,@if [ "$$(id -u)" -eq 0 ]; then echo ldconfig; ldconfig; fi)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
