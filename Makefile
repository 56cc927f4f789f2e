# arbor: make run starts the service, make test runs every check.
GO ?= go
BIN := bin/arbor

.PHONY: run test build bench fmt vet clean

run:
	$(GO) run ./cmd/arbor serve --data-dir ./arbor-data

build:
	$(GO) build -o $(BIN) ./cmd/arbor

test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

bench:
	$(GO) run ./cmd/arbor bench

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin arbor-data
