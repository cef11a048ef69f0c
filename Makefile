# dataline: top-level build, in the libbpf-tools style.
#
# Everything is discovered by folder, so adding a file needs no edit here:
#   bpf/NAME.bpf.c          -> $(OUT)/bpf/NAME.bpf.o + $(OUT)/NAME.skel.h
#   lib/**.c                -> $(OUT)/libdataline.a   (SIP/SDP/digest, util)
#   user/**.c (not cli/)    -> $(OUT)/libuser.a       (libnetq, agent, modem)
#   user/cli/BIN/*.c        -> $(OUT)/BIN             (dataline, dataline-netq)
#   server/**.c (not main)  -> $(OUT)/libserver.a
#   server/main.c           -> $(OUT)/dataline-server
#   tests/unit/test_X.c     -> $(OUT)/tests/test_X    (cmocka)
#   tests/tools/X.c         -> $(OUT)/tools/X         (helpers for tests/bench)
#   tests/bench/X.c         -> $(OUT)/bench/X
#   tests/fuzz/fuzz_X.c     -> $(OUT)/fuzz/fuzz_X     (libFuzzer, clang)
#
# Quiet by default; V=1 prints full commands. SANITIZE=1 builds with
# ASan+UBSan into $(OUT) (default build-asan when SANITIZE=1);
# SANITIZE=thread builds with ThreadSanitizer (default OUT build-tsan).
# Neither touches the BPF objects or the fuzzers (their own flags).

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
OUT ?= build-asan
else ifeq ($(SANITIZE),thread)
OUT ?= build-tsan
else
OUT ?= build
endif

CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
NPROC   := $(shell nproc 2>/dev/null || echo 2)
ARCH    := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

CFLAGS  := -O2 -g -gdwarf-4 -std=gnu11 -Wall -Wextra -Werror \
           -Wno-unused-parameter -D_GNU_SOURCE -Iinclude -I$(OUT) \
           -fno-strict-aliasing $(EXTRA_CFLAGS)
LDFLAGS :=
ifeq ($(SANITIZE),1)
# float-cast-overflow: not in GCC's "undefined" set, and a NaN or
# out-of-range float converted to int is undefined behaviour
CFLAGS  += -fsanitize=address,undefined,float-cast-overflow \
           -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined,float-cast-overflow
else ifeq ($(SANITIZE),thread)
CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS += -fsanitize=thread
endif

LIBS := -lbpf -lelf -lz -luring -lnl-route-3 -lnl-3 \
        -levent_openssl -levent_pthreads -levent -lssl -lcrypto \
        -lsqlite3 -ljansson -lsystemd -lopus -lsrtp2 -lasound -lpthread -lm
NL_CFLAGS := $(shell pkg-config --cflags libnl-route-3.0 2>/dev/null)
CFLAGS += $(NL_CFLAGS)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps test test-tsan unit fuzz bench demo run install install-dbus clean ci

# ---------------------------------------------------------------- sources
BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(OUT)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS       := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))

