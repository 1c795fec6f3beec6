#!/usr/bin/env bash
# The benchmark at scale in one command: fill PostgreSQL and SQLite at 1% and 100% (once;
# databases already filled at that scale are reused; each holds both wings), time every
# interface method of the pre-OCI and the OCI model on each, and write
# benchmarks/results/<backend>-<scale>.json (pre-OCI), oci-<backend>-<scale>.json (OCI) and
# benchmarks/results/README.md.
#
#   bash benchmarks/run_all.sh
#   PG_BASE=postgresql://postgres@127.0.0.1:5432 DB_PREFIX=rm_bench SQLITE_DIR=/tmp/rm_bench \
#       PYTHON=.venv/bin/python bash benchmarks/run_all.sh
#   BACKENDS="postgresql sqlite mysql" MYSQL_BASE=mysql://root@127.0.0.1:3306 bash benchmarks/run_all.sh
#   MODELS=oci bash benchmarks/run_all.sh        # only the OCI model
#   REPORT_ONLY=1 bash benchmarks/run_all.sh     # only rewrite README.md from the JSON files
#
# The 100% fills take 5 to 15 minutes each and about 7 GB of disk per backend.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python}
PG_BASE=${PG_BASE:-postgresql://postgres@127.0.0.1:5432}
DB_PREFIX=${DB_PREFIX:-rm_bench}  # PostgreSQL and MySQL database names: <prefix>_1, <prefix>_100
SQLITE_DIR=${SQLITE_DIR:-/tmp/registry_model_bench}
MYSQL_BASE=${MYSQL_BASE:-mysql://root@127.0.0.1:3306}
BACKENDS=${BACKENDS:-"postgresql sqlite"}
SCALES=${SCALES:-"1 100"}  # percent
MODELS=${MODELS:-"pre-oci oci"}  # latency.py --model: registry_model and oci_model
REPEAT=${REPEAT:-200}
RESULTS=benchmarks/results

mkdir -p "$SQLITE_DIR" "$RESULTS"
pg_host_args() {
    "$PYTHON" - "$PG_BASE" <<'PY'
import sys
from urllib.parse import urlparse
u = urlparse(sys.argv[1])
print("-h %s -p %s -U %s" % (u.hostname, u.port or 5432, u.username or "postgres"))
PY
}
PSQL="psql -X -q -v ON_ERROR_STOP=1 $(pg_host_args) -d postgres"

declare -A DB_ARGS JSON_ARGS
[ -n "${REPORT_ONLY:-}" ] && SCALES="" BACKENDS=""
for percent in $SCALES; do
    scale=$("$PYTHON" -c "print($percent / 100)")
    db_name="${DB_PREFIX}_${percent}"
    uris=()
    for backend in $BACKENDS; do
        case $backend in
            postgresql)
                if [ -z "$($PSQL -At -c "SELECT 1 FROM pg_database WHERE datname = '${db_name}'")" ]
                then
                    $PSQL -c "CREATE DATABASE ${db_name}"
                fi
                uris+=("${PG_BASE}/${db_name}") ;;
            sqlite) uris+=("sqlite:///${SQLITE_DIR}/bench_${percent}.db") ;;
            mysql)
                "$PYTHON" - "$MYSQL_BASE" "$db_name" <<'PY'
import sys
import pymysql
from urllib.parse import unquote, urlparse
u = urlparse(sys.argv[1])
pymysql.connect(host=u.hostname, port=u.port or 3306, user=u.username,
                password=unquote(u.password or "")).cursor().execute(
    "CREATE DATABASE IF NOT EXISTS `%s`" % sys.argv[2])
PY
                uris+=("${MYSQL_BASE}/${db_name}") ;;
        esac
    done
    for uri in "${uris[@]}"; do
        echo "== fill ${uri} (scale ${scale})"
        "$PYTHON" benchmarks/fill.py --db "$uri" --scale "$scale" --reuse
        backend=${uri%%:*}
        DB_ARGS[$backend]+=" --db ${uri}"
        JSON_ARGS[$backend]+=" --json ${RESULTS}/${backend}-${percent}.json"
    done
done

# Both sizes of a backend in one run, case by case in turn: they see the same machine load.
# The OCI model's results go to oci-<backend>-<scale>.json.
for backend in $BACKENDS; do
    for model in $MODELS; do
        echo "== latency ${backend} (${model})"
        json_args=${JSON_ARGS[$backend]}
        if [ "$model" = oci ]; then
            json_args=${json_args//${RESULTS}\//${RESULTS}/oci-}
        fi
        # shellcheck disable=SC2086  # the argument lists are meant to split
        "$PYTHON" benchmarks/latency.py --model "$model" ${DB_ARGS[$backend]} ${json_args} \
            --repeat "$REPEAT"
    done
done

{
    echo "# Benchmark results at scale"
    echo
    echo "Written by \`bash benchmarks/run_all.sh\` (see \"Benchmarks at scale\" in the"
    echo "top-level README); the JSON files beside this one hold every number, the machine's"
    echo "load average and the commit measured. Times are medians in microseconds of warm"
    echo "calls; \"ratio\" is the interface over the raw SQL of the same run; \"growth\" is the"
    echo "median at 100% over the median at 1%, both sizes timed case by case in turn in one"
    echo "run so they share the machine's load. The machine is shared (2 cores), so single"
    echo "numbers are noisy: look at medians and at several runs before believing a miss."
    if [ -f "${RESULTS}/ANALYSIS.md" ]; then
        echo "[ANALYSIS.md](ANALYSIS.md) explains the misses of an earlier run, with query plans."
    fi
    echo "Beside these: [SERVER.md](SERVER.md) (the registry server's memory and the comparison with"
    echo "Distribution: \`benchmarks/server_memory.py\`, \`benchmarks/server_vs_distribution.py\`) and"
    echo "[S3.md](S3.md) (S3 on Ceph's RADOS Gateway: 1 GiB put and get against plain boto3, push"
    echo "and pull through the server on S3 against a folder, the test cluster's cold start and"
    echo "memory: \`benchmarks/s3_transfer.py\`, \`benchmarks/server_s3.py\`,"
    echo "\`benchmarks/ceph_cold_start.py\`)."
    echo
    "$PYTHON" benchmarks/compare.py --markdown "$RESULTS"/*.json || true
} > "${RESULTS}/README.md"
echo "wrote ${RESULTS}/README.md"
