#!/usr/bin/env bash
# Mutation testing by hand-picked breakages: each one below changes a line
# the way a real bug would (an operator flipped, a call skipped, a copy left
# out), rebuilds, runs the tests that claim to guard that behaviour, and
# reports whether they went red. Every mutation must be caught.
#
#   scripts/mutate.sh [NAME...]        (default: all; names as listed below)
#
# Needs what the tests need (PostgreSQL with the extension; scripts/test.sh
# sets that up). Mutations of sql/ rebuild and install the extension, and
# install the unmutated one after. The Citus mutations run only with COLPALI_TEST_CITUS_URL,
# the avx512-* ones only on a CPU with AVX-512, the avx512bf16-* ones only with AVX-512 BF16
# (elsewhere they are only checked to apply).
# Sources are changed in place and restored after each mutation (and on
# exit); run it on a clean tree. Takes 20-40 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export COLPALI_MIGRATIONS_DIR=$PWD/migrations

# name | file | tests (swift test --filter; | between names; or pg_regress:FILE... for the
# extension's regression files) | Python literal of the text to replace | of its replacement
# (the literals must not contain |)
mutations=$(cat <<'LIST'
prefilter-order|Sources/ColPaliSearch/SearchQuery.swift|SearchQueryTests|prefilterKeepsTheAnswer|"p.embedding, \\(dimParameter)) DESC, p.id"|"p.embedding, \\(dimParameter)) ASC, p.id"
exact-rerank-skipped|Sources/ColPaliSearch/SearchQuery.swift|twoStageEqualsExact|scoresAreTheExactMaxSim|prefilterKeepsTheAnswer|"SELECT maxsim(\\(queryParameter), p.embedding) AS score, \\(output)\n                FROM candidates c"|"SELECT maxsim_hamming(\\(codesParameter), p.embedding, \\(dimParameter))::real AS score, \\(output)\n                FROM candidates c"
release-on-sigterm-skipped|Sources/ColPaliIngest/Daemon/IngestDaemon.swift|sigtermReleasesTheCurrentJob|"try await ingestor.client.withConnection { c in try await queue.release(claim, on: c) }"|"_ = (claim, queue)"
lease-renewal-skipped|Sources/ColPaliIngest/Daemon/IngestDaemon.swift|aLongJobKeepsItsLease|"let ours = try await ingestor.client.withConnection { c in try await queue.renew(claim, on: c) }"|"let ours = true"
kernel-max-is-min|Sources/ColPaliKernels/maxsim_scalar.c|MaxSimKernelTests|"if (s > best)"|"if (s < best)"
migration-copy-skipped|migrations/0005_collections_and_tenants.sql|MigrationHistoryTests|"UPDATE documents SET source_page_count = page_count;"|"SELECT 1;"
tenant-policy-open|migrations/0005_collections_and_tenants.sql|collectionsAndTenantsPartitionResults|"ON pages\n    USING (NOT colpali_tenant_restricted() OR tenant = current_setting('colpali.tenant', true))"|"ON pages\n    USING (true)"
dedup-ignores-tenant|Sources/ColPaliStorage/Documents/DocumentStore.swift|documentsAreKeyedByCollectionTenantAndContent|"WHERE d.collection_id = \\(key.collectionID) AND d.tenant = \\(key.tenant) AND d.content_hash"|"WHERE d.collection_id = \\(key.collectionID) AND d.content_hash"
stored-pages-replaced|Sources/ColPaliStorage/Documents/DocumentStore.swift|pagesStoredMeanwhileAreKeptUnlessReplacing|"guard replace else { continue }"|"_ = replace"
other-model-accepted|Sources/ColPaliStorage/Documents/Collection.swift|aCollectionTakesPagesOfItsOwnModelOnly|"guard collection.accepts(identity: model.identity, name: model.name) else {"|"_ = collection.accepts(identity: model.identity, name: model.name)\n        guard Bool(true) else {"
citus-tenant-not-propagated|Sources/ColPaliSearch/SearchClient.swift|CitusTests|"statements += [\"SET LOCAL citus.propagate_set_commands = 'local'\", \"SET LOCAL colpali.tenant"|"statements += [\"SET LOCAL colpali.tenant"
citus-shard-status-ignored|Sources/ColPaliStorage/Index/CandidateIndex.swift|CitusTests|"guard valid, try await pagesAreDistributed(on: connection, logger: logger) else {"|"guard valid, Bool(false) else {"
half-rounding-truncates|Sources/ColPaliKernels/half.c|HalfPrecisionTests|"        kept++;\n"|"        (void)kept;\n"
half-widening-skipped|Sources/ColPaliKernels/stream.c|HalfPrecisionTests|"            colpali_half_bytes_to_float(in, count, at);\n"|"            (void)at;\n"
pool-skipped|Sources/ColPaliIngest/Pipeline/Ingestor.swift|pooledPagesKeepAThirdOfTheirVectors|"let pooled = try vectors.map { try TokenPooling.hierarchical($0, factor: options.poolFactor).vectors }"|"let pooled = vectors"
pooled-map-allowed|Sources/ColPaliSearch/SimilarityMap.swift|aPooledPageHasNoSimilarityMapButIsSearched|"guard factor == 1 else"|"guard factor >= 0 else"
ivf-index-ignored|Sources/ColPaliSearch/SearchClient.swift|anIndexFindsTheAnswer|"if built { return (found, .index) }"|"if built && false { return (found, .index) }"
ivf-rounds-stop|sql/src/ivf_scan.c|aSelectiveFilterStillFillsTheLimit|"if (state->ranked != NULL && state->last_round)"|"if (state->ranked != NULL)"
ivf-insert-skipped|sql/src/ivf_insert.c|anIndexFindsTheAnswer|"		append_posting(index, info, lists[i], heap_tid);"|"		(void) lists;"
ivf-exact-score-dropped|Sources/ColPaliSearch/SearchQuery.swift|anIndexFindsTheAnswer|"SELECT (-c.distance)::real AS score"|"SELECT (-c.distance)::real * 0.999 AS score"
pooling-leaves-first|Sources/ColPaliCore/TokenPooling.swift|TokenPoolingParityTests|"            if merge.left >= n { visit(merge.left, label) }\n            if merge.right >= n { visit(merge.right, label) }\n            if merge.left < n { leaf(merge.left, label) }\n            if merge.right < n { leaf(merge.right, label) }"|"            if merge.left < n { leaf(merge.left, label) }\n            if merge.right < n { leaf(merge.right, label) }\n            if merge.left >= n { visit(merge.left, label) }\n            if merge.right >= n { visit(merge.right, label) }"
serve-write-scope-is-read|Sources/ColPaliServer/SearchServer.swift|writesNeedAWriteKey|"let writes = router.group().add(middleware: RequireScope(scope: .write, policy: policy))"|"let writes = router.group().add(middleware: RequireScope(scope: .read, policy: policy))"
serve-remote-anonymous-allowed|Sources/ColPaliServer/Access/AccessPolicy.swift|AccessPolicyTests|"            guard isLocal else {"|"            guard isLocal == isLocal else {"
upload-type-unchecked|Sources/ColPaliServer/Routes/UploadAPI.swift|uploadsLandInTheUploadDirectory|"guard let kind = SourceFile.kind(of: file.head, path: \"\") else {"|"guard let kind = SourceFile.kind(of: Data(\"%PDF-\".utf8), path: \"\") else {"
upload-field-uncapped|Sources/ColPaliServer/Support/UploadForm.swift|vectorsFromElsewhereAreImportedAtOnce|"static let fieldLimit = 64 * 1024"|"static let fieldLimit = 64 * 1024 * 1024"
import-grid-unchecked|Sources/ColPaliIngest/Import/Importer.swift|importedVectorsAreStoredAsNativeIngestStoresThem|vectorsFromElsewhereAreImportedAtOnce|"guard grid >= 1, (0...64).contains(rows - grid * grid) else { return nil }"|"guard grid >= 1 else { return nil }"
compute-one-thread-split|Sources/ColPaliModel/Network/ComputeContext.swift|ComputeContextTests|"threads == 1 {"|"threads == 0 {"
amx-b-tile-stride|Sources/ColPaliMath/gemm_amx_tiles.inc|BF16GemmTests|"TILE_LOAD(6, b0 + (size_t)q * PANEL * 2, PANEL * 4);"|"TILE_LOAD(6, b0 + (size_t)q * PANEL * 2, PANEL * 2);"
amx-second-group-as-next-tile|Sources/ColPaliMath/gemm_amx_tiles.inc|BF16GemmTests|"tile_a1 = tile_a + (size_t)kblocks * AMX_TILE;"|"tile_a1 = tile_a + AMX_TILE;"
amx-k-blocks-restart|Sources/ColPaliMath/gemm_amx_tiles.inc|BF16GemmTests|"                        if (q0 == 0) {\n                            TILE_LOAD(0, stripe_bias, 0);"|"                        if (q0 >= 0) {\n                            TILE_LOAD(0, stripe_bias, 0);"
amx-bias-of-first-stripe|Sources/ColPaliMath/gemm_amx_tiles.inc|BF16GemmTests|"bias != NULL && 16 * t + j < n ? bias[16 * t + j] : 0.0f"|"bias != NULL && 16 * t + j < n ? bias[j] : 0.0f"
a-tiles-written-as-rows|Sources/ColPaliMath/gemm_bf16.c|BF16GemmTests|"static int a_is_tiled(void) { return colpali_bf16_row_group() > 1; }"|"static int a_is_tiled(void) { return 0; }"
amx-partial-tiles-overlap|Sources/ColPaliMath/gemm_amx_tiles.inc|BF16GemmTests|"float *cb2 = cb + AMX_NC_THIRDS * 256;"|"float *cb2 = cb + 512;"
avx512bf16-softmax-padding-not-zeroed|Sources/ColPaliMath/gemm_avx512bf16.c|BF16SoftmaxTests|"half[h] = _mm512_maskz_mov_ps(lanes, exp_nonpositive(x));"|"half[h] = exp_nonpositive(x);"
attention-exponentials-not-divided|Sources/ColPaliModel/Network/Attention.swift|AttentionTests|"for j in 0..<headDim { row[j] *= inverse[r] }"|"for j in 0..<headDim { row[j] *= 1 }"
pack-transposed-odd-row-is-even|Sources/ColPaliMath/gemm_bf16.c|BF16PackingTests|"*odd = even + col_stride;"|"*odd = even;"
pack-rows-reads-past-k|Sources/ColPaliMath/gemm_bf16.c|BF16PackingTests|"const int whole = j < width ? (k / 2 < q1 ? k / 2 : q1) : q0;"|"const int whole = j < width ? q1 : q0;"
amx-gelu-skipped|Sources/ColPaliMath/gemm_amx_tiles.inc|geluFromTheTiles|bf16ModeIsCloseAndRanksTheSame|"            colpali_gelu_tanh(gate_tile, 0, 256);  "|"            (void)0;  "
upload-staging-kept|Sources/ColPaliServer/Routes/UploadAPI.swift|vectorsFromElsewhereAreImportedAtOnce|"        defer { form.discard() }"|"        defer { _ = form }"
gelu-padding-past-panels-left|Sources/ColPaliMath/gemm_bf16.c|geluFromTheTiles|"    if (panel_end == colpali_bf16_panel_count(n) && covered < stride)"|"    if (0 && covered < stride)"
avx512bf16-exp-swallows-nan|Sources/ColPaliMath/gemm_avx512bf16.c|BF16SoftmaxTests|"    x = _mm512_max_ps(_mm512_set1_ps(-87.0f), x);"|"    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));"
pack-transposed-panel-edge-unzeroed|Sources/ColPaliMath/gemm_bf16.c|BF16PackingTests|"        memset(out + width, 0, sizeof(uint32_t) * (size_t)(PANEL - width));"|"        (void)0;"
amx-geglu-up-from-gate-tile|Sources/ColPaliMath/gemm_amx_tiles.inc|geluOfGateTimesUpFromTheTiles|"TILE_STORE(0, gate_tile, 64); TILE_STORE(1, up_tile, 64);"|"TILE_STORE(0, gate_tile, 64); TILE_STORE(0, up_tile, 64);"
geglu-odd-panel-accepted|Sources/ColPaliMath/gemm_bf16.c|geluOfGateTimesUpFromTheTiles|"panel_begin % 2 != 0)"|"panel_begin % 2 != 0 && n < 0)"
attention-head-to-wrong-group|Sources/ColPaliModel/Network/Attention.swift|AttentionTests|"let kv = head / groupSize"|"let kv = head % keyValueHeads"
avx2-odd-weights-as-even|Sources/ColPaliMath/gemm_avx2.c|BF16GemmTests|"_mm256_castsi256_ps(_mm256_and_si256(p0, high))"|"_mm256_castsi256_ps(_mm256_slli_epi32(p0, 16))"
render-ahead-wrong-batch|Sources/ColPaliIngest/Pipeline/Ingestor.swift|storesEveryPageOfAPDFThenSkipsTheSameContent|"Task.detached { [batch = batches[index + 1]] in try render(batch) }"|"Task.detached { [batch = batches[index]] in try render(batch) }"
ivf-credit-per-list|sql/src/ivf_scan.c|pg_regress:ivf|"\t\tif (credit->token != token)\n"|"\t\tif (credit->token >= 0)\n"
ivf-probes-least-similar|sql/src/ivf_scan.c|pg_regress:ivf|"\t\tif (more_similar(sims, c, out[0]))\n"|"\t\tif (!more_similar(sims, c, out[0]))\n"
ivf-chunks-over-unordered-lists|sql/src/ivf_scan.c|pg_regress:ivf|"if (flat_count > 0 && extent.in_block_order && "|"if (flat_count > 0 && "
ivf-chunk-cursor-not-advanced|sql/src/ivf_scan.c|pg_regress:ivf|"\t\tmemcpy(share->from, share->until, sizeof(Size) * lists);\n"|""
ivf-credit-shares-overlap|sql/src/ivf_scan.c|pg_regress:ivf|"(uint64) chunks * (p + 1) / parts) * chunk)"|"(uint64) chunks * (p + 2) / parts) * chunk)"
ivf-overflow-credit-unset|sql/src/ivf_scan.c|pg_regress:ivf|"entry->credit = (Credit) {0, 0};"|"entry->credit = (Credit) {0.5f, 0};"
ivf-selects-worst|sql/src/ivf_scan.c|pg_regress:ivf|"\t\t\tif (ranked_before(&items[i], &pivot))\n"|"\t\t\tif (!ranked_before(&items[i], &pivot))\n"
ivf-returned-unmarked|sql/src/ivf_scan.c|pg_regress:ivf|"\t\t\tif (round->returned != NULL)\n\t\t\t\tmark_returned(round);\n"|"\t\t\tif (false)\n\t\t\t\tmark_returned(round);\n"
ivf-returned-ranked-again|sql/src/ivf_scan.c|pg_regress:ivf|"\t\t\tif (slots[offset - 1].token > 0)\n"|"\t\t\tif (slots[offset - 1].token != 0)\n"
ivf-keeps-worst|sql/src/ivf_scan.c|pg_regress:ivf|"\tif (c->bounded && !ranked_before(&item, &c->worst))\n"|"\tif (c->bounded && ranked_before(&item, &c->worst))\n"
ivf-taken-unmarked|sql/src/ivf_scan.c|pg_regress:ivf|"\t\t\tcredit->token = CREDIT_TAKEN;\n"|"\t\t\t(void) credit;\n"
ivf-last-round-skips-weakest|sql/src/ivf_scan.c|pg_regress:ivf|"\tbool\t\tskip_weakest = probes > 1 && probes < lists;\n"|"\tbool\t\tskip_weakest = probes > 1;\n"
ivf-scratch-shared|sql/src/ivf_scratch.c|pg_regress:ivf|"\tif (scratch.owner != 0)\n\t\treturn false;\n"|"\tif (scratch.owner != 0 && false)\n\t\treturn false;\n"
similarity-tile-misplaced|Sources/ColPaliKernels/maxsim_avx2.c|similarityMatrixHoldsEveryDotProduct|"out[(size_t)(i0 + r) * nd + j0 + c] = dots[r * 4 + c];"|"out[(size_t)(i0 + r) * nd + j0 + c] = dots[c * 2 + r];"
gemm-out-of-memory-crashes|Sources/ColPaliMath/gemm_avx2.c|computesTheProductWithoutMemoryForBuffers|"    if (a_block == NULL) {"|"    if (a_block == NULL && m < 0) {"
citus-shard-index-ignored|Sources/ColPaliStorage/Index/CandidateIndex.swift|theCandidateIndexOfADistributedDatabaseIsUsed|"return try await pagesAreDistributed(on: connection, logger: logger)"|"_ = try await pagesAreDistributed(on: connection, logger: logger); return false"
ivf-vacuum-keeps-dead|sql/src/ivf_vacuum.c|concurrentWritersLeaveTheIndexComplete|"\t\t\t\tif (!dead[i])\n\t\t\t\t\tcopy_tids[at++]"|"\t\t\t\tif (dead[i])\n\t\t\t\t\tcopy_tids[at++]"
planes-sign-dropped|Sources/ColPaliKernels/sign_planes.c|SignPlanesTests|"            a = _mm_or_si128(a, _mm_and_si128(_mm_andnot_si128(_mm_cmpeq_epi16(a, zero), clear_a), sign));\n"|""
planes-zero-made-negative|Sources/ColPaliKernels/sign_planes.c|SignPlanesTests|"_mm_and_si128(_mm_andnot_si128(_mm_cmpeq_epi16(b, zero), clear_b), sign)"|"_mm_and_si128(clear_b, sign)"
avx512-planes-sign-dropped|Sources/ColPaliKernels/sign_planes.c|SignPlanesTests|"            w = _mm256_mask_mov_epi16(w, negative, _mm256_or_si256(w, sign));\n"|""
avx512-tile-row-swapped|Sources/ColPaliKernels/maxsim_avx512.c|MaxSimKernelTests|"for (int c = 0; c < 4; c++) dv[c] = _mm512_loadu_ps(dr[c] + k);"|"for (int c = 0; c < 4; c++) dv[c] = _mm512_loadu_ps(dr[0] + k);"
avx512-nearest-wrong-lane-index|Sources/ColPaliKernels/nearest.c|NearestCentroidTests|"keep_max16(&best[r], &arg[r], acc[r][v], (int)j + 16 * v);"|"keep_max16(&best[r], &arg[r], acc[r][v], (int)j + 8 * v);"
avx512-nearest-padding-lanes-kept|Sources/ColPaliKernels/nearest.c|NearestCentroidTests|"acc[r][1] = _mm512_mask_mov_ps(acc[r][1], 0xFF00, _mm512_set1_ps(-INFINITY));"|""
worker-index-shared|Sources/ColPaliModel/Network/ComputeContext.swift|aWorkerIndexIsInTheBudgetAndRunsOneChunkAtATime|blockedBF16AttentionMatchesFloat32|"shared.value(worker, count * chunk / chunks"|"shared.value(0, count * chunk / chunks"
planes-borrowed-bit-dropped|Sources/ColPaliKernels/sign_planes.c|SignPlanesTests|"((last >> i) & 1u) << 15"|"((last >> i) & 0u) << 15"
planes-codes-of-first-rows|Sources/ColPaliKernels/stream.c|SignPlanesTests|"colpali_planes_rows_to_float(s->codes + (size_t)next * s->code_row_bytes, in,"|"colpali_planes_rows_to_float(s->codes, in,"
planes-staged-rows-kept|Sources/ColPaliKernels/stream.c|SignPlanesTests|"    s->staged_rows = 0;\n    const size_t rest"|"    const size_t rest"
toast-fetch-stale-block|sql/src/toast_stream.c|pg_regress:multihalfvec|"BufferGetBlockNumber(buffer) != ItemPointerGetBlockNumber(tid))"|"BufferGetBlockNumber(buffer) != BufferGetBlockNumber(buffer))"
slice-reads-every-chunk|sql/src/toast_stream.c|pg_regress:multihalfvec|"return slice->have < slice->wanted;"|"return slice->have <= slice->wanted;"
prefilter-slice-detoasted|sql/src/binary_functions.c|pg_regress:multihalfvec|"dim, toast_scratch(fcinfo->flinfo), &nd, &doc_dim"|"dim, NULL, &nd, &doc_dim"
planes-streamed-as-rows|sql/src/toast_stream.c|pg_regress:multihalfvec|"\tif (layout == MULTIHALFVEC_PLANES)\n\t\ttoast_stream_begin_planes"|"\tif (layout == -1)\n\t\ttoast_stream_begin_planes"
planes-codes-slice-unused|sql/src/multihalfvec.c|pg_regress:multihalfvec|"if (v->layout == MULTIHALFVEC_PLANES && v->dim == dim_hint"|"if (v->layout == -1 && v->dim == dim_hint"
sign-planes-migration-skipped|migrations/0009_sign_planes.sql|MigrationHistoryTests|"    ALTER TABLE pages ALTER COLUMN embedding TYPE multihalfvec USING embedding::real[]::multihalfvec;\n"|""
ivf-helper-share-misplaced|sql/src/ivf_parallel.c|pg_regress:ivf|"to - from, layout, lists, dim, out + from}"|"to - from, layout, lists, dim, out}"
ivf-batch-offset-unmoved|sql/src/ivf_build.c|pg_regress:ivf|"\t\tat += state->batch_rows[p];\n"|""
multipart-tail-not-held|Sources/ColPaliServer/Support/MultipartReader.swift|aBodyInPiecesOfAnySizeReadsAsAWhole|"let safe = max(position, pending.count - bodyEnd.count + 1)"|"let safe = pending.count"
upload-staging-left-behind|Sources/ColPaliServer/Routes/UploadAPI.swift|uploadsLandInTheUploadDirectoryAndOnTheQueue|"        defer { form.discard() }\n"|""
LIST
)

