# Image-collection visualizer: a folder of photographs -> an explorable mosaic and its web viewer.
#
#   demo_collection  (demo only) sample photographs       data/demo/images/, items.csv, subjects.csv
#   iiif_manifests   (source.iiif) collections followed   source/manifests.csv
#   iiif_fetch       pictures downloaded, per shard of     source/images/shard-<i>-of-<K>/, records/
#                    the manifests
#   iiif_records     the records joined                   source/items.csv, subjects.csv, rejected.csv
#   image_shard      the collection listed, per shard     images/shard-<i>-of-<N>.csv
#   images           ... and the lists joined once        images.csv            (id,path,size,mtime_ns)
#   extract          images -> CNN, in N shards           features/raw-<i>-of-<N>.npz
#   features         shards joined -> PCA                 features.npz, rejected.csv
#   embedding        features -> 2-D (t-SNE or UMAP)      embedding.csv         (id,x,y)
#   grid             one cell per image (fresh, or keeping grid.csv              (id,col,row,placed)
#                    the published layout: layout.mode)
#   mosaic           each image fitted to a cell, in M    cells/shard-<i>-of-<M>/<id>.jpg
#                    shards
#   tiles            the shards' cells gathered on the    tiles/ (Deep Zoom, IIIF level 0, preview.jpg),
#                    grid -> one pyramid                  mosaic.json (its geometry)
#   metadata         CSVs joined with the grid            items.json, metadata_report.csv, subjects.csv
#   quality          how well the layout keeps neighbours layout_quality.json
#   neighbours       each image's most similar images     neighbours.json (the viewer's "more like this")
#   hotspots         connected regions of alike pictures  hotspots.json, hotspots.csv
#                    on the grid, named from the catalogue
#   arrangement      the pictures by date, by subject     arrangements/<name>/grid.csv, groups.json
#   arrangement_tiles  ... each as its own pyramid       arrangements/<name>/tiles/, mosaic.json
#   manifest         IIIF Presentation 3 (tiles.iiif)     iiif-manifest.json
#   site             viewer + tiles + JSON, static        site/ (swapped in whole when complete), site.json,
#                                                         published_layout.csv (what a stable build keeps)
#
# Outputs go to results/<collection.name>/ and are keyed by image id (the file name without extension).
# Each stage is one script in scripts/ that also runs on its own (python scripts/<stage>.py -h).
# Run: snakemake --cores 2        Plan: snakemake -n        Picture: snakemake --dag | dot -Tsvg
# On a cluster: snakemake --profile profiles/slurm (see README); rules that take seconds stay on the host.
#
# Planning stays cheap: this file imports only the standard library, PyYAML and jsonschema (through
# scripts/workflow_config.py and scripts/images.py, which `make setup` puts on the virtual
# environment's path), and no rule has one input per image: stages read the list in images.csv.

import json
import shlex
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

try:
    import workflow_config
    from common import PipelineError
except ImportError as error:
    raise WorkflowError(
        f"{error}: the workflow's modules in scripts/ are not importable; run `make setup`, "
        "or add the scripts/ folder to PYTHONPATH"
    )

min_version("9.0")

BASE = Path(workflow.basedir)


# config.yaml is the default collection. A file given with --configfile replaces it whole instead of
# being merged into it, so another collection never inherits the demo's settings.
if not workflow.overwrite_configfiles:

    configfile: BASE / "config.yaml"


try:
    workflow_config.check(config, BASE / "schemas" / "config.schema.yaml")
except PipelineError as error:
    raise WorkflowError(str(error))

