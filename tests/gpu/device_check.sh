#!/usr/bin/env bash
# The device check: on an air-gapped NVIDIA box (H100/H200 class, Python 3.12, nvcc, CMake, ninja,
# PyTorch for CUDA whose nvidia wheels carry cuBLAS), build llama-cpp-python for CUDA from the
# trimmed source that tools/pack_llama_source.py packed, install lchat's needs offline, and check the
# GPU path step by step (tests/gpu/device_steps.py). Nothing is downloaded. From the repository root:
#
#     BUNDLE=gpu-bundle OUT=gpu-results bash tests/gpu/device_check.sh
#
# BUNDLE holds llama-src.tar.xz and wheels/; OUT (default ./gpu-results) receives one JSON file per
# step, build.log and verdict.json. Exits non-zero unless a CUDA device was listed and a load put
# buffers on CUDA0: a silent fall back to the CPU does not pass. A failed step is recorded and the
# check goes on. See docs/gpu.md, "Device check".
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUNDLE=${BUNDLE:-$ROOT/gpu-bundle}
OUT=${OUT:-$ROOT/gpu-results}
WORK=${WORK:-$(mktemp -d /tmp/lchat-device-check.XXXXXX)}
ARCH=${CUDA_ARCH:-90-real}
FA_QUANTS=q8_0-q8_0,q4_0-q4_0 # The kernels tools/pack_llama_source.py kept (FA_KEPT).
PY=${PYTHON:-python3}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BUNDLE=$(cd "$BUNDLE" 2>/dev/null && pwd || echo "$BUNDLE")
export OUT
cd "$ROOT" || exit 2 # The steps' paths below are the repository's.
say() { echo "== $*" | tee -a "$OUT/check.log"; }

say "device check: $(date -u +%FT%TZ), bundle $BUNDLE, work $WORK, arch $ARCH"
nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader >"$OUT/nvidia-smi.txt" 2>&1 ||
	say "nvidia-smi failed (see nvidia-smi.txt)"
command -v nvcc >/dev/null || export PATH=$PATH:/usr/local/cuda/bin
for tool in nvcc cmake ninja "$PY"; do
	command -v "$tool" >/dev/null || { say "missing: $tool"; exit 2; }
done
[ -f "$BUNDLE/llama-src.tar.xz" ] && [ -d "$BUNDLE/wheels" ] ||
	{ say "no $BUNDLE/llama-src.tar.xz or $BUNDLE/wheels: run tools/pack_llama_source.py and copy gpu-bundle/"; exit 2; }

# 1. The image's CUDA libraries (cuBLAS from the PyTorch wheels), before anything needs them.
LIBS=$("$PY" tests/gpu/device_steps.py cuda_libs --out "$OUT")
if [ -z "$LIBS" ] || ! grep -q '"ok": true' "$OUT/cuda_libs.json"; then
	say "cuBLAS or the CUDA runtime was not found (searched site-packages nvidia/*/lib and /usr/local/cuda): see cuda_libs.json"
	exit 2
fi
export LD_LIBRARY_PATH=$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
say "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
# CMake finds cuBLAS only in the toolkit, by unversioned names; the wheels ship libcublas.so.13 and
# their headers beside other CUDA headers. A shim folder holds just cuBLAS (and libcuda, where the
# driver has no unversioned name and the toolkit no stub), for -DCUDA_<lib>_LIBRARY and -I.
SHIM=$WORK/cuda-shim
mkdir -p "$SHIM/lib" "$SHIM/include"
CUBLAS_INCLUDE=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["cublas_include"])' "$OUT/cuda_libs.json")
ln -sf "$CUBLAS_INCLUDE"/cublas*.h "$SHIM/include/"
for lib in libcublas libcublasLt; do
	real=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["found"][sys.argv[2] + ".so"])' "$OUT/cuda_libs.json" "$lib")
	ln -sf "$real" "$SHIM/lib/$lib.so"
