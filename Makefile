# Two commands do all set-up on a fresh machine:
#   make demo   install everything, build the demo collection, serve the viewer
#   make test   install everything, run the whole test suite and the checkers
# Other targets: make setup | browser | slurm | run | serve | dag | test-fast | test-cluster | lint | docs
#                | bench | bench-viewer | bench-plan | bench-resources | bench-scale | e2e | clean

PYTHON ?= python3
CORES ?= 2
PORT ?= 8080
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test test-fast test-cluster lint docs setup browser slurm run serve dag bench bench-viewer bench-plan \
	bench-resources bench-scale e2e clean

demo: run serve

setup: $(VENV)/.installed viewer/node_modules/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	# The stage modules in scripts/ are importable in this environment (the Snakefile, benchmarks, a shell)
	$(BIN)/python -c "import site, sys; open(site.getsitepackages()[0] + '/image-collection-workflow.pth', 'w').write(sys.argv[1] + '\n')" "$(CURDIR)/scripts"
	# RasterFairy, the original's grid method: its declared dependencies (moviepy, an old Pillow) are not needed
	$(BIN)/pip install --quiet --no-deps rasterfairy==1.0.6
	# MulticoreTSNE, the original's t-SNE engine: built from its PyPI source with two fixes (needs cmake, g++).
	# Optional for users; CI sets REQUIRE_MULTICORETSNE=1, so there a failed build fails and its test runs.
	$(BIN)/python -c "import MulticoreTSNE" 2>/dev/null || bash envs/install-multicoretsne.sh $(BIN)/python \
		|| { [ -z "$$REQUIRE_MULTICORETSNE" ] || exit 1; \
		     echo "note: MulticoreTSNE was not built (it needs cmake and g++); embedding method multicore-tsne is unavailable"; }
	touch $@

viewer/node_modules/.installed: viewer/package.json viewer/package-lock.json
	npm ci --prefix viewer --no-audit --no-fund
	touch $@

# Chromium for the viewer's browser tests (driven by playwright-core, which downloads no browser):
# Debian's package, installed with apt-get when neither CHROMIUM_PATH nor a chromium on PATH exists.
browser:
	@if [ -n "$$CHROMIUM_PATH" ] && [ -x "$$CHROMIUM_PATH" ]; then exit 0; fi; \
	if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "Chromium is needed for the viewer's browser tests: install it, or set CHROMIUM_PATH to its binary" >&2; \
		exit 1; \
	fi; \
	SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	echo "Installing Chromium (apt-get) for the viewer's browser tests"; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium

# SLURM for the cluster test (tests/test_cluster.py starts a one-node cluster of it): Debian's packages,
# installed with apt-get when slurmctld is missing. Where that cannot be done, the test says why and is skipped.
slurm:
	@if PATH="$$PATH:/usr/sbin" command -v slurmctld >/dev/null 2>&1; then exit 0; fi; \
	SUDO=; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
	if ! command -v apt-get >/dev/null 2>&1 || ! $$SUDO true 2>/dev/null; then \
		echo "note: SLURM is not installed and cannot be here (needs apt-get and root); the cluster test will be skipped"; \
		exit 0; \
	fi; \
	echo "Installing SLURM (apt-get: slurmctld slurmd slurm-client munge) for the cluster test"; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
		slurmctld slurmd slurm-client munge

run: setup
	$(BIN)/snakemake --cores $(CORES)

serve: setup
	PORT=$(PORT) npm start --prefix viewer

dag: setup
	$(BIN)/snakemake --dag

test: setup browser slurm lint
	$(BIN)/python -m pytest tests
	npm test --prefix viewer

# The fast loop: every test but the whole-workflow, browser, cluster and slow ones (under a minute).
test-fast: setup
	$(BIN)/python -m pytest tests -m "not workflow and not browser and not cluster and not slow"
	npm test --prefix viewer

# Only the cluster test: the workflow on a one-node SLURM cluster started (and stopped) by the test.
test-cluster: setup slurm
	$(BIN)/python -m pytest tests/test_cluster.py -v

# Checkers: Snakemake's linter, ruff on the Python, snakefmt on the Snakefile, the generated docs.
lint: setup
	$(BIN)/snakemake --lint --quiet all
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile
	$(BIN)/python scripts/config_reference.py --check

# The configuration reference (docs/configuration.md), generated from the schema's descriptions.
docs: setup
	$(BIN)/python scripts/config_reference.py

# Only the viewer's browser tests (builds their small collection, then drives Chromium).
e2e: setup browser
	$(BIN)/python -m pytest tests/test_viewer_e2e.py -s

# How long planning takes (snakemake -n) on an up-to-date 13,000-image collection (needs ../shared/data/amnh-sample).
bench-plan: setup
	$(BIN)/python bench/plan_time.py

# The whole workflow and the viewer at COUNT images (13000, 100000, 1000000; needs ../shared/data/amnh-sample).
COUNT ?= 13000
bench-scale: setup browser
	$(BIN)/python bench/scale.py --count $(COUNT)

# Time and peak memory of every rule on a 13,000-image build: the figures behind profiles/slurm.
bench-resources: setup
	$(BIN)/python bench/rule_resources.py

bench: setup
	$(BIN)/python bench/demo_run.py

# The viewer's load and filter timings on a 13,000-item site (needs ../shared/data/amnh-sample).
bench-viewer: setup browser
	$(BIN)/python bench/viewer_perf.py

clean:
	rm -rf results .snakemake data/demo