NAME = config["collection"]["name"]
OUT = f"results/{NAME}"
DEMO = config.get("demo")
SOURCE = config.get("source")
SOURCE_DIR = workflow_config.source_folder(config)
FEATURES = config["features"]
SHARDS = FEATURES["shards"]
LAYOUT = config["layout"]
STABLE = LAYOUT["mode"] == "stable"
# A stable build's jobs are small (only the new cells and the changed tiles are made) and mostly start up
# or wait on the disk: each takes one thread, so that two run at once (layout quality, the longest, beside
# the rest) where with all the threads each they would run one after another.
UPDATE_THREADS = 1 if STABLE else config["jobs"]
# The layout a stable build keeps: the last published one (the site rule keeps a copy beside the results),
# or one the user pinned. Its later changes do not make the grid rerun (ancient): a stable grid reruns
# when the pictures change, and then places only the added ones.
PUBLISHED_LAYOUT = f"{OUT}/published_layout.csv"
PREVIOUS_LAYOUT = LAYOUT["previous"] or PUBLISHED_LAYOUT
# The tiles of unchanged cells are taken from the published site's (tiles, layout.csv and thumbs).
PUBLISHED_SITE = f"{OUT}/site"
MOSAIC_SHARDS = config["mosaic"]["shards"]
# The mosaic's cells, one folder per shard (the tiles and site stages gather them).
CELLS = expand(f"{OUT}/cells/shard-{{shard}}-of-{MOSAIC_SHARDS}", shard=range(MOSAIC_SHARDS))
# Planning looks at the collection once, in the main process. A job's own process (a cluster job, which
# parses this file again) is told what to run and reads the image lists: it neither lists the collection
# nor touches the published site.
if workflow.is_main_process:
    try:
        PLANNED = workflow_config.planned_images(config)
        workflow_config.check_metadata_files(config)
    except PipelineError as error:
        raise WorkflowError(str(error))
    SHARD_DIGESTS = workflow_config.shard_digests(PLANNED, SHARDS)
    IMAGE_COUNT = (
        workflow_config.listed_image_count(f"{SOURCE_DIR}/items.csv")
        if SOURCE
        else workflow_config.planned_image_count(PLANNED)
    )
    if STABLE and not Path(PREVIOUS_LAYOUT).is_file():
        raise WorkflowError(
            f"layout.mode is stable but there is no layout to keep: {PREVIOUS_LAYOUT} does not exist. "
            "Build the first layout with layout.mode: fresh, or set layout.previous to a saved layout.csv"
        )
    # A receipt for a site that is no longer there (deleted by hand) is forgotten, so the site is built again.
    workflow_config.forget_lost_site(Path(OUT) / "site.json", Path(OUT) / "site" / "index.html")
else:
    IMAGE_COUNT = workflow_config.listed_image_count(f"{OUT}/images.csv") if config["tiles"]["iiif"] == "auto" else None
# IIIF level 0 files and the manifest (tiles.iiif; auto: for collections up to 200,000 images).
IIIF = workflow_config.iiif_wanted(config["tiles"]["iiif"], IMAGE_COUNT)
# Arrangements beside similarity, each with its own pyramid (auto: date and subject up to 200,000 images).
ARRANGEMENTS = workflow_config.arrangements_wanted(config["arrangements"], IMAGE_COUNT)
HOTSPOTS = config["hotspots"]


wildcard_constraints:
    shard=r"\d+",
    arrangement="date|subject",


def script(stage):
    """The path of a stage's script, passed to its rule as a param."""
    return str(BASE / "scripts" / f"{stage}.py")


# The published site (its receipt) and every rule's output: a missing one, such as the output of a failed
# or killed job, which Snakemake deletes, is made again and everything after it reruns, so a build never
# ends on a result older than its inputs (Snakemake would otherwise leave a missing intermediate alone).
rule all:
    input:
        f"{OUT}/site.json",
        [f"{SOURCE_DIR}/items.csv", f"{SOURCE_DIR}/rejected.csv"] if SOURCE else [],
        expand(f"{OUT}/images/shard-{{shard}}-of-{SHARDS}.csv", shard=range(SHARDS)),
        f"{OUT}/images.csv",
        [] if FEATURES["embeddings"] else expand(f"{OUT}/features/raw-{{shard}}-of-{SHARDS}.npz", shard=range(SHARDS)),
        f"{OUT}/features.npz",
        [] if STABLE else f"{OUT}/embedding.csv",
        f"{OUT}/grid.csv",
        CELLS,
        f"{OUT}/tiles",
        f"{OUT}/mosaic.json",
        f"{OUT}/items.json",
        f"{OUT}/layout_quality.json",
        f"{OUT}/neighbours.json",
        [f"{OUT}/iiif-manifest.json"] if IIIF else [],
        [f"{OUT}/iiif-manifest-cells.json"] if IIIF and config["site"]["annotated_manifest"] else [],
        [f"{OUT}/hotspots.json"] if HOTSPOTS["count"] else [],
        expand(f"{OUT}/arrangements/{{arrangement}}/tiles", arrangement=ARRANGEMENTS),


