# Runnel build and test entry points. `make test` is the one test command:
# CI runs it through .ci/run, and developers run it before they push.
#
#   make test    gofmt, go vet, staticcheck, race tests of the concurrent packages, then the rest,
#                then the measuring tests that skip under -race
#   make lint    gofmt, go vet and staticcheck only
#   make bench   every benchmark, no tests
#   make build   bin/runnel
#   make tools   install the pinned staticcheck into .cache/bin (skipped when already there)
#
# Variables (override on the command line, e.g. `make test RACE_PKGS=./stream/...`):
#   RACE_PKGS     package patterns tested with -race; patterns that match nothing are skipped
#   TEST_TIMEOUT  -timeout for each test binary
#   TEST_FLAGS    extra flags for both go test runs (e.g. -count=1 or -run Foo)

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

GO ?= go
RACE_PKGS ?= ./internal/... ./stream/... ./connector/...
TEST_TIMEOUT ?= 20m
TEST_FLAGS ?=

# staticcheck 2026.2.2 (module version v0.8.2) understands Go 1.26. Bump it here
# when the go directive in go.mod moves past what it supports.
STATICCHECK_VERSION ?= v0.8.2
TOOLS_BIN := $(CURDIR)/.cache/bin
STATICCHECK := $(TOOLS_BIN)/staticcheck
export STATICCHECK_CACHE ?= $(CURDIR)/.cache/staticcheck

# Directories never handed to gofmt: VCS, tool caches, build output, vendored
# JavaScript, and testdata (which the go tool ignores and may hold deliberately bad Go).
GOFMT_PRUNE := -path ./.git -o -path ./.cache -o -path ./bin -o -name node_modules -o -name testdata -o -name vendor

.PHONY: test lint fmt-check vet staticcheck test-deps test-race test-rest test-norace bench build tools

# test prints nothing after the last go test run, so its ok/FAIL lines close the output.
test: lint test-deps test-race test-rest test-norace

# test-deps installs what the tests need beyond Go: the AWS CLI v2 (Debian's awscli).
test-deps:
	@scripts/install-awscli.sh

lint: fmt-check vet staticcheck

fmt-check:
	@echo "==> gofmt -l"
	@files="$$(find . \( $(GOFMT_PRUNE) \) -prune -o -type f -name '*.go' -print | sort | xargs -r gofmt -l)"; \
	if [ -n "$$files" ]; then \
		echo "these files are not gofmt-formatted (run: gofmt -w <file>):"; \
		echo "$$files" | sed 's/^/    /'; \
		exit 1; \
	fi

vet:
	@echo "==> go vet ./..."
	$(GO) vet ./...

staticcheck: tools
	@echo "==> staticcheck $(STATICCHECK_VERSION) ./..."
	$(STATICCHECK) ./...

# race_pkgs prints the module's packages matched by RACE_PKGS, one per line.
# Patterns are resolved against `go list -e ./...` rather than handed to the go
# tool, so a pattern whose directory does not exist yet matches nothing instead
# of failing the build. Supported forms: ./dir, ./dir/..., ./..., and import paths.
define race_pkgs
$(GO) list -e ./... | awk -v mod="$$($(GO) list -m)" -v pats="$(RACE_PKGS)" ' \
	BEGIN { n = split(pats, p, " "); \
		for (i = 1; i <= n; i++) { q = p[i]; tree[i] = 0; \
			if (q == "...") { q = "."; tree[i] = 1 } \
			if (q ~ /\/\.\.\.$$/) { q = substr(q, 1, length(q) - 4); tree[i] = 1 } \
			if (q == ".") q = mod; else if (q ~ /^\.\//) q = mod "/" substr(q, 3); \
			root[i] = q } } \
	{ for (i = 1; i <= n; i++) \
		if ($$0 == root[i] || (tree[i] && index($$0, root[i] "/") == 1)) { print; next } }'
endef

test-race:
	@echo "==> go test -race ($(RACE_PKGS))"
	@pkgs="$$($(race_pkgs))"; \
	if [ -z "$$pkgs" ]; then echo "no packages match RACE_PKGS; skipping"; exit 0; fi; \
	set -x; $(GO) test -race -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) $$pkgs

test-rest:
	@echo "==> go test (packages not covered by the race run)"
	@race="$$($(race_pkgs))"; \
	pkgs="$$($(GO) list -e ./... | { grep -vxF -e "$$race" || true; })"; \
	if [ -z "$$race" ]; then pkgs="$$($(GO) list -e ./...)"; fi; \
	if [ -z "$$pkgs" ]; then echo "every package was tested with -race; nothing left"; exit 0; fi; \
	set -x; $(GO) test -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) $$pkgs

# Tests that measure memory or time skip under the race detector (which multiplies both);
# they run here, without it.
NORACE_TESTS ?= ^TestPebbleLargeState$$

test-norace:
	@echo "==> go test (measuring tests, without -race)"
	set -x; $(GO) test -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) -run '$(NORACE_TESTS)' ./stream/

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

build:
	$(GO) build -o bin/runnel ./cmd/runnel

# tools installs staticcheck unless .cache/bin already holds the pinned version
# built by the current Go toolchain (a newer Go needs a rebuilt analyzer).
tools:
	@want_go="$$($(GO) env GOVERSION)"; \
	if [ -x "$(STATICCHECK)" ] \
		&& $(GO) version -m "$(STATICCHECK)" 2>/dev/null | head -n1 | grep -qF ": $$want_go" \
		&& $(GO) version -m "$(STATICCHECK)" 2>/dev/null | grep -qE "^[[:space:]]+mod[[:space:]]+honnef.co/go/tools[[:space:]]+$(STATICCHECK_VERSION)([[:space:]]|$$)"; then \
		exit 0; \
	fi; \
	echo "==> installing staticcheck $(STATICCHECK_VERSION) into .cache/bin"; \
	GOBIN="$(TOOLS_BIN)" $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
