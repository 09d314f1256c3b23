#!/usr/bin/env bash
# The training path on a GPU machine, in one go (issue 13, item 4): the CUDA tests, then
# benchmarks/train_throughput.py --device cuda, eager and from CUDA graphs. Run from the
# repository root; writes its logs under $OUT (or ./gpu_out). Needs python3 with torch
# (CUDA), numpy and tqdm; atlas.tasks also imports pydantic, PyYAML and safetensors, which
# come from the wheel folder $GPU_WHEELS (default build/gpu_wheels: `pip download` them there
# beforehand) when they are missing.
# Every part runs even if an earlier one fails; the exit status is the tests'.
set -u
OUT=${OUT:-gpu_out}
WHEELS=${GPU_WHEELS:-build/gpu_wheels}
mkdir -p "$OUT"
python3 -V
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())"
DEPS=/tmp/atlas_gpu_deps
if ! python3 -c "import pydantic, yaml, safetensors, pytest" 2>/dev/null; then
    # A wheel unpacked onto the path is installed as far as imports go; no pip needed.
    tag=$(python3 -c "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')")
    mkdir -p "$DEPS"
    for wheel in "$WHEELS"/*.whl; do
        case "$wheel" in
            *-py3-none-any.whl | *-abi3-* | *-"$tag"-"$tag"-*) python3 -m zipfile -e "$wheel" "$DEPS" ;;
        esac
    done
fi
export PYTHONPATH=".:$DEPS"
export ATLAS_REFERENCE_DIR=${ATLAS_REFERENCE_DIR:-build/gpu_reference}

timeout 100 python3 -m pytest -q -p no:cacheprovider -rs \
    tests/unit/test_fused_cells.py tests/unit/test_training_speed.py 2>&1 | tee "$OUT/gpu_tests.txt" | tail -25
tests=${PIPESTATUS[0]}

timeout 170 python3 benchmarks/train_throughput.py --device cuda --counts 16,64,256 \
    --epochs 2 --sample 4 2>&1 | tee "$OUT/gpu_throughput.txt"
# the same with each training step replayed from a CUDA graph (TrainingConfig.cuda_graphs)
timeout 170 python3 benchmarks/train_throughput.py --device cuda --counts 16,64,256 \
    --epochs 2 --sample 4 --cuda-graphs 2>&1 | tee "$OUT/gpu_throughput_graphs.txt"
exit "$tests"