# Rules that take seconds run on the submitting host, not in a cluster job (the site also needs Node.js
# to bundle the viewer); metadata, quality, neighbours and hotspots go to the cluster as one job (group
# annotate).
localrules:
    all,
    image_shard,
    images,
    manifest,
    arrangement,
    site,


if DEMO:

    rule demo_collection:
        output:
            images=directory(f"{DEMO['folder']}/images"),
            records=f"{DEMO['folder']}/items.csv",
            subjects=f"{DEMO['folder']}/subjects.csv",
        log:
            f"{OUT}/logs/demo_collection.log",
        benchmark:
            f"{OUT}/benchmarks/demo_collection.tsv"
        conda:
            "envs/demo.yaml"
        params:
            script=script("demo_collection"),
            folder=lambda wildcards, output: Path(output.records).parent,
            per_source=DEMO["per_source"],
        shell:
            "python {params.script} --out {params.folder:q} --per-source {params.per_source} 2>&1 | tee {log}"

    # The demo's generator takes seconds: it runs on the submitting host too.
    localrules:
        demo_collection,


if SOURCE:
    SOURCE_SHARDS = SOURCE["shards"]
    SOURCE_REFERENCES = SOURCE["iiif"] if isinstance(SOURCE["iiif"], list) else [SOURCE["iiif"]]
    # How the downloads behave, the same for the listing and the fetches.
    SOURCE_HTTP = f"--timeout {SOURCE['timeout']} --retries {SOURCE['retries']} --per-host {SOURCE['per_host']}"

    # Remote documents are read once (the download cache): editing the list reruns this rule, and
    # `snakemake -R iiif_manifests` reads changed collections again (see README, From IIIF).
    rule iiif_manifests:
        input:
            [reference for reference in SOURCE_REFERENCES if "://" not in reference],
        output:
            f"{SOURCE_DIR}/manifests.csv",
        log:
            f"{OUT}/logs/iiif_manifests.log",
        conda:
            "envs/iiif.yaml"
        params:
            script=script("iiif_source"),
            references=" ".join(shlex.quote(reference) for reference in SOURCE_REFERENCES),
            depth=SOURCE["depth"],
            cache=SOURCE["cache"],
            http=SOURCE_HTTP,
        shell:
            "python {params.script} --list {params.references} --out {output} --depth {params.depth}"
            " --cache {params.cache:q} {params.http} 2>&1 | tee {log}"

    rule iiif_fetch:
        input:
            f"{SOURCE_DIR}/manifests.csv",
        output:
            records=f"{SOURCE_DIR}/records/shard-{{shard}}-of-{SOURCE_SHARDS}.csv",
            images=directory(f"{SOURCE_DIR}/images/shard-{{shard}}-of-{SOURCE_SHARDS}"),
        log:
            f"{OUT}/logs/iiif_fetch-{{shard}}.log",
        benchmark:
            f"{OUT}/benchmarks/iiif_fetch-{{shard}}.tsv"
        conda:
            "envs/iiif.yaml"
        params:
            script=script("iiif_source"),
            shards=SOURCE_SHARDS,
            size=SOURCE["size"],
            canvases=SOURCE["canvases"],
            subjects=json.dumps(SOURCE["subjects"]),
            dates=json.dumps(SOURCE["dates"]),
            languages=json.dumps(SOURCE["languages"]),
            cache=SOURCE["cache"],
            http=SOURCE_HTTP,
        shell:
            "python {params.script} --fetch {input} --shard {wildcards.shard}/{params.shards}"
            " --images {output.images} --out {output.records} --size {params.size} --canvases {params.canvases}"
            " --subject-labels {params.subjects:q} --date-labels {params.dates:q} --languages {params.languages:q}"
            " --cache {params.cache:q} {params.http} 2>&1 | tee {log}"

    rule iiif_records:
        input:
            manifests=f"{SOURCE_DIR}/manifests.csv",
            records=expand(f"{SOURCE_DIR}/records/shard-{{shard}}-of-{SOURCE_SHARDS}.csv", shard=range(SOURCE_SHARDS)),
            images=expand(f"{SOURCE_DIR}/images/shard-{{shard}}-of-{SOURCE_SHARDS}", shard=range(SOURCE_SHARDS)),
        output:
            records=f"{SOURCE_DIR}/items.csv",
            subjects=f"{SOURCE_DIR}/subjects.csv",
            rejected=f"{SOURCE_DIR}/rejected.csv",
        log:
            f"{OUT}/logs/iiif_records.log",
        conda:
            "envs/iiif.yaml"
        params:
            script=script("iiif_source"),
        shell:
            "python {params.script} --join {input.records} --manifests {input.manifests} --image-folders {input.images}"
            " --items {output.records} --subjects {output.subjects} --rejected {output.rejected} 2>&1 | tee {log}"

    localrules:
        iiif_manifests,
        iiif_records,


