#!/bin/bash
# The llm_head dev table of docs/results.md ("Trained selectors", 2026-12-07): every question of
# HotpotQA-ircot, MuSiQue, openret-hotpotqa and openret-musique, shuffled and ranked, one
# `setsel eval` at a time (each resumable through its journal). Metrics land in OUT/<row>/metrics.json.
# Usage: bash benchmarks/llm_head_dev.sh [MODEL] [OUT]     (~27 min on a 2-core CPU with bf16)
set -u
M=${1:-smollm2-135m-setsel}; R=${2:-runs/llm_head_dev}
DATA=${SETSEL_DATA_DIR:-../shared/data}
OR=$DATA/openret_bge
SETSEL=${SETSEL:-.venv/bin/setsel}
mkdir -p "$R"
for spec in "hotpotqa-ircot::hotpotqa-ircot:shuffled" "musique::musique:shuffled" "openret:$OR/hotpotqa:openret-hotpotqa:ranked" \
            "hotpotqa-ircot::hotpotqa-ircot:ranked" "musique::musique:ranked" "openret:$OR/musique:openret-musique:ranked" \
            "openret:$OR/musique:openret-musique:shuffled" "openret:$OR/hotpotqa:openret-hotpotqa:shuffled"; do
  IFS=: read -r ds data name mode <<< "$spec"
  extra=(); [ -n "$data" ] && extra=(--data "$data")
  sh=(); [ "$mode" = shuffled ] && sh=(--shuffle-candidates 0)
  "$SETSEL" eval --dataset "$ds" "${extra[@]}" --method llm_head --k 3 --batch-size 16 --option "model=$M" "${sh[@]}" \
      --out "$R/$name-$mode" > "$R/$name-$mode.log" 2>&1
  echo "$name $mode exit $? $(date +%T)"
done
