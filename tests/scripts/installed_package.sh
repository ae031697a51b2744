# mpipool installs as a CMake package that a separate project finds and uses.
source "$(dirname "$0")/lib.sh"
: "${SOURCE_DIR:?}"

cmake --install "$BUILD_DIR" --prefix "$WORK/prefix" >"$WORK/install.log" || fail "install failed"
[ -f "$WORK/prefix/lib/cmake/mpipool/mpipoolConfig.cmake" ] || fail "no mpipoolConfig.cmake installed"
[ -f "$WORK/prefix/include/mpipool/mpipool.hpp" ] || fail "no headers installed"
cmake -S "$SOURCE_DIR/tests/consumer" -B "$WORK/consumer" -DCMAKE_PREFIX_PATH="$WORK/prefix" \
  >"$WORK/configure.log" 2>&1 || { cat "$WORK/configure.log"; fail "consumer configure failed"; }
cmake --build "$WORK/consumer" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; fail "consumer build failed"; }
run_job 3 "$WORK/consumer/consumer"
expect_status 0
expect_out "sum of squares 1..10 = 385"
echo "ok"