rule image_shard:
    input:
        # The demo's pictures are made by the rule above, a IIIF source's fetched; a real collection's exist already.
        [f"{DEMO['folder']}/images"] if DEMO else [f"{SOURCE_DIR}/items.csv"] if SOURCE else [],
    output:
        f"{OUT}/images/shard-{{shard}}-of-{SHARDS}.csv",
    log:
        f"{OUT}/logs/images-{{shard}}.log",
    conda:
        "envs/images.yaml"
    params:
        script=script("images"),
        pattern=config["images"],
        formats=" ".join(config["image_formats"]),
        shards=SHARDS,
        # A shard's list, and so its extraction, is rewritten only when its own images change.
        listing=lambda wildcards: SHARD_DIGESTS[int(wildcards.shard)],
    shell:
        "python {params.script} --in {params.pattern:q} --formats {params.formats}"
        " --shard {wildcards.shard}/{params.shards} --out {output}"
        " 2>&1 | tee {log}"


rule images:
    input:
        expand(f"{OUT}/images/shard-{{shard}}-of-{SHARDS}.csv", shard=range(SHARDS)),
    output:
        f"{OUT}/images.csv",
    log:
        f"{OUT}/logs/images.log",
    conda:
        "envs/images.yaml"
    params:
        script=script("images"),
    shell:
        "python {params.script} --join {input} --out {output} 2>&1 | tee {log}"


def extraction_options():
    options = [
        f"--model {FEATURES['model']}",
        f"--weights {FEATURES['weights']!r}",
        f"--batch {FEATURES['batch_size']}",
        f"--device {FEATURES['device']}",
        f"--precision {FEATURES['precision']}",
        f"--runtime {FEATURES['runtime']}",
        f"--formats {' '.join(config['image_formats'])}",
    ]
    options += [f"--layer {FEATURES['layer']}"] if FEATURES["layer"] else []
    options += [f"--size {FEATURES['input_size']}"] if FEATURES["input_size"] else []
    options += [f"--crops {' '.join(map(str, FEATURES['centre_crops']))}"] if FEATURES["centre_crops"] else []
    options += ["--flip"] if FEATURES["flip"] else []
    options += [f"--cache {FEATURES['cache']!r}"] if FEATURES["cache"] else []
    return " ".join(options)


rule extract:
    input:
        f"{OUT}/images/shard-{{shard}}-of-{SHARDS}.csv",
    output:
        f"{OUT}/features/raw-{{shard}}-of-{SHARDS}.npz",
    log:
        f"{OUT}/logs/extract-{{shard}}.log",
    benchmark:
        f"{OUT}/benchmarks/extract-{{shard}}.tsv"
    conda:
        "envs/features.yaml"
    threads: FEATURES["threads"] or config["jobs"]
    resources:
        mem_mb=FEATURES["mem_mb"],
        gpu=1 if FEATURES["device"] == "cuda" else 0,
    params:
        script=script("extract"),
        options=extraction_options(),
    shell:
        "python {params.script} --images {input} --out {output}" " {params.options} --jobs {threads} 2>&1 | tee {log}"