LIB_SRCS    := $(shell find lib -name '*.c' 2>/dev/null | sort)
USER_SRCS   := $(shell find user -name '*.c' -not -path 'user/cli/*' 2>/dev/null | sort)
SERVER_SRCS := $(shell find server -name '*.c' -not -path server/main.c 2>/dev/null | sort)
CLI_BINS    := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard user/cli/*/*.c)))))
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
TOOL_SRCS   := $(wildcard tests/tools/*.c)
BENCH_SRCS  := $(wildcard tests/bench/*.c)
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(OUT)/obj/%.o,$(1))

LIBDATALINE := $(OUT)/libdataline.a
LIBUSER     := $(OUT)/libuser.a
LIBSERVER   := $(OUT)/libserver.a
ALL_LIBS    := $(LIBSERVER) $(LIBUSER) $(LIBDATALINE)

BINS  := $(addprefix $(OUT)/,$(CLI_BINS)) \
         $(if $(wildcard server/main.c),$(OUT)/dataline-server)
UNITS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
TOOLS := $(patsubst tests/tools/%.c,$(OUT)/tools/%,$(TOOL_SRCS))
BENCHES := $(patsubst tests/bench/%.c,$(OUT)/bench/%,$(BENCH_SRCS))
FUZZERS := $(patsubst tests/fuzz/%.c,$(OUT)/fuzz/%,$(FUZZ_SRCS))

all: $(BPF_OBJS) $(SKELS) $(BINS) $(UNITS) $(TOOLS) $(BENCHES)

# ---------------------------------------------------------------- bpf
$(OUT)/vmlinux.h:
	$(call msg,BTF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(OUT)/bpf/%.bpf.o: bpf/%.bpf.c $(OUT)/vmlinux.h $(wildcard include/dataline/*.h bpf/*.h)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
		-Iinclude -I$(OUT) -c $< -o $@
	$(Q)llvm-strip -g $@ 2>/dev/null || true

$(OUT)/%.skel.h: $(OUT)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# ---------------------------------------------------------------- C objects
# Every object may include any skeleton; generate them first.
$(OUT)/obj/%.o: %.c | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(OUT)/obj -name '*.d' 2>/dev/null)

$(LIBDATALINE): $(call obj,$(LIB_SRCS))
$(LIBUSER):     $(call obj,$(USER_SRCS))
$(LIBSERVER):   $(call obj,$(SERVER_SRCS))
$(ALL_LIBS):
	$(call msg,AR,$@)
	$(Q)mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

define cli_rule
$(OUT)/$(1): $(call obj,$(wildcard user/cli/$(1)/*.c)) $(ALL_LIBS)
	$$(call msg,LINK,$$@)
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(ALL_LIBS) $(LIBS)
endef
$(foreach b,$(CLI_BINS),$(eval $(call cli_rule,$(b))))

$(OUT)/dataline-server: $(call obj,server/main.c) $(ALL_LIBS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(ALL_LIBS) $(LIBS)

$(OUT)/tests/%: $(OUT)/obj/tests/unit/%.o $(ALL_LIBS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LIBS) -lcmocka

$(OUT)/tools/%: $(OUT)/obj/tests/tools/%.o $(ALL_LIBS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LIBS)

$(OUT)/bench/%: $(OUT)/obj/tests/bench/%.o $(ALL_LIBS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LIBS)

# Fuzzers: clang, libFuzzer + ASan + UBSan, built straight from lib/ sources.
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
$(OUT)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) -lssl -lcrypto

# ---------------------------------------------------------------- targets
deps:
	$(Q)scripts/install-deps.sh --if-missing

test: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) all $(FUZZERS)
	$(Q)OUT=$(OUT) scripts/run-tests.sh

# ThreadSanitizer pass (CI runs it after the ASan one): a SANITIZE=thread
# build in $(TSAN_OUT), then the unit tests and the system tests whose server
# runs 2+ workers and crosses threads (mailboxes, writer thread, HTTP thread,
# transactions forwarded between workers). A report fails the test
# (halt_on_error; run-tests.sh collects every process's reports).
TSAN_OUT ?= build-tsan
TSAN_ITESTS := server_sip_smoke server_e2e server_texts server_sip_flood \
	server_registrar_rules server_http_api server_restart server_sip_conns \
	server_presence_offline server_calls server_calls_media
test-tsan: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) SANITIZE=thread OUT=$(TSAN_OUT) all
	$(Q)OUT=$(TSAN_OUT) \
	  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:exitcode=66:suppressions=$(CURDIR)/tests/tsan.supp $(TSAN_OPTIONS)" \
	  scripts/run-tests.sh /tests/test_ $(TSAN_ITESTS)

unit: all
	$(Q)OUT=$(OUT) scripts/run-tests.sh --unit-only

fuzz: $(FUZZERS)

bench: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) all
	$(Q)OUT=$(OUT) scripts/bench.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) all
	$(Q)OUT=$(OUT) scripts/demo.sh

run: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) all
	$(Q)OUT=$(OUT) scripts/run-server.sh

PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/

# the handset daemon's D-Bus policy, so it may own its name on the system bus
install-dbus:
	install -d $(DESTDIR)/etc/dbus-1/system.d
	install -m 0644 dist/dbus/org.dataline.Handset1.conf $(DESTDIR)/etc/dbus-1/system.d/

ci:
	$(Q)SANITIZE=1 $(MAKE) --no-print-directory test
	$(Q)$(MAKE) --no-print-directory test-tsan

clean:
	$(call msg,CLEAN,build build-asan build-tsan)
	$(Q)rm -rf build build-asan build-tsan
