#include "ledger.hpp"

#include <algorithm>
#include <map>

#include "mpipool/errors.hpp"

namespace mpipool::detail {

std::uint32_t slot_grant::total() const {
  std::uint32_t sum = 0;
  for (const auto& place : places) sum += place.count;
  return sum;
}

std::string slot_grant::describe() const {
  std::string text;
  for (const auto& place : places) {
    if (!text.empty()) text += ", ";
    text += std::to_string(place.count) + " on " + place.host;
  }
  return text;
}

ledger::ledger(std::vector<node_slots> nodes) {
  for (auto& n : nodes) nodes_.push_back({std::move(n.name), n.slots, 0});
}

ledger::node* ledger::find(const std::string& name) {
  for (auto& n : nodes_) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

void ledger::occupy(const std::string& host) {
  std::lock_guard lock(mutex_);
  if (node* n = find(host)) {
    ++n->used;
  } else {
    nodes_.push_back({host, 0, 1});  // a rank outside the known allocation: count it, give no slots
  }
}

slot_grant ledger::reserve(const slot_request& request) {
  std::lock_guard lock(mutex_);
  if (request.count == 0) throw spawn_error("a pool needs at least one worker");
  for (const auto& host : request.hosts) {
    if (find(host) == nullptr) {
      throw spawn_error("host '" + host + "' is not in this job's allocation (" + describe_locked() +
                        "); ask for one of those nodes");
    }
  }
  auto allowed = [&request](const std::string& name) {
    return request.hosts.empty() || std::find(request.hosts.begin(), request.hosts.end(), name) != request.hosts.end();
  };

  std::map<std::string, std::uint32_t> placed;  // new slots taken, per node
  std::uint32_t remaining = request.count;
  slot_grant grant;
  if (!request.lend.empty() && allowed(request.lend) && find(request.lend) != nullptr) {
    grant.lent = request.lend;
    --remaining;
  }
  // The requester's own node first (messages stay local), then the emptiest nodes.
  std::vector<node*> order;
  for (auto& n : nodes_) {
    if (allowed(n.name)) order.push_back(&n);
  }
  std::stable_sort(order.begin(), order.end(), [&request](const node* a, const node* b) {
    if ((a->name == request.near) != (b->name == request.near)) return a->name == request.near;
    return a->free() > b->free();
  });
  for (node* n : order) {
    const std::uint32_t take = std::min(n->free(), remaining);
    if (take != 0) placed[n->name] += take;
    remaining -= take;
  }
  if (remaining > 0 && request.oversubscribe && !order.empty()) {
    for (std::size_t i = 0; remaining > 0; ++i, --remaining) placed[order[i % order.size()]->name] += 1;
  }
  const std::uint32_t granted = request.count - remaining;
  if (remaining > 0 && !(request.soft && granted > 0)) {
    std::uint32_t free_here = 0;
    for (node* n : order) free_here += n->free();
    throw spawn_error("cannot start " + std::to_string(request.count) + " workers: " + std::to_string(free_here) +
                      " free slot(s)" + (request.lend.empty() ? "" : " plus the caller's own") + " where allowed (" +
                      describe_locked() +
                      "). Ask for fewer workers, accept fewer with spawn_options{.soft = true}, share cores with "
                      "spawn_options{.oversubscribe = true}, or give the job more slots (sbatch -N/-n, mpirun "
                      "--host h:N or a hostfile, or MPIPOOL_SLOTS)");
  }
  if (!grant.lent.empty()) placed[grant.lent] += 1;
  grant.name_hosts = nodes_.size() > 1;
  for (const auto& [host, count] : placed) {
    const std::uint32_t fresh = count - (host == grant.lent ? 1 : 0);
    find(host)->used += fresh;
    grant.places.push_back({host, count});
  }
  return grant;
}

void ledger::release(const slot_grant& grant) {
  std::lock_guard lock(mutex_);
  for (const auto& place : grant.places) {
    node* n = find(place.host);
    if (n == nullptr) continue;
    const std::uint32_t fresh = place.count - (place.host == grant.lent ? 1 : 0);
    n->used -= std::min(n->used, fresh);
  }
}

std::string ledger::describe() const {
  std::lock_guard lock(mutex_);
  return describe_locked();
}

std::string ledger::describe_locked() const {
  std::string text;
  for (const auto& n : nodes_) {
    if (!text.empty()) text += "; ";
    text += n.name + ": " + std::to_string(n.slots) + " slots, " + std::to_string(n.used) + " in use";
  }
  return text;
}

std::uint32_t ledger::free_slots() const {
  std::lock_guard lock(mutex_);
  std::uint32_t sum = 0;
  for (const auto& n : nodes_) sum += n.free();
  return sum;
}

}  // namespace mpipool::detail
