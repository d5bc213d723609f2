#!/usr/bin/env bash
# The whole pipeline on the sample district (贵溪市城区, 360681) into out/.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
ST=".venv/bin/surveytools"
OUT=${OUT:-out}
P="$OUT/guixi.gpkg"
B=sample_data/guixi/base.gpkg
mkdir -p "$OUT"
step() { echo; echo "== $1 =="; }
step "1. 创建调查项目库 / create the survey project"
$ST project init "$P" --profile cjt --county 360681 --title "贵溪市城区数字化城管基础数据（示例）" --overwrite
step "2. 划分并编码单元网格 / divide and code unit grids"
$ST grid divide "$P" --communities "$B:communities" --lines "$B:roads" --lines "$B:rivers" \
    --lines "$B:railways" --lines "$B:water" --workload "$B:buildings"
step "2a. 部件普查入库 / component intake (A GeoPackage, B GBK Shapefile, C CSV, D GCJ-02 workbook)"
S=sample_data/guixi/survey
M=sample_data/guixi/mappings   # the field and class mappings the deliveries need (proposed, then edited)
$ST components intake "$P" "$S/components_a.gpkg" --mapping "$M/components_a.yaml"
$ST components intake "$P" "$S/components_b_gbk.shp" --mapping "$M/components_b_gbk.yaml"
$ST components intake "$P" "$S/components_c.csv" --mapping "$M/components_c.yaml"
$ST components intake "$P" "$S/components_d.xlsx" --coords gcj02 --mapping "$M/components_d.yaml"
step "2b. 事件入库 / event intake"
$ST events intake "$P" "$S/events.csv" --mapping "$M/events.yaml"
step "3. 建立标准地址库 / build the address base (geocoding)"
$ST geocode build "$P" --from sample_data/guixi/survey/doorplates.gpkg --from "$B" --from sample_data/osm/mapofgx.osm
step "3a. 正向与逆向地理编码 / forward and reverse geocoding"
$ST geocode forward "$P" "贵溪市雄石路十二号"
$ST geocode reverse "$P" 519989.0 3130131.5
step "4. 项目库概况 / project summary"
$ST project info "$P"
step "5. 责任单位分配 / assign responsible units (registry, dispatch matrix)"
$ST responsibility assign "$P" --departments sample_data/guixi/survey/departments.xlsx
$ST responsibility matrix "$P" --export "$OUT/dispatch_matrix.xlsx"
step "5a. 部件采集模板 / survey template (departments from the project's registry)"
$ST components template "$OUT/survey_template.xlsx" --classes 0101,0102,0103,0104,0118,0305,0402 --project "$P" --overwrite
step "5b. 质检 / validation (the sample holds deliberate mistakes: the verdict is FAIL, exit code 2)"
set +e
$ST validate "$P" --out "$OUT/qc"
rc=$?
set -e
[ $rc -eq 0 ] || [ $rc -eq 2 ] || exit $rc
echo "质检报告 / report: $OUT/qc/report.html, $OUT/qc/report.xlsx, $OUT/qc/errors.gpkg"
step "6. 发布案件系统数据库 / release the case-system database (GeoPackage)"
# The demo builds a new project on every run, so the release left by the previous run belongs to "another
# project" and export db refuses it by default; the demo says on purpose that replacing it is wanted.
$ST export db "$P" --to "$OUT/release.gpkg" --replace-foreign
if [ -n "${SURVEYTOOLS_PG_URL:-}" ]; then
  $ST export db "$P" --to "$SURVEYTOOLS_PG_URL?schema=guixi_release" --replace-foreign
fi
step "7. 交换文件 / exchange files (Shapefile GBK)"
$ST export files "$P" --format shp --out "$OUT/exchange_shp"
step "8. 指挥手册 / command manual (XLSX, HTML, PDF)"
$ST export manual "$P" --out "$OUT/manual"
echo
echo "输出 / outputs: $(ls "$OUT" | tr '\n' ' ')"
