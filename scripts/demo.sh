#!/usr/bin/env bash
# The whole pipeline on the sample district (贵溪市, 360681) into out/.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
ST=".venv/bin/surveytools"
OUT=${OUT:-out}
mkdir -p "$OUT"
echo "== 1. 创建调查项目库 / create the survey project =="
$ST project init "$OUT/guixi.gpkg" --profile cjt --county 360681 --title "贵溪市城区数字化城管基础数据（示例）" --overwrite
echo
echo "== 2. 项目库概况 / project summary =="
$ST project info "$OUT/guixi.gpkg"
echo
echo "输出目录 / output folder: $OUT/"
ls -la "$OUT"
