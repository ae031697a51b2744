#include <dlfcn.h>

#include <algorithm>
#include <cstdio>

#include "mpipool/errors.hpp"
#include "mpipool/task.hpp"

namespace mpipool::detail {

namespace {

/// The function's name, if the dynamic symbol table has exactly this address (functions
/// with internal linkage are not in it); empty otherwise.
std::string symbol_name(erased_function function) {
  Dl_info info{};
  void* address = reinterpret_cast<void*>(function);
  if (dladdr(address, &info) != 0 && info.dli_sname != nullptr && info.dli_saddr == address) {
    std::string name = demangle(info.dli_sname);
    return name.substr(0, name.find('('));  // "square(int)" -> "square"
  }
  return {};
}

std::uint64_t fnv1a(std::uint64_t hash, const std::string& text) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return (hash ^ 0xffU) * 1099511628211ULL;  // separator, so "ab"+"c" differs from "a"+"bc"
}

}  // namespace

registry& registry::instance() {
  static registry the_registry;
  return the_registry;
}

void registry::add(task_entry entry) {
  std::lock_guard lock(mutex_);
  if (frozen_.load(std::memory_order_relaxed)) {
    std::fprintf(stderr,
                 "mpipool: task '%s' was registered after the first pool started; pools cannot run it. "
                 "Register tasks with MPIPOOL_TASK at namespace scope.\n",
                 entry.name.c_str());
    return;
  }
  entries_.push_back(std::move(entry));
}

void registry::freeze() {
  if (frozen_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(mutex_);
  if (frozen_.load(std::memory_order_relaxed)) return;
  std::sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::uint64_t hash = 14695981039346656037ULL;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (i > 0 && entries_[i].name == entries_[i - 1].name) {
      throw error("task name '" + entries_[i].name + "' is registered twice (" + entries_[i - 1].signature +
                  " and " + entries_[i].signature + "); give one a unique name with MPIPOOL_TASK_NAMED");
    }
    ids_by_function_.emplace(entries_[i].function, static_cast<task_id>(i));
    hash = fnv1a(fnv1a(hash, entries_[i].name), entries_[i].signature);
  }
  fingerprint_ = hash;
  frozen_.store(true, std::memory_order_release);
}

task_id registry::id_of(erased_function function) {
  freeze();
  auto found = ids_by_function_.find(function);
  if (found == ids_by_function_.end()) {
    const std::string name = symbol_name(function);
    char address[32];
    std::snprintf(address, sizeof address, "%p", reinterpret_cast<void*>(function));
    throw unknown_task((name.empty() ? std::string("the function at ") + address : "'" + name + "'") +
                       " is not a registered task. Register it once, at namespace scope of the file that "
                       "defines it: MPIPOOL_TASK(" + (name.empty() ? "<function name>" : name) + ");");
  }
  return found->second;
}

const task_entry& registry::entry(task_id id) {
  freeze();
  if (id >= entries_.size()) {
    throw unknown_task("task id " + std::to_string(id) + " is unknown here (this process has " +
                       std::to_string(entries_.size()) + " tasks): master and worker binaries differ");
  }
  return entries_[id];
}

const task_entry* registry::find(task_id id) {
  freeze();
  return id < entries_.size() ? &entries_[id] : nullptr;
}

std::uint64_t registry::fingerprint() {
  freeze();
  return fingerprint_;
}

std::size_t registry::size() {
  freeze();
  return entries_.size();
}

}  // namespace mpipool::detail
