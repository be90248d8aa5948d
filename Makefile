# connvault developer commands. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The approved Go toolchain: every go command below runs it (the go command fetches
# it through the module proxy). `make GOTOOLCHAIN=go1.x.y target` overrides it.
export GOTOOLCHAIN := go1.27.3

# Generator and checker versions, pinned in one place.
OAPI_CODEGEN := github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2
SQLC := github.com/sqlc-dev/sqlc/cmd/sqlc@v1.31.1
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0
# The vulnerability database govulncheck reads, offline: the Go vulnerability
# database's own module at this commit, indexed by scripts/vulndb into .data/vulndb/.
VULNDB := golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018
# Vulnerabilities govulncheck may find called without failing verify. Both are echo/v4
# advisories with no fixed v4 release and no symbol data for v4, so any use of echo
# matches. GO-2026-6875 is echo's Proxy middleware, not used; GO-2026-6872 is RealIP
# trusting X-Forwarded-For, which server.New turns off (e.IPExtractor = ExtractIPDirect).
# Fixed only in echo/v5; drop them when the server moves to it.
GOVULNCHECK_ACCEPT := GO-2026-6872 GO-2026-6875

# Dev/test API key identities printed by `make run`.
DEV_ORG := int_devorganization000000000
DEV_USER := usr_devuser00000000

DEVDB := scripts/devdb.sh
# The database the user configured, if any; `make test` only recreates the
# test database of the project-local Postgres, never one it was given.
USER_DATABASE_URL := $(CONNVAULT_DATABASE_URL)
# Start (or reuse) the local Postgres and export its URLs, the encryption key
# and CONNVAULT_PG_BIN. Two steps: `eval "$$(cmd)"` would hide cmd's failure.
BOOTSTRAP := devenv="$$($(DEVDB) up)"; eval "$$devenv"

.PHONY: help generate verify build run test fuzz bench db-up db-down clean docs-screenshot

# The TypeScript client's toolchain, pinned by its package-lock.json.
clients/typescript/node_modules: clients/typescript/package.json clients/typescript/package-lock.json
	cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error
	@touch clients/typescript/node_modules

# npm tools (Spectral, Redoc) pinned by package-lock.json.
node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch node_modules

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

generate: ## regenerate gen/ (oapi-codegen) and store/sqlcdb (sqlc) from openapi.yaml and queries/
	@for cfg in gen/oapi-codegen.yaml gen/client.yaml; do \
		if [ -f "$$cfg" ]; then echo "go run $(OAPI_CODEGEN) -config $$cfg openapi.yaml"; \
			go run $(OAPI_CODEGEN) -config "$$cfg" openapi.yaml; \
		else echo "generate: no $$cfg, skipping oapi-codegen for it"; fi; \
	done
	@if [ -f sqlc.yaml ]; then echo "go run $(SQLC) generate"; go run $(SQLC) generate; \
	else echo "generate: no sqlc.yaml, skipping sqlc"; fi
	$(MAKE) --no-print-directory clients/typescript/node_modules
	cd clients/typescript && npx --no-install openapi-typescript ../../openapi.yaml -o src/schema.d.ts --silent

verify: generate ## fail if generated code is stale, go.mod untidy, code unformatted, go vet, staticcheck or govulncheck complain
	@changed="$$(git status --porcelain -- gen store clients/typescript/src)"; \
	if [ -n "$$changed" ]; then \
		echo "generated code is stale; run 'make generate' and commit:"; echo "$$changed"; \
		git --no-pager diff --stat -- gen store clients/typescript/src; exit 1; fi
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	go mod tidy -diff
	go vet ./...
	go run $(STATICCHECK) ./...
	@db="$$(go run ./scripts/vulndb $(VULNDB))"; \
	echo "go run $(GOVULNCHECK) -db file://$$db -format json ./... | go run ./scripts/vulndb check $(GOVULNCHECK_ACCEPT)"; \
	go run $(GOVULNCHECK) -db "file://$$db" -format json ./... | go run ./scripts/vulndb check $(GOVULNCHECK_ACCEPT)
	$(MAKE) --no-print-directory node_modules
	npx --no-install spectral lint --fail-severity=warn --ruleset .spectral.yaml openapi.yaml
	@cmp -s node_modules/redoc/bundles/redoc.standalone.js server/docs/redoc.standalone.js || \
		{ echo "server/docs/redoc.standalone.js differs from the pinned redoc package: run npm run vendor:redoc"; exit 1; }
	@echo "verify: generated code fresh, go.mod tidy, gofmt, go vet, staticcheck and govulncheck clean, spec lint clean, vendored Redoc matches package.json"

