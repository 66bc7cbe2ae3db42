# scsweep — build, test and benchmark. `make test` is what CI runs.
GO      ?= go
BIN     := bin
PKGS    := ./...
FUZZTIME ?= 20s

.PHONY: all build test vet windows bench lint fuzz demo golden clean

all: build

build:
	$(GO) build -o $(BIN)/scsweep.ext ./extension
	$(GO) build -o $(BIN)/sweeper ./server

# Everything CI checks: formatting, vet on both OSes, the Windows cross-build
# and the race-enabled test suite.
test: vet windows
	$(GO) test -race -count=1 $(PKGS)

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	GOOS=windows GOARCH=amd64 $(GO) vet $(PKGS)

windows:
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./...
	GOOS=windows GOARCH=amd64 $(GO) build -o $(BIN)/windows-amd64/scsweep.ext ./extension
	GOOS=windows GOARCH=amd64 $(GO) build -o $(BIN)/windows-amd64/sweeper.exe ./server

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2025.1.1 $(PKGS)

# Runs every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Rebuilds the PE fixtures under testdata/pe (needs osslsigncode and the
# module proxy for go-winres); the results are committed so tests need neither.
fixtures:
	$(GO) run ./extension/pe/internal/fixturegen -out testdata/pe

# Rewrites the golden files from the current code; review the diff.
# Packages whose tests take -update.
GOLDEN_PKGS := ./extension ./extension/source ./extension/screenconnect ./server/eql ./server/rules
golden:
	$(GO) test $(GOLDEN_PKGS) -run Golden -update

clean:
	rm -rf $(BIN)

# The main job, end to end on bundled telemetry: import a compromised
# ScreenConnect server's Sysmon log and hunt for the rule's matches.
DEMO_DB := $(shell mktemp -u /tmp/scsweep-demo-XXXXXX.db)
demo: build
	@echo "== importing bundled telemetry into $(DEMO_DB)"
	$(BIN)/scsweep.ext import --events-db $(DEMO_DB) testdata/telemetry/sysmon-xml/wevtutil-screenconnect.xml testdata/telemetry/ecs/winlogbeat-sysmon.ndjson testdata/telemetry/ecs/elastic-defend.ndjson
	@echo "== ScreenConnect server spawning a shell or compiler (the rule's pre-filter)"
	$(BIN)/scsweep.ext query --events-db $(DEMO_DB) --file sql/osquery/screenconnect_server_children.sql
