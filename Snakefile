# Image-collection visualizer: a folder of photographs -> an explorable mosaic and its web viewer.
#
#   demo_collection  (only for the built-in demo) sample photographs -> data/demo/
#   extract          images -> CNN, in N shards         results/<name>/features/raw-<i>-of-<N>.npz
#   features         shards joined -> PCA               results/<name>/features.npz, rejected.csv
#   embedding        features -> 2-D (t-SNE or UMAP)    results/<name>/embedding.csv   (id,x,y)
#   grid             one cell per image (lap on the      results/<name>/grid.csv        (id,col,row)
#                    2-D points, or flas on features)
#   mosaic           each image fitted to a cell       results/<name>/cells/<id>.jpg
#   tiles            cells on the grid -> one pyramid:  results/<name>/tiles/mosaic.dzi, iiif/info.json,
#                    Deep Zoom + IIIF level 0 + preview  preview.jpg
#   metadata         CSVs joined with the grid -> JSON  results/<name>/items.json, metadata_report.csv,
#                    (any export, via a column map)       subjects.csv
#   quality          how well grid and embedding keep    results/<name>/layout_quality.json
#                    neighbours (DPQ16, 10-NN, subjects)
#   neighbours       each image's 12 most similar        results/<name>/neighbours.json
#                    (the viewer's "more like this")
#   manifest         IIIF Presentation 3, cells as      results/<name>/iiif-manifest.json
#                    annotations (if tiles.iiif)
#   site             viewer + tiles + JSON, static      results/<name>/site/
#
# Each stage is one script in scripts/ that also runs on its own (python scripts/<stage>.py -h).
# Run: snakemake --cores 2        Plan: snakemake -n        Picture: snakemake --dag | dot -Tsvg

import json
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")

BASE = Path(workflow.basedir)
sys.path.insert(0, str(BASE / "scripts"))
import features  # noqa: E402
import workflow_config  # noqa: E402
from common import PipelineError  # noqa: E402


# config.yaml is the default collection. A file given with --configfile replaces it whole instead of
# being merged into it, so another collection never inherits the demo's settings.
if not workflow.overwrite_configfiles:

    configfile: BASE / "config.yaml"


try:
    workflow_config.check(config, BASE / "schemas" / "config.schema.yaml")
except PipelineError as error:
    raise WorkflowError(str(error))
validate(config, BASE / "schemas" / "config.schema.yaml")  # fills in defaults

NAME = config["collection"]["name"]
OUT = f"results/{NAME}"
SCRIPTS = BASE / "scripts"
VIEWER = BASE / "viewer"
DEMO = config.get("demo")

try:
    if DEMO:
        import demo_collection

        IMAGES = [f"{DEMO['folder']}/images/{key}.jpg" for key in demo_collection.demo_ids(DEMO["per_source"])]
        workflow_config.check_grid(config, len(IMAGES))
    else:
        IMAGES = list(workflow_config.collection_images(config).values())
except PipelineError as error:
    raise WorkflowError(str(error))


rule all:
    input:
        f"{OUT}/site",
        f"{OUT}/layout_quality.json",


if DEMO:

    rule demo_collection:
        output:
            images=IMAGES,
            records=f"{DEMO['folder']}/items.csv",
            subjects=f"{DEMO['folder']}/subjects.csv",
        params:
            per_source=DEMO["per_source"],
        benchmark:
            f"{OUT}/benchmarks/demo_collection.tsv"
        conda:
            "envs/demo.yaml"
        shell:
            "python {SCRIPTS}/demo_collection.py -out {DEMO[folder]} -per-source {params.per_source}"


FEATURES = config["features"]
SHARDS = FEATURES["shards"]


def shard_images(wildcards):
    """The images of one extraction shard (a stable split by id, see features.shard_of)."""
    return [path for path in IMAGES if features.shard_of(Path(path).stem, SHARDS) == int(wildcards.shard)]


def extraction_options():
    options = [f"-model {FEATURES['model']}", f"-weights {FEATURES['weights']!r}", f"-batch {FEATURES['batch_size']}",
               f"-device {FEATURES['device']}", f"-precision {FEATURES['precision']}",
               f"-runtime {FEATURES['runtime']}"]
    options += [f"-layer {FEATURES['layer']}"] if FEATURES["layer"] else []
    options += [f"-size {FEATURES['input_size']}"] if FEATURES["input_size"] else []
    options += [f"-crops {' '.join(map(str, FEATURES['centre_crops']))}"] if FEATURES["centre_crops"] else []
    options += ["-flip"] if FEATURES["flip"] else []
    options += [f"-cache {FEATURES['cache']!r}"] if FEATURES["cache"] else []
    return " ".join(options)


