#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of clipcl's file parsers.
#
#   tools/fuzz.sh TARGET [SECONDS]     build (if needed) and fuzz TARGET for SECONDS (default 600)
#   tools/fuzz.sh all [SECONDS]        every target in turn, SECONDS each (FUZZ_JOBS=2: two at a time)
#   tools/fuzz.sh build [TARGET|all]   only build
#   tools/fuzz.sh list                 list the targets
#
# Targets (entry points in Fuzz/<target>/main.swift):
#   safetensors  SafeTensorsFile (input written to a temp file, mapped, every tensor read)
#   torch        TorchCheckpointFile: torch.save zip archives (zip directory, torch pickle vocabulary, strided views)
#   json         ConfigReader.huggingFace/openCLIP, PreprocessConfig.huggingFace, ExperimentConfig.decode
#   tokenizer    CLIPTokenizer.tokenize (both cleaning modes) + merges / vocab.json / tokenizer.json readers
#   idx          IDXReader.readImages / readLabels (input as a file)
#   pickle       RestrictedUnpickler.unpickle (both vocabularies), GzipData.decompress, Gzip.gunzip, TarReader
#   image        ImageDecoder.decode, then ImagePreprocessor.pixels (openAI(imageSize: 32))
#
# The module sources are compiled straight with swiftc (no SwiftPM): -sanitize=fuzzer,address adds
# coverage instrumentation + ASan to every module and links libFuzzer into the target. Outputs go to
# .build/fuzz/ (binaries), .build/fuzz/corpus/TARGET (corpus, seeded from Tests/Fixtures) and
# .build/fuzz/artifacts/TARGET-* (crashes, timeouts, OOMs). Extra libFuzzer flags: FUZZ_FLAGS="...".
# Needs the Swift toolchain (its clang is used for the C shim) and the project's apt packages
# (pkg-config libopenblas-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TARGETS=(safetensors torch json tokenizer idx pickle image)
OUT="$ROOT/.build/fuzz"
OBJ="$OUT/obj"
MODS="$OUT/modules"

SWIFTC="${SWIFTC:-$(command -v swiftc || true)}"
[ -n "$SWIFTC" ] || { [ -x /opt/swift/usr/bin/swiftc ] && SWIFTC=/opt/swift/usr/bin/swiftc; }
[ -n "$SWIFTC" ] || { echo "fuzz.sh: swiftc not found on PATH" >&2; exit 1; }
TOOLCHAIN_BIN="$(dirname "$(readlink -f "$SWIFTC")")"
CLANG="${CLANG:-$TOOLCHAIN_BIN/clang}"
[ -x "$CLANG" ] || CLANG="$(command -v clang || true)"
[ -n "$CLANG" ] && [ -x "$CLANG" ] || { echo "fuzz.sh: no clang in the Swift toolchain ($TOOLCHAIN_BIN) nor on PATH" >&2; exit 1; }

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

# Include paths for the system-library modules (module maps in Sources/C*/) and their headers.
c_includes() {
    local blas
    blas="$(pkg-config --cflags-only-I openblas 2>/dev/null || true)"
    [ -n "$blas" ] || blas="-I/usr/include/x86_64-linux-gnu/openblas-pthread"
    echo "-I $ROOT/Sources/CBLAS -I $ROOT/Sources/CZlib -I $ROOT/Sources/CJPEG -I $ROOT/Sources/CPNG -I $OUT/include/CImageShim -I $OUT/include/CKernels $blas"
}

SWIFT_FLAGS=(-sanitize=fuzzer,address -parse-as-library -O -g -target-cpu haswell -swift-version 6)
LINK_LIBS=(-lopenblas -lz -ljpeg -lpng16)
# The toolchain's lld links sanitizer runtimes without gold's flood of "cannot export local symbol" warnings.
[ -x "$TOOLCHAIN_BIN/ld.lld" ] && LINK_LIBS+=(-use-ld=lld)

newer_than() {  # newer_than OUTPUT INPUT... : true if OUTPUT is missing or older than any input
    local out="$1"; shift           # (after changing flags in this script: rm -rf .build/fuzz/obj .build/fuzz/fuzz-*)
    [ -e "$out" ] || return 0
    local f
    for f in "$@"; do [ "$f" -nt "$out" ] && return 0; done
    return 1
}

module_sources() { find "$ROOT/Sources/$1" -name '*.swift' | LC_ALL=C sort; }