selected=("$@")
declare -A originals=()
restore() {
  for file in "${!originals[@]}"; do cp "${originals[$file]}" "$file"; rm -f "${originals[$file]}"; unset "originals[$file]"; done
}
trap 'restore; echo "(sources restored)"' EXIT

# pg_regress connects as libpq does: host, port and user from the tests' database URL.
regress_env() {
  python3 - "${COLPALI_TEST_DATABASE_URL:?set COLPALI_TEST_DATABASE_URL (scripts/test.sh shows how)}" <<'PY'
import sys, urllib.parse as u
url = u.urlparse(sys.argv[1])
q = u.parse_qs(url.query)
values = {"PGHOST": q.get("host", [url.hostname or ""])[0], "PGPORT": q.get("port", [str(url.port or "")])[0],
          "PGUSER": q.get("user", [url.username or ""])[0]}
print(" ".join(f"{k}={v}" for k, v in values.items() if v))
PY
}

results=()
# A regression file must pass before it is mutated: one that fails anyway
# (a stray NOTICE run alone, say) would "catch" every mutation.
declare -A regress_baseline=()
regress_passes() {
  if [[ -z ${regress_baseline[$1]:-} ]]; then
    if make -s -C sql install >/tmp/colpali-mutate-build.log 2>&1 \
      && env $(regress_env) make -s -C sql installcheck REGRESS="$1" </dev/null >"/tmp/colpali-mutate-baseline-$1.log" 2>&1; then
      regress_baseline[$1]=passes
    else
      regress_baseline[$1]=fails
    fi
  fi
  [[ ${regress_baseline[$1]} == passes ]]
}