rule extract:
    input:
        shard_images,
    output:
        f"{OUT}/features/raw-{{shard}}-of-{SHARDS}.npz",
    params:
        images=config["images"],
        options=extraction_options(),
    threads: FEATURES["threads"] or config["jobs"]
    resources:
        mem_mb=FEATURES["mem_mb"],
        gpu=1 if FEATURES["device"] == "cuda" else 0,
    log:
        f"{OUT}/logs/extract-{{shard}}.log",
    benchmark:
        f"{OUT}/benchmarks/extract-{{shard}}.tsv"
    conda:
        "envs/features.yaml"
    shell:
        "python {SCRIPTS}/features.py -in {params.images:q} -shard {wildcards.shard}/{SHARDS} -raw {output}"
        " {params.options} -jobs {threads} 2>&1 | tee {log}"


rule features:
    input:
        vectors=FEATURES["embeddings"] or expand(f"{OUT}/features/raw-{{shard}}-of-{SHARDS}.npz", shard=range(SHARDS)),
        images=IMAGES if FEATURES["embeddings"] else [],
    output:
        features=f"{OUT}/features.npz",
        rejected=f"{OUT}/rejected.csv",
    params:
        source=f"-in {config['images']!r} -embeddings" if FEATURES["embeddings"] else "-gather",
        pca=FEATURES["pca"],
        l2="-l2" if FEATURES["l2_normalize"] else "",
    log:
        f"{OUT}/logs/features.log",
    benchmark:
        f"{OUT}/benchmarks/features.tsv"
    conda:
        "envs/features.yaml"
    shell:
        "python {SCRIPTS}/features.py {params.source} {input.vectors} -out {output.features} -rejected {output.rejected}"
        " -pca {params.pca} {params.l2} 2>&1 | tee {log}"


rule embedding:
    input:
        f"{OUT}/features.npz",
    output:
        f"{OUT}/embedding.csv",
    params:
        method=config["embedding"]["method"],
        neighbours=config["embedding"]["neighbours"],
        min_dist=config["embedding"]["min_dist"],
        perplexity=config["embedding"]["perplexity"],
        angle=config["embedding"]["angle"],
        rate=config["embedding"]["learning_rate"],
        iterations=config["embedding"]["iterations"],
        seed=config["embedding"]["random_state"],
    threads: config["jobs"]
    log:
        f"{OUT}/logs/embedding.log",
    benchmark:
        f"{OUT}/benchmarks/embedding.tsv"
    conda:
        "envs/embedding.yaml"
    shell:
        "python {SCRIPTS}/embedding.py -in {input} -out {output} -method {params.method}"
        " -perplexity {params.perplexity} -angle {params.angle} -neighbours {params.neighbours} -min-dist {params.min_dist}"
        " -rate {params.rate} -iter {params.iterations} -seed {params.seed} -jobs {threads} 2>&1 | tee {log}"


rule grid:
    input:
        layout=f"{OUT}/features.npz" if config["grid"]["method"] == "flas" else f"{OUT}/embedding.csv",
        features=f"{OUT}/features.npz",
    output:
        f"{OUT}/grid.csv",
    params:
        method=config["grid"]["method"],
        size=config["grid"]["size"],
        aspect=config["grid"]["aspect"],
        block=config["grid"]["block"],
        swap_radius=config["grid"]["swap_radius"],
        seed=config["grid"]["random_state"],
    log:
        f"{OUT}/logs/grid.log",
    benchmark:
        f"{OUT}/benchmarks/grid.tsv"
    conda:
        "envs/grid.yaml"
    shell:
        "python {SCRIPTS}/grid.py -in {input.layout} -out {output} -method {params.method} -grid {params.size}"
        " -aspect {params.aspect} -block {params.block} -features {input.features}"
        " -swap-radius {params.swap_radius} -seed {params.seed} 2>&1 | tee {log}"


rule mosaic:
    input:
        grid=f"{OUT}/grid.csv",
        images=IMAGES,
    output:
        directory(f"{OUT}/cells"),
    params:
        images=config["images"],
        size=config["tiles"]["size"],
        fit=config["mosaic"]["fit"],
        background=",".join(map(str, config["mosaic"]["background"])),
    threads: config["jobs"]
    log:
        f"{OUT}/logs/mosaic.log",
    benchmark:
        f"{OUT}/benchmarks/mosaic.tsv"
    conda:
        "envs/tiles.yaml"
    shell:
        "python {SCRIPTS}/mosaic.py -in {input.grid} -image {params.images:q} -out {output} -tile {params.size}"
        " -fit {params.fit} -background {params.background} -jobs {threads} 2>&1 | tee {log}"


rule tiles:
    input:
        grid=f"{OUT}/grid.csv",
        cells=f"{OUT}/cells",
    output:
        directory(f"{OUT}/tiles"),
    params:
        size=config["tiles"]["size"],
        overlap=config["tiles"]["overlap"],
        format=config["tiles"]["format"],
        quality=config["tiles"]["quality"],
        background=",".join(map(str, config["mosaic"]["background"])),
        iiif=f"-iiif {config['site']['url']}tiles/iiif" if config["tiles"]["iiif"] else "",
    threads: config["jobs"]
    log:
        f"{OUT}/logs/tiles.log",
    benchmark:
        f"{OUT}/benchmarks/tiles.tsv"
    conda:
        "envs/tiles.yaml"
    shell:
        "python {SCRIPTS}/tiles.py -in {input.grid} -cells {input.cells} -out {output} -tile {params.size}"
        " -tsize {params.size} -overlap {params.overlap} -format {params.format} -quality {params.quality}"
        " -background {params.background} {params.iiif} -jobs {threads} 2>&1 | tee {log}"


