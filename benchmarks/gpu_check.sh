#!/usr/bin/env bash
# GPU check: one short script (a few minutes) for a CUDA machine. Uses the machine's own
# python3 with torch / transformers / peft (no install: nothing can be fetched there) and
# this checkout on PYTHONPATH. Prints tokens/s and peak memory of the paper scratch preset
# (eager and compiled), the teacher-forced vs generate() ratio, and a LoRA run on a
# SmolLM2-sized model. Usage: bash benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)"
PYTHONPATH=$PWD PYTHONUNBUFFERED=1 python3 benchmarks/gpu_check.py
