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
	GOOS=windows GOARCH=amd64 $(GO) build -o $(BIN)/windows-amd64/scsweep.ext.exe ./extension
	GOOS=windows GOARCH=amd64 $(GO) build -o $(BIN)/windows-amd64/sweeper.exe ./server

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

# Runs every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5x $$pkg || exit 1; \
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

# The main job, end to end: a sweeper with a fresh data dir, three hosts
# running scsweep.ext standalone on bundled Sysmon logs (a compromised
# ScreenConnect server, a host with only the ScreenConnect client, a clean
# file server), one sweep of the ScreenConnect rule, the alerts with their
# evidence. The sweeper keeps running for `sweeper hunt` until Ctrl-C.
DEMO_DIR := $(shell mktemp -d /tmp/scsweep-demo-XXXXXX)
demo: build
	@set -e; d=$(DEMO_DIR); pids=; trap 'st=$$?; kill $$pids 2>/dev/null || true; wait 2>/dev/null || true; exit $$st' EXIT; trap 'exit 0' INT TERM; \
	$(BIN)/sweeper serve --data-dir $$d/sweeper --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 --no-schedule > $$d/sweeper.log 2>&1 & pids="$$pids $$!"; \
	until grep -q 'wss://' $$d/sweeper.log 2>/dev/null && [ -f $$d/sweeper/api_addr ]; do sleep 0.2; done; \
	url=$$(grep -o 'wss://[0-9.:]*' $$d/sweeper.log); echo "== sweeper listening on $$url (data dir $$d/sweeper)"; \
	for h in sc-server:server-compromised sc-client:client-only file-server:clean; do \
	  host=$${h%%:*}; log=$${h#*:}; root=; \
	  if [ $$host = sc-server ]; then root="--screenconnect-root testdata/screenconnect/cve-2024-1709"; fi; \
	  echo "== $$host imports testdata/fleet/$$log.xml"; \
	  $(BIN)/scsweep.ext import --events-db $$d/$$host/events.db testdata/fleet/$$log.xml | sed 's/^/   /'; \
	  $(BIN)/scsweep.ext serve --standalone --sweeper $$url --enroll-secret-file $$d/sweeper/enroll_secret \
	    --ca-file $$d/sweeper/tls/ca.pem --host-identifier $$host --events-db $$d/$$host/events.db $$root > $$d/$$host.log 2>&1 & pids="$$pids $$!"; \
	done; \
	until [ "$$($(BIN)/sweeper hosts --json --data-dir $$d/sweeper | grep -c '"online":true')" = 3 ]; do sleep 0.2; done; sleep 1.1; \
	echo "== hosts"; $(BIN)/sweeper hosts --data-dir $$d/sweeper; \
	echo "== sweep of the ScreenConnect rule"; $(BIN)/sweeper sweep --data-dir $$d/sweeper; \
	echo "== alerts"; $(BIN)/sweeper alerts --data-dir $$d/sweeper; \
	echo "== one alert, with the evidence gathered from its host (siblings, descendants, server version, admins, suspicious App_Extensions files)"; $(BIN)/sweeper alerts --json --limit 1 --data-dir $$d/sweeper | python3 -m json.tool 2>/dev/null || $(BIN)/sweeper alerts --json --limit 1 --data-dir $$d/sweeper; \
	echo "== the guide's pivot: what else did ScreenConnect.Service.exe start, fleet-wide?"; \
	$(BIN)/sweeper hunt --data-dir $$d/sweeper "SELECT datetime(time,'unixepoch') AS started, name, pe_original_file_name, cmdline FROM process_lineage_events WHERE parent_name LIKE 'screenconnect.service.exe'"; \
	if [ -t 0 ] && [ -z "$$CI" ]; then \
	  echo; echo "The sweeper keeps running. In another shell:"; \
	  echo "  $(BIN)/sweeper hunt --data-dir $$d/sweeper \"SELECT name, parent_name FROM process_lineage_events\""; \
	  echo "Ctrl-C stops it."; wait; \
	else echo "(no terminal: the demo stops here)"; fi
