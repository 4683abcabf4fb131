#!/usr/bin/env bash
# The registry at scale on both engines (see src/bin/registry_scale.rs):
# issuance rate through the real issuance path, then lookups, revocations,
# the CRL list, the pre-signer's queries and their plans, at N certificates.
# PostgreSQL runs in a throwaway cluster on loopback with its durable
# defaults (fsync on, synchronous_commit on), as SQLite runs synchronous=FULL.
#
#   bash benches/registry_scale.sh            # N = 1,000,000 (about 20 min here)
#   bash benches/registry_scale.sh 100000 --batch 200
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
shift || true
cargo build --release -q -p cartorio-benches --bin registry-scale
. scripts/postgres-throwaway.sh
trap stop_throwaway_postgres EXIT
# Room for a million rows' WAL between checkpoints; durability unchanged.
start_throwaway_postgres -c max_wal_size=4GB
target/release/registry-scale --certs "$N" --postgres "$CARTORIO_TEST_POSTGRES_URL" "$@"
