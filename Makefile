# arbor: make run starts the service, make test runs every check.
GO ?= go

# The hierarchies make run starts with, unless ARBOR_HIERARCHY says;
# override with make run HIERARCHIES=... Every other ARBOR_* variable
# reaches arbor serve as it is (README, "Running it").
HIERARCHIES ?= $(if $(ARBOR_HIERARCHY),,--hierarchy ml_pipeline=experiment,model,predictions --hierarchy documents=project,document,version)

# The version make build stamps into the binary: semantic versioning, as
# the NATS service's discovery wants it, with the commit as build metadata.
VERSION ?= 0.4.0-dev+$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

.PHONY: run test build bench clean

# arbor stops gracefully on Ctrl-C and exits 0: exec hands it the terminal's
# signal without a make error on the way out.
run: build
	@exec bin/arbor serve $(HIERARCHIES)

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/arbor ./cmd/arbor

test:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -run '^$$' -fuzz FuzzHandler -fuzztime 30s ./httpapi

bench:
	$(GO) run ./cmd/arbor bench --artifacts 1000000

clean:
	rm -rf bin arbor-data

# The renderer of /docs (httpapi/docs/README.md): the npm package
# swagger-ui-dist at this version, its files copied unchanged into
# httpapi/docs, where go:embed takes them.
SWAGGER_UI_VERSION ?= 5.35.0

.PHONY: docs-assets
docs-assets:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	npm install --prefix "$$tmp" --no-save --no-audit --no-fund --ignore-scripts swagger-ui-dist@$(SWAGGER_UI_VERSION) && \
	for f in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE; do \
		cp "$$tmp/node_modules/swagger-ui-dist/$$f" httpapi/docs/ || exit 1; \
	done && echo "httpapi/docs: swagger-ui-dist $(SWAGGER_UI_VERSION)"

# The lineage browser (web/README.md): rebuild web/dist, which go:embed
# takes, from web/src with the npm packages web/package-lock.json pins.
.PHONY: ui
ui:
	cd web && npm ci --no-audit --no-fund && npm run build