rule features:
    input:
        vectors=FEATURES["embeddings"] or expand(f"{OUT}/features/raw-{{shard}}-of-{SHARDS}.npz", shard=range(SHARDS)),
        images=[f"{OUT}/images.csv"] if FEATURES["embeddings"] else [],
    output:
        features=f"{OUT}/features.npz",
        rejected=f"{OUT}/rejected.csv",
    log:
        f"{OUT}/logs/features.log",
    benchmark:
        f"{OUT}/benchmarks/features.tsv"
    conda:
        "envs/features.yaml"
    params:
        script=script("features"),
        source=lambda wildcards, input: f"--images {input.images} --embeddings" if input.images else "--gather",
        pca=FEATURES["pca"],
        l2="--l2" if FEATURES["l2_normalize"] else "",
    shell:
        "python {params.script} {params.source} {input.vectors:q} --out {output.features} --rejected {output.rejected}"
        " --pca {params.pca} {params.l2} 2>&1 | tee {log}"


EMBEDDING = config["embedding"]


rule embedding:
    input:
        f"{OUT}/features.npz",
    output:
        f"{OUT}/embedding.csv",
    log:
        f"{OUT}/logs/embedding.log",
    benchmark:
        f"{OUT}/benchmarks/embedding.tsv"
    conda:
        "envs/embedding.yaml"
    threads: config["jobs"]
    params:
        script=script("embedding"),
        method=EMBEDDING["method"],
        neighbours=EMBEDDING["neighbours"],
        min_dist=EMBEDDING["min_dist"],
        perplexity=EMBEDDING["perplexity"],
        angle=EMBEDDING["angle"],
        rate=EMBEDDING["learning_rate"],
        iterations=EMBEDDING["iterations"],
        sample=EMBEDDING["sample"],
        seed=EMBEDDING["random_state"],
    shell:
        "python {params.script} --in {input} --out {output} --method {params.method}"
        " --perplexity {params.perplexity} --angle {params.angle} --neighbours {params.neighbours}"
        " --min-dist {params.min_dist} --learning-rate {params.rate} --iterations {params.iterations}"
        " --sample {params.sample} --seed {params.seed} --jobs {threads} 2>&1 | tee {log}"


GRID = config["grid"]


rule grid:
    input:
        # A stable layout places the added pictures by their features; a fresh one lays out the embedding
        # (lap, rasterfairy) or the features (flas).
        layout=f"{OUT}/features.npz" if STABLE or GRID["method"] == "flas" else f"{OUT}/embedding.csv",
        features=f"{OUT}/features.npz",
        previous=[ancient(PREVIOUS_LAYOUT)] if STABLE else [],
    output:
        f"{OUT}/grid.csv",
    log:
        f"{OUT}/logs/grid.log",
    benchmark:
        f"{OUT}/benchmarks/grid.tsv"
    conda:
        "envs/grid.yaml"
    threads: 1
    params:
        script=script("grid"),
        method=GRID["method"],
        size=GRID["size"],
        aspect=GRID["aspect"],
        block=GRID["block"],
        swap_radius=GRID["swap_radius"],
        swap_sweeps=GRID["swap_sweeps"],
        seed=GRID["random_state"],
        spare=LAYOUT["spare"],
        stable=lambda wildcards, input: (
            f"--previous {shlex.quote(input.previous[0])}" + (" --compact" if LAYOUT["compact"] else "")
            if STABLE
            else ""
        ),
    shell:
        "python {params.script} --in {input.layout} --out {output} --method {params.method}"
        " --grid-size {params.size} --aspect {params.aspect} --block {params.block} --features {input.features}"
        " --swap-radius {params.swap_radius} --swap-sweeps {params.swap_sweeps} --seed {params.seed}"
        " --spare {params.spare} {params.stable} 2>&1 | tee {log}"


rule mosaic:
    input:
        grid=f"{OUT}/grid.csv",
        images=f"{OUT}/images.csv",
    output:
        directory(f"{OUT}/cells/shard-{{shard}}-of-{MOSAIC_SHARDS}"),
    log:
        f"{OUT}/logs/mosaic-{{shard}}.log",
    benchmark:
        f"{OUT}/benchmarks/mosaic-{{shard}}.tsv"
    conda:
        "envs/tiles.yaml"
    threads: UPDATE_THREADS
    params:
        script=script("mosaic"),
        size=config["tiles"]["size"],
        fit=config["mosaic"]["fit"],
        background=",".join(map(str, config["mosaic"]["background"])),
        shards=MOSAIC_SHARDS,
        cache=f"--cache {shlex.quote(config['mosaic']['cache'])}" if config["mosaic"]["cache"] else "",
    shell:
        "python {params.script} --in {input.grid} --images {input.images} --out {output} --cell-size {params.size}"
        " --fit {params.fit} --background {params.background} --shard {wildcards.shard}/{params.shards}"
        " {params.cache} --jobs {threads} 2>&1 | tee {log}"


