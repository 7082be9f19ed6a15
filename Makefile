# Two commands do all set-up on a fresh machine:
#   make demo   install everything, build the demo collection, serve the viewer
#   make test   install everything, run the whole test suite
# Other targets: make setup | run | serve | dag | bench | clean

PYTHON ?= python3
CORES ?= 2
PORT ?= 8080
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test setup run serve dag bench clean

demo: run serve

setup: $(VENV)/.installed viewer/node_modules/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	# RasterFairy, the original's grid method: its declared dependencies (moviepy, an old Pillow) are not needed
	$(BIN)/pip install --quiet --no-deps rasterfairy==1.0.6
	# MulticoreTSNE, the original's t-SNE engine: built from its PyPI source with two fixes (needs cmake, g++)
	$(BIN)/python -c "import MulticoreTSNE" 2>/dev/null || bash envs/install-multicoretsne.sh $(BIN)/python \
		|| echo "note: MulticoreTSNE was not built (it needs cmake and g++); embedding method multicore-tsne is unavailable"
	touch $@

viewer/node_modules/.installed: viewer/package.json viewer/package-lock.json
	npm ci --prefix viewer --no-audit --no-fund
	touch $@

run: setup
	$(BIN)/snakemake --cores $(CORES)

serve: setup
	PORT=$(PORT) npm start --prefix viewer

dag: setup
	$(BIN)/snakemake --dag

test: setup
	$(BIN)/python -m pytest tests
	npm test --prefix viewer

bench: setup
	$(BIN)/python bench/demo_run.py

clean:
	rm -rf results .snakemake data/demo
