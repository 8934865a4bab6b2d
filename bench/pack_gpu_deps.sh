#!/usr/bin/env bash
# Copy the pure-Python packages the full-size benchmarks need (and bitsandbytes' CUDA 13 library) from
# .venv into .gpu_deps/, for a bare GPU image that has torch but cannot install anything. ~10 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
SITE=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
rm -rf .gpu_deps && mkdir -p .gpu_deps
for pkg in rudalle taming omegaconf antlr4; do
  cp -r "$SITE/$pkg" .gpu_deps/
done
cp -r "$SITE/bitsandbytes" .gpu_deps/
rm -f .gpu_deps/bitsandbytes/*.so
cp "$SITE/bitsandbytes/libbitsandbytes_cuda130.so" "$SITE/bitsandbytes/libbitsandbytes_cpu.so" .gpu_deps/bitsandbytes/
find .gpu_deps -name __pycache__ -prune -exec rm -rf {} +
grep -qx '/.gpu_deps/' .git/info/exclude 2>/dev/null || echo '/.gpu_deps/' >> .git/info/exclude
du -sh .gpu_deps