# Tiles gathers the mosaic's shards: one job, as it writes one pyramid.
rule tiles:
    input:
        grid=f"{OUT}/grid.csv",
        cells=CELLS,
        previous=[ancient(PUBLISHED_SITE)] if STABLE and Path(PUBLISHED_SITE, "layout.csv").is_file() else [],
    output:
        tiles=directory(f"{OUT}/tiles"),
        geometry=f"{OUT}/mosaic.json",
    log:
        f"{OUT}/logs/tiles.log",
    benchmark:
        f"{OUT}/benchmarks/tiles.tsv"
    conda:
        "envs/tiles.yaml"
    threads: UPDATE_THREADS
    params:
        script=script("tiles"),
        size=config["tiles"]["size"],
        overlap=config["tiles"]["overlap"],
        format=config["tiles"]["format"],
        quality=config["tiles"]["quality"],
        background=",".join(map(str, config["mosaic"]["background"])),
        iiif=f"--iiif {config['site']['url']}tiles/iiif" if IIIF else "",
        previous=lambda wildcards, input: f"--previous {shlex.quote(input.previous[0])}" if input.previous else "",
    shell:
        "python {params.script} --in {input.grid} --cells {input.cells} --out {output.tiles}"
        " --geometry {output.geometry} --cell-size {params.size} --tile-size {params.size}"
        " --overlap {params.overlap} --format {params.format} --quality {params.quality}"
        " --background {params.background} {params.iiif} {params.previous} --jobs {threads} 2>&1 | tee {log}"


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
    log:
        f"{OUT}/logs/metadata.log",
    benchmark:
        f"{OUT}/benchmarks/metadata.tsv"
    group:
        "annotate"
    conda:
        "envs/metadata.yaml"
    params:
        script=script("metadata"),
        subjects=lambda wildcards, input: input.subjects[0] if input.subjects else "",
        preset=METADATA["preset"],
        top=METADATA["subjects_top"],
        max_unmatched=METADATA["max_unmatched"],
        years=METADATA["years"],
        columns=json.dumps(METADATA["columns"]),
        subject_columns=json.dumps(METADATA["subject_columns"]),  # null: the preset's
        fold="--fold-subjects" if METADATA["fold_subject_case"] else "",
        encoding=METADATA["encoding"],
        delimiter=METADATA["delimiter"],
        facets=json.dumps(METADATA["facets"]),
    shell:
        "python {params.script} --in {input.records:q} --subjects={params.subjects:q} --preset {params.preset}"
        " --columns={params.columns:q} --subject-columns={params.subject_columns:q} {params.fold}"
        " --grid {input.grid} --rejected {input.rejected} --out {output.json} --report {output.report}"
        " --subjects-out {output.subjects} --subjects-top {params.top} --max-unmatched {params.max_unmatched}"
        " --years {params.years} --encoding {params.encoding:q} --delimiter {params.delimiter:q}"
        " --facets={params.facets:q} 2>&1 | tee {log}"


rule quality:
    input:
        features=f"{OUT}/features.npz",
        embedding=[] if STABLE else f"{OUT}/embedding.csv",
        grid=f"{OUT}/grid.csv",
        subjects=f"{OUT}/subjects.csv",
    output:
        report(f"{OUT}/layout_quality.json", caption="report/layout_quality.rst", category="Layout quality"),
    log:
        f"{OUT}/logs/quality.log",
    benchmark:
        f"{OUT}/benchmarks/quality.tsv"
    group:
        "annotate"
    conda:
        "envs/grid.yaml"
    threads: UPDATE_THREADS
    params:
        script=script("quality"),
        embedding=lambda wildcards, input: f"--embedding {input.embedding}" if input.embedding else "",
    shell:
        "python {params.script} --features {input.features} {params.embedding} --grid {input.grid}"
        " --subjects {input.subjects:q} --out {output} --jobs {threads} 2>&1 | tee {log}"


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
    group:
        "annotate"
    conda:
        "envs/grid.yaml"
    threads: UPDATE_THREADS
    params:
        script=script("neighbours"),
        neighbours=config["neighbours"]["count"],
        method=config["neighbours"]["method"],
    shell:
        "python {params.script} --features {input.features} --grid {input.grid} --out {output}"
        " --count {params.neighbours} --method {params.method} --jobs {threads} 2>&1 | tee {log}"


