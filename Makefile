# bhatti: `make serve` runs the daemon, `make test` runs every test. Both install what is missing.
SWIFT      ?= swift
DATA_DIR   ?= /var/lib/bhatti
IMAGE_DIR  ?= $(DATA_DIR)/images/default
# The image `make serve` builds (recipes/$(SERVE_IMAGE).json) and boots by default.
SERVE_IMAGE ?= dev
LISTEN     ?= 127.0.0.1:8080
LOHAR      := .build/static/release/lohar

.PHONY: deps build build-debug lohar image image-debug image-serve serve test unit-test bench clean install uninstall

deps:
	@./scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product bhatti

build-debug: deps
	$(SWIFT) build --product bhatti

# The guest agent: fully static, so it runs as PID 1 in any rootfs.
lohar: deps
	$(SWIFT) build -c release --product lohar -Xswiftc -static-executable --scratch-path .build/static

image: build lohar
	.build/release/bhatti image build --out $(IMAGE_DIR) --lohar $(LOHAR) --init-source guest/init.c --verbose

image-debug: build-debug lohar
	.build/debug/bhatti image build --out $(IMAGE_DIR) --lohar $(LOHAR) --init-source guest/init.c --verbose

# A recipe's image into $(DATA_DIR)/images/NAME: built beside it and renamed into place when done, so
# a running daemon never sees it half built; rerun, only the steps whose inputs changed run again.
image-serve: build lohar
	.build/release/bhatti image build $(SERVE_IMAGE) --data-dir $(DATA_DIR) --recipe recipes/$(SERVE_IMAGE).json --lohar $(LOHAR) --init-source guest/init.c --verbose

# The daemon with the dev image (Node.js, npm, a C toolchain, Python venvs) as the default; it also
# takes the kernel and lohar for imports from it.
serve: image-serve
	.build/release/bhatti serve --data-dir $(DATA_DIR) --image-dir $(DATA_DIR)/images/$(SERVE_IMAGE) --default-image $(SERVE_IMAGE) --listen $(LISTEN)

# Unit tests and real-VM tests (QEMU; TCG where KVM cannot boot a stock kernel): every suite runs
# whatever fails, and the last line says what failed (scripts/test.sh).
test: image-debug
	SWIFT=$(SWIFT) IMAGE_DIR=$(IMAGE_DIR) LOHAR=$(LOHAR) ./scripts/test.sh

bench: image
	@./scripts/install-deps.sh --bench
	BHATTI_BENCH_IMAGE_DIR=$(IMAGE_DIR) ./bench/run.sh

# A systemd host: /usr/local/bin/bhatti, bhatti.service, /etc/bhatti/config.json, the image in $(DATA_DIR).
install: build lohar
	DATA_DIR=$(DATA_DIR) ./scripts/install.sh

uninstall:
	DATA_DIR=$(DATA_DIR) ./scripts/uninstall.sh

clean:
	rm -rf .build
