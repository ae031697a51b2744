#include "nested_tasks.hpp"

#include <unistd.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include <mpipool/mpipool.hpp>

#include "tasks.hpp"

std::vector<int> squares_in_subpool(int workers) {
  mpipool::pool sub(static_cast<std::size_t>(workers), {.spawn = {.oversubscribe = true}});
  std::vector<int> xs(static_cast<std::size_t>(workers) * 3);
  std::iota(xs.begin(), xs.end(), 0);
  return sub.map(square, xs);
}

std::vector<int> depths_below(int levels) {
  std::vector<int> depths{mpipool::nesting_depth()};
  if (levels == 0) return depths;
  mpipool::pool sub(2, {.spawn = {.oversubscribe = true}});
  for (const auto& below : sub.map(depths_below, std::vector<int>{levels - 1, levels - 1})) {
    depths.insert(depths.end(), below.begin(), below.end());
  }
  return depths;
}

int fail_at_depth(int depth) {
  if (mpipool::nesting_depth() >= depth) {
    throw std::runtime_error("failed at depth " + std::to_string(mpipool::nesting_depth()));
  }
  mpipool::pool sub(1, {.spawn = {.oversubscribe = true}});
  return sub.apply(fail_at_depth, depth);
}

long process_id(int) { return static_cast<long>(::getpid()); }
long rank_process_id(int) { return static_cast<long>(::getppid()); }

std::vector<long> subpool_pids(int workers) {
  mpipool::pool sub(static_cast<std::size_t>(workers), {.spawn = {.oversubscribe = true}});
  auto pids = sub.map(rank_process_id, std::vector<int>(static_cast<std::size_t>(workers) * 20, 0), {.chunksize = 1});
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

int recurse_forever(int level) {
  mpipool::pool sub(1, {.spawn = {.oversubscribe = true}});
  return sub.apply(recurse_forever, level + 1);
}

std::string subpool_refusal(int workers) {
  try {
    mpipool::pool sub(static_cast<std::size_t>(workers), {.spawn = {.lend_parent_slot = false}});
    return "started";
  } catch (const mpipool::spawn_error& e) {
    return e.what();
  }
}

MPIPOOL_TASK(squares_in_subpool);
MPIPOOL_TASK(depths_below);
MPIPOOL_TASK(fail_at_depth);
MPIPOOL_TASK(process_id);
MPIPOOL_TASK(rank_process_id);
MPIPOOL_TASK(subpool_pids);
MPIPOOL_TASK(recurse_forever);
MPIPOOL_TASK(subpool_refusal);
