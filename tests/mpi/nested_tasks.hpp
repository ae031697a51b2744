#pragma once
// Tasks that open pools of their own, for the nested-pool tests.

#include <string>
#include <vector>

std::vector<int> squares_in_subpool(int workers);
std::vector<int> depths_below(int levels);
int fail_at_depth(int depth);
/// Distinct worker-rank pids of a fresh sub-pool of `workers`.
std::vector<long> subpool_pids(int workers);
int recurse_forever(int level);
std::string subpool_refusal(int workers);
long process_id(int ignored);
/// The worker rank's pid: the parent of a supervised task process.
long rank_process_id(int ignored);
