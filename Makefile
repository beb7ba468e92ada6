# The two set-up commands of README.md. Both install missing Debian packages first
# (a dpkg check, instant when nothing is missing), then build and run. The tests read
# Fashion-MNIST too (the real IDX files, and the demo against the hub imitation).

BUILD_PACKAGES := pkg-config libopenblas-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev
DEMO_PACKAGES  := dataset-fashion-mnist
RELEASE        := swift build -c release --product clipcl
CLIPCL         := .build/release/clipcl

.PHONY: demo test build deps deps-demo clean

deps:
	@tools/ensure-packages.sh $(BUILD_PACKAGES)

deps-demo:
	@tools/ensure-packages.sh $(BUILD_PACKAGES) $(DEMO_PACKAGES)

build: deps
	$(RELEASE)

demo: deps-demo
	$(RELEASE)
	$(CLIPCL) demo

test: deps-demo
	swift build --build-tests
	CLIPCL_PYTHON="$$(tools/python-interop-venv.sh)" swift test

clean:
	rm -rf .build
