#!/usr/bin/env bash
# A learned judge in one go, sized to a time budget: mine -> train on as many pairs as fit ->
# export -> score the held-out sets -> compare with the trivial baselines. Written for a GPU
# (15 minutes of a lent one, or a team's own); the same script runs on a CPU (--smoke).
#
#   scripts/judge_on_gpu.sh BASE OUT [--train-seconds N] [--data DIR] [--fixes DIR] [--smoke]
#
# BASE   the base model: default | PATH.gguf | hf:owner/repo/file.gguf | a Hugging Face folder
#        (docs/training.md, "Supported bases")
# OUT    a new folder: run/ (checkpoints, log.jsonl: the learning curve), judge/ (judge.json,
#        adapter.gguf), eval-*.txt|json (the judge beside length, layout), summary.md
# --train-seconds N  the training's own budget (default 480: with mining done beforehand,
#        loading, export and scoring the whole run fits 15 minutes of an H100)
# --data DIR   mined data made beforehand (`winnow mine … --out DIR`; default: mined now,
#        ~6 min on 2 cores, seconds on 16)
# --fixes DIR  real fixes (`winnow fixes OLD_STDLIB NEW_STDLIB --out DIR`), scored when given
# --smoke      60 functions of the stdlib, 20 s of training, 48 held-out candidates: the plumbing
#
# Needs the [train] extras (a CUDA torch on a GPU machine) and a sandbox (bubblewrap) for
# the mining and the labels. Nothing here is downloaded except an hf: base.
set -euo pipefail

usage() { sed -n '5,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 2 ] || usage
BASE=$1 OUT=$2; shift 2
SECONDS_BUDGET=480 DATA="" FIXES="" SMOKE=0
while [ $# -gt 0 ]; do
  case $1 in
    --train-seconds) SECONDS_BUDGET=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --fixes) FIXES=$2; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    *) usage ;;
  esac
done
[ -e "$OUT" ] && { echo "judge_on_gpu: $OUT exists; give a new folder" >&2; exit 2; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=${WINNOW:-winnow}
PY=${PYTHON:-python}
step() { echo "== $1 $(date +%T)" | tee -a "$OUT/steps.log"; }

# Where it trains: bf16 on a GPU that has it, else fp32 (a CPU).
MP=$($PY -c 'import torch; print("bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no")')
# The schedule decays over STEPS: on a GPU, 16 pairs a step, all layers, 2000 steps (about 10
# epochs of the mined pairs); on a CPU, docs/training.md's 8-minute recipe (top 6 layers).
if [ "$SMOKE" = 1 ]; then
  SECONDS_BUDGET=20 MAX_FUNCTIONS=60 STEPS=4 EVAL=2 BATCH=2 LAYERS=6 HE_CANDIDATES=48 SAMPLE=4
elif [ "$MP" = bf16 ]; then
  MAX_FUNCTIONS=3000 STEPS=2000 EVAL=100 BATCH=16 LAYERS=0 HE_CANDIDATES=0 SAMPLE=24
else
  MAX_FUNCTIONS=3000 STEPS=300 EVAL=50 BATCH=2 LAYERS=6 HE_CANDIDATES=0 SAMPLE=24
fi

if [ -z "$DATA" ]; then
  step "mine (the standard library and this environment's packages; 20% of packages held out)"
  TREES=$($PY -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
  [ "$SMOKE" = 1 ] || TREES="$TREES $($PY -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  # shellcheck disable=SC2086 # two folders, no spaces in either
  $W mine $TREES --out "$OUT/mined" --max-functions $MAX_FUNCTIONS --variants 6 \
      --heldout-share 0.2 --seed 0 --quiet > "$OUT/mine.log" 2>&1
  DATA=$OUT/mined
fi

step "held-out sets"
# HumanEval/100-163: references, rewrites and single-point bugs, labelled by their tests.
$W augment --problems humaneval:heldout --per-problem 8 --label --out "$OUT/heldout-all.jsonl" > "$OUT/augment.log" 2>&1
$PY - "$OUT" "$DATA" "$HE_CANDIDATES" "$SAMPLE" <<'PY'
import json, random, sys
out, data, he_limit, sample = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rows = [json.loads(line) for line in open(f"{out}/heldout-all.jsonl")]
if he_limit:
    rows = rows[:he_limit]
with open(f"{out}/heldout-labels.jsonl", "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
# A seeded sample of the held-out mined functions (whole packages no training step saw).
mined = [json.loads(line) for line in open(f"{data}/heldout.jsonl")]
ids = sorted({r["problem_id"] for r in mined})
random.Random(0).shuffle(ids)
keep = set(ids[:sample])
with open(f"{out}/mined-heldout-sample.jsonl", "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in mined if r["problem_id"] in keep)
print(f"humaneval:heldout {len(rows)} candidates; mined held-out {len(keep)} functions")
PY

step "train ($SECONDS_BUDGET s of steps, mixed precision: $MP)"
$W train --labels "$DATA/train.jsonl" --problems "$DATA/problems.jsonl" --out "$OUT/run" --base "$BASE" \
    --batching task --task-max 2 --batch-size $BATCH --pairwise-weight 1.0 --select pairwise \
    --max-task-tokens 192 --max-candidate-tokens 320 --max-steps $STEPS --epochs 10 --warmup 0.03 --lr 4e-4 \
    --eval-every $EVAL --val-fraction 0.01 --patience 0 --seed 0 --time-budget "$SECONDS_BUDGET" \
    --lora-layers $LAYERS --mixed-precision "$MP" --json > "$OUT/train.json" 2> "$OUT/train.log"

step "export"
$W export --run "$OUT/run" --out "$OUT/judge" --dtype f16 --json > "$OUT/export.json" 2> "$OUT/export.log"

score() { # name problems candidates
  step "score $1"
  $W judge score --problems "$2" --candidates "$3" --judge "$OUT/judge/judge.json" --strategy judge \
      --out "$OUT/s-$1.jsonl" --quiet > "$OUT/score-$1.log" 2>&1
  $W eval --labels "$3" --scores "$OUT/s-$1.jsonl" --name-a judge --baselines --problems "$2" --json > "$OUT/eval-$1.json"
  $W eval --labels "$3" --scores "$OUT/s-$1.jsonl" --name-a judge --baselines --problems "$2" > "$OUT/eval-$1.txt"
}
score humaneval humaneval:heldout "$OUT/heldout-labels.jsonl"
score mined "$DATA/problems.jsonl" "$OUT/mined-heldout-sample.jsonl"
if [ -n "$FIXES" ]; then score fixes "$FIXES/problems.jsonl" "$FIXES/labels.jsonl"; fi

step "summary"
$PY - "$OUT" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
train = json.load(open(f"{out}/train.json"))
lines = [f"# {os.path.basename(out)}", "",
         f"{train['steps']} steps, {train['last_metrics'].get('examples_seen')} examples, "
         f"{train['elapsed_s']} s of training; best validation pairwise {train['best_val_pairwise']} "
         f"at step {train['best_step']}", "",
         "| held-out set | judge pairwise / AUC | length pairwise / AUC | layout pairwise / AUC |",
         "|---|---:|---:|---:|"]
for path in sorted(glob.glob(f"{out}/eval-*.json")):
    report = json.load(open(path))
    cells = []
    for name in ("judge", "length", "layout"):
        m = report.get("all", {}).get(name, {})
        cells.append(f"{m.get('pairwise', float('nan')):.3f} / {m.get('auc', float('nan')):.3f}")
    lines.append(f"| {os.path.basename(path)[5:-5]} | " + " | ".join(cells) + " |")
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
