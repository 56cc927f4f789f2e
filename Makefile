# arbor: make run starts the service, make test runs every check.
GO ?= go

# The hierarchies make run starts with; override with make run HIERARCHIES=...
HIERARCHIES ?= --hierarchy ml_pipeline=experiment,model,predictions --hierarchy documents=project,document,version

.PHONY: run test build bench clean

run:
	$(GO) run ./cmd/arbor serve --data-dir ./arbor-data $(HIERARCHIES)

build:
	$(GO) build -o bin/arbor ./cmd/arbor

test:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -run '^$$' -fuzz FuzzHandler -fuzztime 30s ./httpapi

bench:
	$(GO) run ./cmd/arbor bench --artifacts 1000000

clean:
	rm -rf bin arbor-data