METADATA = config["metadata"]


rule metadata:
    input:
        grid=f"{OUT}/grid.csv",
        rejected=f"{OUT}/rejected.csv",
        records=METADATA["items"],
        subjects=[METADATA["subjects"]] if METADATA["subjects"] else [],
    output:
        json=f"{OUT}/items.json",
        report=f"{OUT}/metadata_report.csv",
        subjects=f"{OUT}/subjects.csv",
    params:
        top=METADATA["subjects_top"],
        max_unmatched=METADATA["max_unmatched"],
        years=METADATA["years"],
        subjects=METADATA["subjects"] or "",
        columns=json.dumps(METADATA["columns"]),
        subject_columns=json.dumps(METADATA["subject_columns"]),  # null: the preset's
        fold="-fold-subjects" if METADATA["fold_subject_case"] else "",
    log:
        f"{OUT}/logs/metadata.log",
    benchmark:
        f"{OUT}/benchmarks/metadata.tsv"
    conda:
        "envs/metadata.yaml"
    shell:
        "python {SCRIPTS}/metadata.py -in {input.records:q} -sub={params.subjects:q} -preset {METADATA[preset]}"
        " -columns={params.columns:q} -subject-columns={params.subject_columns:q} {params.fold} -grid {input.grid}"
        " -rejected {input.rejected} -out {output.json} -report {output.report} -subjects-out {output.subjects}"
        " -subjects-top {params.top}"
        " -max-unmatched {params.max_unmatched} -years {params.years} 2>&1 | tee {log}"


rule quality:
    input:
        features=f"{OUT}/features.npz",
        embedding=f"{OUT}/embedding.csv",
        grid=f"{OUT}/grid.csv",
        subjects=f"{OUT}/subjects.csv",
    output:
        report(f"{OUT}/layout_quality.json", caption="report/layout_quality.rst", category="Layout quality"),
    log:
        f"{OUT}/logs/quality.log",
    benchmark:
        f"{OUT}/benchmarks/quality.tsv"
    conda:
        "envs/grid.yaml"
    shell:
        "python {SCRIPTS}/quality.py -features {input.features} -embedding {input.embedding} -grid {input.grid}"
        " -sub {input.subjects:q} -out {output} 2>&1 | tee {log}"


rule neighbours:
    input:
        features=f"{OUT}/features.npz",
        grid=f"{OUT}/grid.csv",
    output:
        f"{OUT}/neighbours.json",
    log:
        f"{OUT}/logs/neighbours.log",
    benchmark:
        f"{OUT}/benchmarks/neighbours.tsv"
    conda:
        "envs/grid.yaml"
    shell:
        "python {SCRIPTS}/neighbours.py -features {input.features} -grid {input.grid} -out {output} -k 12"
        " 2>&1 | tee {log}"


rule manifest:
    input:
        tiles=f"{OUT}/tiles",
        json=f"{OUT}/items.json",
    output:
        f"{OUT}/iiif-manifest.json",
    params:
        url=config["site"]["url"],
        title=config["collection"]["title"],
        description=config["collection"]["description"],
    log:
        f"{OUT}/logs/manifest.log",
    benchmark:
        f"{OUT}/benchmarks/manifest.tsv"
    conda:
        "envs/site.yaml"
    shell:
        "python {SCRIPTS}/manifest.py -tiles {input.tiles} -items {input.json} -url {params.url:q} -out {output}"
        " -title={params.title:q} -description={params.description:q} 2>&1 | tee {log}"


rule site:
    input:
        tiles=f"{OUT}/tiles",
        cells=f"{OUT}/cells",
        json=f"{OUT}/items.json",
        neighbours=f"{OUT}/neighbours.json",
        manifest=[f"{OUT}/iiif-manifest.json"] if config["tiles"]["iiif"] else [],
        viewer=[VIEWER / "build.mjs", VIEWER / "package.json", *sorted((VIEWER / "src").rglob("*.*"))],
    output:
        directory(f"{OUT}/site"),
    params:
        name=NAME,
        title=config["collection"]["title"],
        description=config["collection"]["description"],
        about=json.dumps(config["collection"]["about"]),
        manifest=f"-manifest {OUT}/iiif-manifest.json" if config["tiles"]["iiif"] else "",
    log:
        f"{OUT}/logs/site.log",
    benchmark:
        f"{OUT}/benchmarks/site.tsv"
    conda:
        "envs/site.yaml"
    shell:
        "python {SCRIPTS}/site.py -tiles {input.tiles} -cells {input.cells} -items {input.json}"
        " -neighbours {input.neighbours}"
        " {params.manifest} -out {output} -viewer {VIEWER} -name {params.name} -title={params.title:q}"
        " -description={params.description:q} -about={params.about:q} 2>&1 | tee {log}"