build: ## build bin/connvault
	go build -o bin/connvault ./cmd/connvault

run: build ## start a local Postgres if needed, migrate, print a dev API key and serve on :8000
	@$(BOOTSTRAP); \
	bin/connvault migrate; \
	key="$$(bin/connvault apikey create --org $(DEV_ORG) --user $(DEV_USER) --name dev --scopes read,write,use,admin | tail -n1)"; \
	[ -n "$$key" ] || { echo "make run: 'connvault apikey create' printed no key" >&2; exit 1; }; \
	addr="$${CONNVAULT_ADDR:-:8000}"; \
	echo; echo "  connvault dev API key: $$key"; \
	echo "  try: curl -s http://localhost:$${addr##*:}/v1/organizations/connections -H 'Authorization: Bearer $$key'"; echo; \
	exec bin/connvault serve

test: ## start a local Postgres if needed, run the whole suite against it, then check spec coverage
	@$(BOOTSTRAP); \
	if [ -z "$(USER_DATABASE_URL)" ]; then \
		echo "test: a fresh connvault_test database on the local Postgres"; \
		"$$CONNVAULT_PG_BIN/psql" -X -q "$$CONNVAULT_DATABASE_URL" -v ON_ERROR_STOP=1 \
			-c "DROP DATABASE IF EXISTS connvault_test WITH (FORCE)" -c "CREATE DATABASE connvault_test"; \
	fi; \
	export CONNVAULT_DATABASE_URL="$$CONNVAULT_TEST_DATABASE_URL"; \
	export CONNVAULT_SPEC_COVERAGE="$$(mktemp)"; \
	$(MAKE) --no-print-directory clients/typescript/node_modules; \
	(cd clients/typescript && npx --no-install tsc --noEmit && npx --no-install tsc); \
	export CONNVAULT_TS_ROUNDTRIP="$$PWD/clients/typescript/dist/roundtrip.js"; \
	export CONNVAULT_CHROMIUM="$$(scripts/chromium.sh)"; \
	go test -race -count=1 -timeout 15m ./...; \
	go run ./cmd/speccoverage "$$CONNVAULT_SPEC_COVERAGE"; \
	rm -f "$$CONNVAULT_SPEC_COVERAGE"

FUZZTIME ?= 30s
fuzz: ## run each HTTP fuzz target (create, patch, list, identifiers) for FUZZTIME (default 30s) on the local Postgres
	@$(BOOTSTRAP); \
	export CONNVAULT_DATABASE_URL="$$CONNVAULT_TEST_DATABASE_URL"; \
	for target in FuzzCreate FuzzPatch FuzzList FuzzIdentifier; do \
		echo "fuzz: $$target for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -parallel 2 ./server || exit 1; \
	done

bench: ## seed 100,000 connections, load the real server and its SQL floor; writes bench/results/
	@if [ ! -d bench/cmd/loadgen ]; then echo "make bench: benchmarks are not written yet (no bench/cmd/loadgen)" >&2; exit 1; fi
	@$(BOOTSTRAP); \
	go run ./bench/cmd/loadgen $(BENCH_FLAGS)

docs-screenshot: ## refresh docs/api-reference.png from a real browser
	@$(BOOTSTRAP); \
	export CONNVAULT_DATABASE_URL="$$CONNVAULT_TEST_DATABASE_URL" CONNVAULT_CHROMIUM="$$(scripts/chromium.sh)" \
		CONNVAULT_DOCS_SCREENSHOT="$$PWD/docs/api-reference.png"; \
	go test -count=1 -run TestDocsRenderInChromium ./server

db-up: ## start the local Postgres and print its URLs (also in .data/env)
	@$(DEVDB) up

db-down: ## stop the local Postgres
	@$(DEVDB) down

clean: db-down ## stop the local Postgres and remove build output
	rm -rf bin