done
DRIVER=$(ldconfig -p | awk '/libcuda\.so\.1 /{print $NF; exit}')
[ -n "$DRIVER" ] && ln -sf "$DRIVER" "$SHIM/lib/libcuda.so" || say "no libcuda.so.1 in ldconfig: no NVIDIA driver?"

# 2. A venv with the carried wheels only.
"$PY" -m venv "$WORK/venv" || exit 2
VPY=$WORK/venv/bin/python
"$VPY" -m pip install --no-index --find-links "$BUNDLE/wheels" --quiet \
	scikit-build-core numpy jinja2 diskcache typing-extensions gguf nvidia-ml-py psutil platformdirs tomli-w \
	>>"$OUT/build.log" 2>&1 || { say "installing the carried wheels failed (build.log)"; exit 2; }

# 3. The CUDA wheel, built here with every core, one architecture, the kept flash-attention kernels.
tar -xJf "$BUNDLE/llama-src.tar.xz" -C "$WORK" || exit 2
SRC=$(ls -d "$WORK"/llama_cpp_python-*)
# The Makefile's cuda flavour: backends loaded at run time, AMX left out (it segfaults on these Xeons).
export CFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" CXXFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
# GGML_NATIVE=off: llama.cpp refuses GGML_NATIVE with GGML_BACKEND_DL (one generic CPU backend here).
export CMAKE_ARGS="-DGGML_CUDA=on -DGGML_BACKEND_DL=on -DGGML_NATIVE=off \
-DCUDA_cublas_LIBRARY=$SHIM/lib/libcublas.so -DCUDA_cublasLt_LIBRARY=$SHIM/lib/libcublasLt.so \
$([ -n "$DRIVER" ] && echo "-DCUDA_cuda_driver_LIBRARY=$SHIM/lib/libcuda.so") -DCMAKE_CUDA_FLAGS=-I$SHIM/include \
-DCMAKE_INSTALL_BINDIR=llama_cpp/lib -DCMAKE_CUDA_ARCHITECTURES=$ARCH -DGGML_CUDA_FA_QUANTS=$FA_QUANTS \
-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF"
export CMAKE_GENERATOR=Ninja CMAKE_BUILD_PARALLEL_LEVEL=${JOBS:-$(nproc)}
export CUDACXX=${CUDACXX:-$(command -v nvcc)}
started=$(date +%s)
"$VPY" -m pip wheel --no-build-isolation --no-deps --no-index -w "$WORK/wheel" "$SRC" >>"$OUT/build.log" 2>&1
built=$?
echo "{\"ok\": $([ $built = 0 ] && echo true || echo false), \"seconds\": $(($(date +%s) - started)), \"jobs\": $CMAKE_BUILD_PARALLEL_LEVEL, \"arch\": \"$ARCH\"}" >"$OUT/build.json"
say "build: exit $built in $(($(date +%s) - started)) s"
[ $built = 0 ] || { tail -40 "$OUT/build.log"; "$VPY" tests/gpu/device_steps.py verdict --out "$OUT"; exit 1; }
"$VPY" -m pip install --no-index --no-deps "$WORK"/wheel/llama_cpp_python-*.whl >>"$OUT/build.log" 2>&1 || exit 1

# 4. The checks, each a step of tests/gpu/device_steps.py writing $OUT/STEP.json.
export PYTHONPATH=$ROOT
for step in models backends matrix ballast decode_oom hidden_gpu ask_json stats_sample; do
	say "step $step"
	timeout 300 "$VPY" tests/gpu/device_steps.py "$step" --out "$OUT" 2>>"$OUT/check.log" ||
		echo "{\"ok\": false, \"error\": \"the step exited $?\"}" >"$OUT/$step.json"
done

# 5. The verdict: a CUDA device listed and CUDA0 buffers non-zero, else exit 1.
"$VPY" tests/gpu/device_steps.py verdict --out "$OUT"