rule hotspots:
    input:
        features=f"{OUT}/features.npz",
        grid=f"{OUT}/grid.csv",
        json=f"{OUT}/items.json",
        subjects=f"{OUT}/subjects.csv",
        labels=[HOTSPOTS["labels"]] if HOTSPOTS["labels"] else [],
    output:
        hotspots=f"{OUT}/hotspots.json",
        members=f"{OUT}/hotspots.csv",
    log:
        f"{OUT}/logs/hotspots.log",
    benchmark:
        f"{OUT}/benchmarks/hotspots.tsv"
    group:
        "annotate"
    conda:
        "envs/grid.yaml"
    params:
        script=script("hotspots"),
        hotspots=HOTSPOTS["count"],
        labels=lambda wildcards, input: f"--labels {shlex.quote(input.labels[0])}" if input.labels else "",
    shell:
        "python {params.script} --features {input.features} --grid {input.grid} --items {input.json}"
        " --subjects {input.subjects:q} --count {params.hotspots} {params.labels} --out {output.hotspots}"
        " --members {output.members} 2>&1 | tee {log}"


def published_arrangement(wildcards):
    """A stable build keeps the published arrangement's cells and reuses its tiles (as the grid and tiles do)."""
    folder = Path(PUBLISHED_SITE, "arrangements", wildcards.arrangement)
    return [ancient(str(folder))] if STABLE and (folder / "layout.csv").is_file() else []


# The same pictures on other grids (by date, by subject), each made into a pyramid from the mosaic's cells.
rule arrangement:
    input:
        json=f"{OUT}/items.json",
        previous=published_arrangement,
    output:
        grid=f"{OUT}/arrangements/{{arrangement}}/grid.csv",
        groups=f"{OUT}/arrangements/{{arrangement}}/groups.json",
    log:
        f"{OUT}/logs/arrangement-{{arrangement}}.log",
    conda:
        "envs/site.yaml"
    params:
        script=script("arrangements"),
        spare=LAYOUT["spare"],
        previous=lambda wildcards, input: f"--previous {shlex.quote(input.previous[0])}" if input.previous else "",
    shell:
        "python {params.script} --items {input.json} --kind {wildcards.arrangement} --out {output.grid}"
        " --groups {output.groups} --spare {params.spare} {params.previous} 2>&1 | tee {log}"


rule arrangement_tiles:
    input:
        grid=f"{OUT}/arrangements/{{arrangement}}/grid.csv",
        cells=CELLS,
        previous=published_arrangement,
        previous_cells=(
            [ancient(f"{PUBLISHED_SITE}/thumbs")] if STABLE and Path(PUBLISHED_SITE, "thumbs").is_dir() else []
        ),
    output:
        tiles=directory(f"{OUT}/arrangements/{{arrangement}}/tiles"),
        geometry=f"{OUT}/arrangements/{{arrangement}}/mosaic.json",
    log:
        f"{OUT}/logs/arrangement_tiles-{{arrangement}}.log",
    benchmark:
        f"{OUT}/benchmarks/arrangement_tiles-{{arrangement}}.tsv"
    conda:
        "envs/tiles.yaml"
    threads: UPDATE_THREADS
    params:
        script=script("tiles"),
        size=config["tiles"]["size"],
        format=config["tiles"]["format"],
        quality=config["tiles"]["quality"],
        background=",".join(map(str, config["mosaic"]["background"])),
        previous=lambda wildcards, input: (
            f"--previous {shlex.quote(input.previous[0])} --previous-cells {shlex.quote(input.previous_cells[0])}"
            if input.previous and input.previous_cells
            else ""
        ),
    shell:
        "python {params.script} --in {input.grid} --cells {input.cells} --out {output.tiles}"
        " --geometry {output.geometry} --cell-size {params.size} --tile-size {params.size} --overlap 0"
        " --format {params.format} --quality {params.quality} --background {params.background}"
        " {params.previous} --jobs {threads} 2>&1 | tee {log}"


