#include "allocation.hpp"

#include <cstdlib>
#include <stdexcept>

#include "mpipool/errors.hpp"

namespace mpipool::detail {

namespace {

std::vector<std::string> split_top_level(const std::string& text) {
  // Commas inside brackets belong to a range, not to the list.
  std::vector<std::string> parts;
  std::string current;
  int depth = 0;
  for (char c : text) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) {
      if (!current.empty()) parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) parts.push_back(current);
  return parts;
}

/// Expands the first bracket group of `name` and recurses for the rest.
void expand_name(const std::string& name, std::vector<std::string>& out) {
  const auto open = name.find('[');
  if (open == std::string::npos) {
    out.push_back(name);
    return;
  }
  const auto close = name.find(']', open);
  if (close == std::string::npos) throw error("malformed Slurm hostlist entry: " + name);
  const std::string prefix = name.substr(0, open);
  const std::string suffix = name.substr(close + 1);
  for (const auto& range : split_top_level(name.substr(open + 1, close - open - 1))) {
    const auto dash = range.find('-');
    const std::string low = range.substr(0, dash);
    const std::string high = dash == std::string::npos ? low : range.substr(dash + 1);
    const auto width = low.size();  // keeps leading zeros: n[01-03]
    for (long i = std::stol(low); i <= std::stol(high); ++i) {
      std::string number = std::to_string(i);
      if (number.size() < width) number.insert(0, width - number.size(), '0');
      expand_name(prefix + number + suffix, out);
    }
  }
}

std::string lookup(const environment_lookup& env, const char* key) {
  auto found = env.find(key);
  return found == env.end() ? std::string() : found->second;
}

}  // namespace

std::vector<std::string> expand_hostlist(const std::string& list) {
  std::vector<std::string> hosts;
  for (const auto& part : split_top_level(list)) expand_name(part, hosts);
  return hosts;
}

std::vector<std::uint32_t> expand_counts(const std::string& counts) {
  std::vector<std::uint32_t> out;
  std::size_t start = 0;
  while (start < counts.size()) {
    auto end = counts.find(',', start);
    if (end == std::string::npos) end = counts.size();
    const std::string item = counts.substr(start, end - start);
    const auto times = item.find("(x");
    const auto value = static_cast<std::uint32_t>(std::stoul(item.substr(0, times)));
    const unsigned long repeat = times == std::string::npos ? 1 : std::stoul(item.substr(times + 2));
    out.insert(out.end(), repeat, value);
    start = end + 1;
  }
  return out;
}

std::vector<node_slots> discover_allocation(const environment_lookup& env, const std::string& this_node,
                                            std::uint32_t universe, std::uint32_t cores) {
  if (const auto explicit_slots = lookup(env, "MPIPOOL_SLOTS"); !explicit_slots.empty()) {
    std::vector<node_slots> nodes;
    for (const auto& item : split_top_level(explicit_slots)) {
      const auto colon = item.rfind(':');
      if (colon == std::string::npos) {
        nodes.push_back({this_node, static_cast<std::uint32_t>(std::stoul(item))});
      } else {
        nodes.push_back({item.substr(0, colon), static_cast<std::uint32_t>(std::stoul(item.substr(colon + 1)))});
      }
    }
    return nodes;
  }
  if (const auto nodelist = lookup(env, "SLURM_JOB_NODELIST"); !nodelist.empty()) {
    const auto hosts = expand_hostlist(nodelist);
    auto per_node = expand_counts(lookup(env, "SLURM_JOB_CPUS_PER_NODE"));
    if (per_node.size() != hosts.size()) per_node.assign(hosts.size(), per_node.empty() ? 1 : per_node.front());
    std::vector<node_slots> nodes;
    for (std::size_t i = 0; i < hosts.size(); ++i) nodes.push_back({hosts[i], per_node[i]});
    return nodes;
  }
  // A workstation: mpirun's universe is its slot count; a singleton gets the cores, as Open MPI does.
  const bool singleton = lookup(env, "OMPI_MCA_ess") == "singleton";
  const std::uint32_t slots = singleton || universe == 0 ? cores : universe;
  return {{this_node, slots == 0 ? 1 : slots}};
}

environment_lookup read_environment() {
  environment_lookup env;
  for (const char* key : {"MPIPOOL_SLOTS", "SLURM_JOB_NODELIST", "SLURM_JOB_CPUS_PER_NODE", "OMPI_MCA_ess",
                          "OMPI_MCA_orte_hnp_uri", "SLURM_STEP_ID", "PMIX_NAMESPACE", "PMI_RANK",
                          "MPIPOOL_ALLOW_SPAWN"}) {
    if (const char* value = std::getenv(key)) env[key] = value;
  }
  return env;
}

}  // namespace mpipool::detail