# The list is read on descriptor 3: the builds and tests below must not eat it.
while IFS='|' read -ra fields <&3; do
  name=${fields[0]}; file=${fields[1]}
  n=${#fields[@]}; old=${fields[n-2]}; new=${fields[n-1]}
  filter=$(IFS='|'; echo "${fields[*]:2:n-4}")
  if [[ ${#selected[@]} -gt 0 && ! " ${selected[*]} " =~ " $name " ]]; then continue; fi
  skipped=""
  [[ $name == citus-* && -z ${COLPALI_TEST_CITUS_URL:-} ]] && skipped="no COLPALI_TEST_CITUS_URL"
  [[ $name == avx512-* ]] && ! grep -qw avx512bw /proc/cpuinfo && skipped="this CPU has no AVX-512"
  [[ $name == avx512bf16-* ]] && ! grep -qw avx512_bf16 /proc/cpuinfo && skipped="this CPU has no AVX-512 BF16"
  if [[ -n $skipped ]]; then
    # Not run, but it must still apply: a stale entry would go unnoticed.
    if python3 -c 'import ast, sys; sys.exit(open(sys.argv[1]).read().count(ast.literal_eval(sys.argv[2])) != 1)' "$file" "$old"; then
      results+=("$name: not run ($skipped)")
    else
      results+=("$name: COULD NOT BE APPLIED (the source changed: update the list)")
    fi
    continue
  fi
  if [[ $filter == pg_regress:* ]] && ! regress_passes "${filter#pg_regress:}"; then
    results+=("$name: NOT RUN: $filter FAILS UNMUTATED (see /tmp/colpali-mutate-baseline-${filter#pg_regress:}.log)")
    continue
  fi
  echo "== $name: $file"
  originals[$file]=$(mktemp)
  cp "$file" "${originals[$file]}"
  if ! python3 - "$file" "$old" "$new" <<'PY'
import ast, sys
path, old, new = sys.argv[1], ast.literal_eval(sys.argv[2]), ast.literal_eval(sys.argv[3])
text = open(path).read()
if text.count(old) != 1:
    sys.exit(f"{path}: the text to mutate occurs {text.count(old)} times, not once: {old!r}")
open(path, "w").write(text.replace(old, new))
PY
  then
    results+=("$name: COULD NOT BE APPLIED (the source changed: update the list)")
  elif [[ $file == sql/* ]] && ! make -s -C sql install >/tmp/colpali-mutate-build.log 2>&1; then
    results+=("$name: DID NOT COMPILE (see /tmp/colpali-mutate-build.log)")
  elif [[ $filter == pg_regress:* ]]; then
    if env $(regress_env) make -s -C sql installcheck REGRESS="${filter#pg_regress:}" </dev/null >"/tmp/colpali-mutate-$name.log" 2>&1; then
      results+=("$name: NOT CAUGHT by $filter")
    else
      results+=("$name: caught by $filter")
    fi
  elif ! swift build --build-tests </dev/null >/tmp/colpali-mutate-build.log 2>&1; then
    results+=("$name: DID NOT COMPILE (see /tmp/colpali-mutate-build.log)")
  elif swift test --skip-build --filter "$filter" </dev/null >"/tmp/colpali-mutate-$name.log" 2>&1; then
    results+=("$name: NOT CAUGHT by $filter")
  else
    # A crash (the test process dies) names no failed test: still caught.
    failed=$(grep -oE '✘ Test [A-Za-z]+\(' "/tmp/colpali-mutate-$name.log" | sed 's/✘ Test //; s/($//' | sort -u | tr '\n' ' ' || true)
    results+=("$name: caught by ${failed:-a failing run (see /tmp/colpali-mutate-$name.log)}")
  fi
  restore
  # The extension is installed system-wide: put the unmutated one back.
  if [[ $file == sql/* ]]; then make -s -C sql install >/dev/null 2>&1; fi
done 3<<< "$mutations"

echo "-- rebuilding the unmutated sources"
swift build --build-tests >/dev/null 2>&1
echo
printf '%s\n' "${results[@]}"
! printf '%s\n' "${results[@]}" | grep -qE 'NOT CAUGHT|DID NOT COMPILE|COULD NOT BE APPLIED|FAILS UNMUTATED'