ANNOTATED = config["site"]["annotated_manifest"]


rule manifest:
    input:
        tiles=f"{OUT}/tiles",
        geometry=f"{OUT}/mosaic.json",
        json=f"{OUT}/items.json",
    output:
        lean=f"{OUT}/iiif-manifest.json",
        annotated=[f"{OUT}/iiif-manifest-cells.json"] if ANNOTATED else [],
    log:
        f"{OUT}/logs/manifest.log",
    benchmark:
        f"{OUT}/benchmarks/manifest.tsv"
    conda:
        "envs/site.yaml"
    params:
        script=script("manifest"),
        url=config["site"]["url"],
        title=config["collection"]["title"],
        description=config["collection"]["description"],
        language=config["collection"]["language"] or "",
        annotated=lambda wildcards, output: f"--annotated {output.annotated[0]}" if output.annotated else "",
    shell:
        "python {params.script} --tiles {input.tiles} --geometry {input.geometry} --items {input.json}"
        " --url {params.url:q} --out {output.lean} {params.annotated} --title={params.title:q}"
        " --description={params.description:q} --language={params.language:q} 2>&1 | tee {log}"


VIEWER = BASE / "viewer"


rule site:
    input:
        layout=f"{OUT}/grid.csv",
        tiles=f"{OUT}/tiles",
        geometry=f"{OUT}/mosaic.json",
        cells=CELLS,
        json=f"{OUT}/items.json",
        neighbours=f"{OUT}/neighbours.json",
        manifest=[f"{OUT}/iiif-manifest.json"] if IIIF else [],
        annotated=[f"{OUT}/iiif-manifest-cells.json"] if IIIF and ANNOTATED else [],
        hotspots=[f"{OUT}/hotspots.json", f"{OUT}/hotspots.csv"] if HOTSPOTS["count"] else [],
        arrangements=[
            f"{OUT}/arrangements/{name}/{part}"
            for name in ARRANGEMENTS
            for part in ("grid.csv", "groups.json", "tiles", "mosaic.json")
        ],
        viewer=[VIEWER / "build.mjs", VIEWER / "package.json", *sorted((VIEWER / "src").rglob("*.*"))],
    output:
        # The site itself, results/<name>/site/, is not an output: Snakemake would delete it before the
        # job runs. The script replaces it only once the new one is complete, then writes this receipt.
        receipt=f"{OUT}/site.json",
    log:
        f"{OUT}/logs/site.log",
    benchmark:
        f"{OUT}/benchmarks/site.tsv"
    conda:
        "envs/site.yaml"
    params:
        script=script("site"),
        folder=lambda wildcards, output: Path(output.receipt).with_name("site"),
        viewer=VIEWER,
        name=NAME,
        title=config["collection"]["title"],
        description=config["collection"]["description"],
        about=json.dumps(config["collection"]["about"]),
        manifest=lambda wildcards, input: f"--manifest {input.manifest}" if input.manifest else "",
        annotated=lambda wildcards, input: f"--annotated-manifest {input.annotated}" if input.annotated else "",
        hotspots=lambda wildcards, input: (
            f"--hotspots {input.hotspots[0]} --hotspot-members {input.hotspots[1]}" if input.hotspots else ""
        ),
        arrangements=" ".join(f"--arrangement {name} {OUT}/arrangements/{name}" for name in ARRANGEMENTS),
        chunk_size=config["site"]["chunk_size"],
        published_layout=PUBLISHED_LAYOUT,
    shell:
        "python {params.script} --tiles {input.tiles} --geometry {input.geometry} --cells {input.cells}"
        " --items {input.json} --neighbours {input.neighbours} {params.manifest} {params.annotated}"
        " {params.hotspots} {params.arrangements}"
        " --out {params.folder}"
        " --chunk-size {params.chunk_size} --layout {input.layout} --published-layout {params.published_layout}"
        " --receipt {output.receipt}"
        " --viewer {params.viewer} --name {params.name} --title={params.title:q}"
        " --description={params.description:q} --about={params.about:q} 2>&1 | tee {log}"
