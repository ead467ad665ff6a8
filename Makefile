# lapse: churn and propensity scoring. `make help` lists the targets.

GO       ?= go
BIN      := bin/lapse
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 30s

# make run: size of the generated history and the snapshot it builds.
RUN_USERS   ?= 20000
RUN_DAYS    ?= 365
RUN_SEED    ?= 1
RUN_EVENTS  := run/sample_events.csv
RUN_AS_OF   ?= 2025-12-01
RUN_HORIZON ?= 30d

.PHONY: help build test bench fuzz fmt lint run cover clean sklearn-check

help:
	@echo "build  compile bin/lapse with version $(VERSION) ($(COMMIT))"
	@echo "test   go vet, then every test with -race"
	@echo "bench  every benchmark once, output in bench.txt"
	@echo "fuzz   every fuzz target for FUZZTIME=$(FUZZTIME)"
	@echo "fmt    fail when gofmt would change a file"
	@echo "lint   go vet and the import-direction check"
	@echo "run    build, generate $(RUN_EVENTS) if missing, write run/features.csv"
	@echo "cover  test coverage summary (bin/cover.out)"
	@echo "clean  remove bin/, run/, bench.txt"
	@echo "sklearn-check  lapse train vs scikit-learn on the make-run history and CDNOW (needs python3-sklearn)"

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lapse

test:
	$(GO) vet ./...
	$(GO) test -race -timeout 9m ./...

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./... | tee bench.txt

# Every Fuzz target of every package, one at a time (go test -fuzz takes one
# target and one package per run).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt -l reports:"; echo "$$out"; exit 1; fi

lint:
	$(GO) vet ./...
	$(GO) test -count=1 -run '^TestImports$$' ./cmd/lapse

run: build
	@mkdir -p run
	@test -f $(RUN_EVENTS) || ./$(BIN) gen --users $(RUN_USERS) --days $(RUN_DAYS) --seed $(RUN_SEED) --out $(RUN_EVENTS)
	./$(BIN) features --events $(RUN_EVENTS) --as-of $(RUN_AS_OF) --horizon $(RUN_HORIZON) \
		--spec-out run/spec.json --out run/features.csv
	@echo "wrote run/features.csv and run/spec.json"

# The quality bar of issue 3, outside the test suite: the chosen model's
# out-of-time AUC and log loss against scikit-learn's
# HistGradientBoostingClassifier on the same rows (Debian's python3-sklearn).
SKLEARN_DIR ?= run/sklearn-check
CDNOW       ?= ../shared/data/cdnow/CDNOW_master.txt
sklearn-check: build
	@mkdir -p run
	@test -f $(RUN_EVENTS) || ./$(BIN) gen --users $(RUN_USERS) --days $(RUN_DAYS) --seed $(RUN_SEED) --out $(RUN_EVENTS)
	/usr/bin/python3 scripts/sklearn_check.py $(SKLEARN_DIR)/synth -- --events $(RUN_EVENTS) --horizon 30d --as-of 2025-12-31
	@if [ -f $(CDNOW) ]; then /usr/bin/python3 scripts/sklearn_check.py $(SKLEARN_DIR)/cdnow -- --events $(CDNOW) \
		--user-col customer_id --time-col date --amount-col dollar_value --event-name purchase \
		--as-of 1997-10-01 --horizon 13w; else echo "CDNOW absent: skipped"; fi

cover:
	@mkdir -p bin
	$(GO) test -coverprofile=bin/cover.out ./...
	$(GO) tool cover -func=bin/cover.out | tail -n 1

clean:
	rm -rf bin run bench.txt