# build_c NAME: the C target Sources/NAME, with the module map SwiftPM synthesises for include/NAME.h,
# one object file per .c file. Every fuzz target links all C targets (CKernels for TensorKit, CImageShim for CLIP).
C_TARGETS=(CKernels CImageShim)
build_c() {
    local name="$1" f o
    mkdir -p "$OBJ" "$OUT/include/$name"
    printf 'module %s {\n    umbrella header "%s"\n    export *\n}\n' "$name" "$ROOT/Sources/$name/include/$name.h" \
        > "$OUT/include/$name/module.modulemap.tmp"
    if ! cmp -s "$OUT/include/$name/module.modulemap.tmp" "$OUT/include/$name/module.modulemap" 2>/dev/null; then
        mv "$OUT/include/$name/module.modulemap.tmp" "$OUT/include/$name/module.modulemap"
    else
        rm "$OUT/include/$name/module.modulemap.tmp"
    fi
    for f in Sources/"$name"/*.c; do
        o="$OBJ/$name-$(basename "$f" .c).o"
        if newer_than "$o" "$f" Sources/"$name"/include/*.h; then
            echo "  clang  $name/$(basename "$f")"
            "$CLANG" -fsanitize=fuzzer-no-link,address -O2 -g -fPIC -I Sources/"$name"/include -c "$f" -o "$o"
        fi
    done
}

c_objects() { local n; for n in "${C_TARGETS[@]}"; do ls "$OBJ/$n"-*.o; done; }

# build_module NAME [DEPENDENCY...]: one object file + .swiftmodule per module (whole-module build).
build_module() {
    local name="$1"; shift
    local srcs=() deps_in=() d
    mapfile -t srcs < <(module_sources "$name")
    for d in "$@"; do deps_in+=("$OBJ/$d.o"); done
    # Outside SwiftPM there is no generated `Bundle.module`: a fuzz-only shim stands in for it.
    if grep -q 'Bundle\.module' "${srcs[@]}"; then srcs+=("$ROOT/Fuzz/Support/BundleModuleShim.swift"); fi
    mkdir -p "$OBJ" "$MODS"
    if newer_than "$OBJ/$name.o" "${srcs[@]}" "${deps_in[@]}"; then
        echo "  swiftc $name (${#srcs[@]} files)"
        # shellcheck disable=SC2046
        "$SWIFTC" "${SWIFT_FLAGS[@]}" -wmo -module-name "$name" -I "$MODS" $(c_includes) \
            -emit-module -emit-module-path "$MODS/$name.swiftmodule" \
            -c -o "$OBJ/$name.o" "${srcs[@]}"
    fi
}

# Modules (in dependency order) each target links.
target_modules() {
    case "$1" in
        safetensors|torch) echo "TensorKit" ;;
        json) echo "TensorKit CLIP Datasets Continual" ;;
        tokenizer|image) echo "TensorKit CLIP" ;;
        idx|pickle) echo "TensorKit CLIP Datasets" ;;
        *) echo "fuzz.sh: unknown target '$1' (one of: ${TARGETS[*]} all)" >&2; exit 2 ;;
    esac
}

build_target() {
    local t="$1" mods m objs=() prev=()
    mods="$(target_modules "$t")"
    echo "building fuzz target '$t'"
    for m in "${C_TARGETS[@]}"; do build_c "$m"; done
    for m in $mods; do
        case "$m" in
            TensorKit) build_module TensorKit ;;
            CLIP) build_module CLIP TensorKit ;;
            Datasets) build_module Datasets TensorKit CLIP ;;
            Continual) build_module Continual TensorKit CLIP Datasets ;;
        esac
        objs+=("$OBJ/$m.o")
        prev+=("$MODS/$m.swiftmodule")
    done
    mapfile -t -O "${#objs[@]}" objs < <(c_objects)
    local entry="$ROOT/Fuzz/$t/main.swift"
    if newer_than "$OUT/fuzz-$t" "$entry" "${objs[@]}"; then
        echo "  link   fuzz-$t"
        # shellcheck disable=SC2046
        "$SWIFTC" "${SWIFT_FLAGS[@]}" -module-name "Fuzz_$t" -I "$MODS" $(c_includes) \
            "$entry" "${objs[@]}" "${LINK_LIBS[@]}" -o "$OUT/fuzz-$t"
    fi
}

# Seeds: real sample files from the test fixtures (copied once; the corpus then grows by itself).
seed_corpus() {
    local t="$1" dir="$OUT/corpus/$1" f
    mkdir -p "$dir"
    [ -n "$(ls -A "$dir")" ] && return 0
    case "$t" in
        safetensors)
            cp Tests/Fixtures/ops/ops.safetensors Tests/Fixtures/clip/images/decoded.safetensors "$dir/"
            # Small hand-made files: one F16 and one I64 tensor, and an empty one with metadata.
            printf '\x3c\x00\x00\x00\x00\x00\x00\x00{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}    \x00\x3c\x00\xc0' > "$dir/f16.safetensors"
            printf '\x50\x00\x00\x00\x00\x00\x00\x00{"__metadata__":{"k":"v"},"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}\x01\x00\x00\x00\x00\x00\x00\x00' > "$dir/i64.safetensors"
            ;;
        torch)
            # torch.save archives written by torch (state dicts, a training checkpoint, legacy and TorchScript files).
            cp Tests/Fixtures/torch/*.pt Tests/Fixtures/torch/*.bin "$dir/"
            ;;
        json)
            cp Tests/Fixtures/clip/hf-tiny/config.json "$dir/hf-config.json"
            cp Tests/Fixtures/clip/hf-tiny/preprocessor_config.json "$dir/preprocessor_config.json"
            cp Tests/Fixtures/clip/openclip-tiny/open_clip_config.json "$dir/open_clip_config.json"
            for f in configs/*.json; do cp "$f" "$dir/experiment-$(basename "$f")"; done
            ;;
        tokenizer)
            # Texts from the tokenizer vectors, plus small merges / vocab files.
            python3 - "$dir" <<'EOF' 2>/dev/null || cp Tests/Fixtures/tokenizer/tokenizer_vectors.json "$dir/"
import json, sys, os
d = sys.argv[1]
v = json.load(open("Tests/Fixtures/tokenizer/tokenizer_vectors.json"))
texts = []
def walk(x):
    if isinstance(x, dict):
        for k, y in x.items():
            if k in ("text", "texts", "input") and isinstance(y, str): texts.append(y)
            else: walk(y)
    elif isinstance(x, list):
        for y in x: walk(y)
    elif isinstance(x, str): texts.append(x)
walk(v)
for i, t in enumerate(dict.fromkeys(texts)):
    open(os.path.join(d, "text-%03d" % i), "wb").write(t.encode("utf-8"))
EOF
            head -c 2000 Tests/Fixtures/clip/hf-tiny/merges.txt > "$dir/merges-head.txt"
            printf '{"a":0,"b":1,"ab":2,"a</w>":3,"<|startoftext|>":4,"<|endoftext|>":5}' > "$dir/vocab.json"
            printf '{"model":{"vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}' > "$dir/tokenizer.json"
            printf 'A photo of a cat &amp; a dog, 123 <b>hello</b>  don'"'"'t' > "$dir/text-html"
            ;;
        idx)
            # 2 images of 2x3 pixels, and 3 labels.
            printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x03\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b' > "$dir/images.idx3"
            printf '\x00\x00\x08\x01\x00\x00\x00\x03\x00\x01\x02' > "$dir/labels.idx1"
            gzip -n -c "$dir/images.idx3" > "$dir/images.idx3.gz"
            ;;
        pickle)
            cp Tests/Fixtures/datasets/cifar100_test_py3_protocol2.pickle Tests/Fixtures/datasets/cifar-10-python.tar.gz \
               Tests/Fixtures/datasets/cifar-100-python.tar.gz "$dir/"
            gzip -d -c Tests/Fixtures/datasets/cifar-10-python.tar.gz > "$dir/cifar-10-python.tar"
            ;;
        image)
            for f in Tests/Fixtures/images/*.png Tests/Fixtures/images/*.jpg Tests/Fixtures/clip/images/*.png \
                     Tests/Fixtures/clip/images/*.jpg; do
                [ "$(stat -c %s "$f")" -le 40000 ] && cp "$f" "$dir/"
            done
            ;;
    esac
    # Crash reproducers kept as regression fixtures are good seeds too.
    if [ -d "Tests/Fixtures/fuzz/$t" ]; then cp Tests/Fixtures/fuzz/"$t"/* "$dir/" 2>/dev/null || true; fi
}

run_target() {
    local t="$1" secs="$2"
    build_target "$t"
    seed_corpus "$t"
    mkdir -p "$OUT/artifacts"
    echo "fuzzing '$t' for ${secs}s (corpus $OUT/corpus/$t)"
    # No leak checking: Foundation's Data(contentsOf:) (readBytesFromFile in FoundationEssentials) leaks a
    # 4 KiB buffer per read as LeakSanitizer sees it, which would stop every file-reading target at once
    # and, at exit, be saved as a bogus crash artifact.
    # shellcheck disable=SC2086
    ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" "$OUT/fuzz-$t" -detect_leaks=0 -max_total_time="$secs" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts/$t-" ${FUZZ_FLAGS:-} "$OUT/corpus/$t"
}

[ $# -ge 1 ] || usage
case "$1" in
    list) printf '%s\n' "${TARGETS[@]}" ;;
    build)
        if [ "${2:-all}" = all ]; then for t in "${TARGETS[@]}"; do build_target "$t"; done; else build_target "$2"; fi ;;
    all)
        if [ "${FUZZ_JOBS:-1}" -gt 1 ]; then
            # Build everything first (the targets share module objects), then fuzz FUZZ_JOBS targets at a time.
            for t in "${TARGETS[@]}"; do build_target "$t"; done
            mkdir -p "$OUT/logs"
            echo "fuzzing ${#TARGETS[@]} targets, ${FUZZ_JOBS} at a time; logs in $OUT/logs/TARGET.log"
            printf '%s\n' "${TARGETS[@]}" | xargs -P "$FUZZ_JOBS" -I{} \
                sh -c '"$0" {} "$1" > "$2/{}.log" 2>&1; echo "{}: exit $? ($(grep -E "^Done|SUMMARY" "$2/{}.log" | tr "\n" " "))"' \
                "$0" "${2:-600}" "$OUT/logs"
        else
            for t in "${TARGETS[@]}"; do run_target "$t" "${2:-600}"; done
        fi ;;
    -h|--help|help) usage ;;
    *) target_modules "$1" > /dev/null; run_target "$1" "${2:-600}" ;;
esac
