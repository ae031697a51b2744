#include "context.hpp"

#include <mpi.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <limits>
#include <thread>

#include "allocation.hpp"
#include "backoff.hpp"
#include "crew.hpp"
#include "manager.hpp"
#include "mpipool/detail/driver.hpp"
#include "termination.hpp"
#include "mpi_check.hpp"
#include "wire.hpp"

namespace mpipool::detail {

namespace {

context* the_context = nullptr;

/// Splits MPI_COMM_WORLD into rank 0 and the rest, joined by an intercommunicator.
MPI_Comm make_static_intercomm(int rank) {
  const int is_master = rank == 0 ? 1 : 0;
  MPI_Comm local = MPI_COMM_NULL;
  check(MPI_Comm_split(MPI_COMM_WORLD, is_master, rank, &local), "MPI_Comm_split");
  MPI_Comm inter = MPI_COMM_NULL;
  const int remote_leader = is_master ? 1 : 0;  // world ranks of the other group's leader
  check(MPI_Intercomm_create(local, 0, MPI_COMM_WORLD, remote_leader, /*tag=*/7207, &inter),
        "MPI_Intercomm_create");
  check(MPI_Comm_free(&local), "MPI_Comm_free");
  return inter;
}

/// Large payloads arrive in fresh vectors again and again. glibc maps every block
/// over 32 MiB anew and returns it on free, so each one is paged in again on first
/// touch, which costs more than copying it (measured: 200 ms for 64 MiB on a VM).
/// Keeping freed memory in the heap lets the next payload reuse it. Off with
/// MPIPOOL_KEEP_MEMORY=0.
void keep_freed_memory() {
  const char* setting = std::getenv("MPIPOOL_KEEP_MEMORY");
  if (setting != nullptr && setting[0] == '0') return;
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
}

}  // namespace

std::string node_name() {
  if (const char* slurm = std::getenv("SLURMD_NODENAME"); slurm != nullptr && *slurm != '\0') return slurm;
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  if (MPI_Get_processor_name(name, &length) != MPI_SUCCESS) return "unknown";
  return {name, static_cast<std::size_t>(length)};
}

context::context(int& argc, char**& argv) {
  if (the_context != nullptr) throw error("mpipool::environment created twice: create exactly one, in main()");
  keep_freed_memory();
  int initialized = 0;
  check(MPI_Initialized(&initialized), "MPI_Initialized");
  int provided = 0;
  if (initialized == 0) {
    check(MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
    owns_mpi_ = true;
  } else {
    check(MPI_Query_thread(&provided), "MPI_Query_thread");
  }
  if (provided < MPI_THREAD_MULTIPLE) {
    throw error("mpipool needs MPI_THREAD_MULTIPLE (each pool has a progress thread), but MPI provides level " +
                std::to_string(provided) + "; let mpipool::environment initialise MPI, or call MPI_Init_thread "
                "with MPI_THREAD_MULTIPLE");
  }
  int rank = 0;
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &world_size_), "MPI_Comm_size");
  identity_.rank = rank;
  identity_.host = node_name();
  identity_.pid = static_cast<long>(::getpid());
  identity_.depth = 0;
  max_depth_ = configured_max_depth();
  for (int i = 1; i < argc; ++i) arguments_.emplace_back(argv[i]);

  liveness_.set_settings(configured_liveness());
  MPI_Comm parent = MPI_COMM_NULL;
  check(MPI_Comm_get_parent(&parent), "MPI_Comm_get_parent");
  if (parent != MPI_COMM_NULL) {
    role_ = process_role::spawned_worker;
    parent_link_ = std::make_unique<link>(parent);
    parent_link_->disconnect_on_close();
  } else {
    gather_world_hosts();
    if (world_size_ > 1) {
      role_ = rank == 0 ? process_role::master : process_role::static_worker;
      static_link_ = std::make_unique<link>(make_static_intercomm(rank));
    }
  }
  the_context = this;
  if (link* up = uplink()) liveness_.watch_uplink(*up);
  if (role_ == process_role::master && static_link_) liveness_.watch_downlink(*static_link_);
  if (role_ == process_role::master) install_termination_handlers([this] { terminate_gracefully(); });
  if (role_ == process_role::master) log_allocation();
}

context::~context() {
  remove_termination_handlers();
  closing_ = true;
  stop_warm_crews();
  liveness_.stop();  // before the links it watches go
  if (role_ == process_role::master) stop_static_workers();
  static_link_.reset();
  parent_link_.reset();
  the_context = nullptr;
  if (owns_mpi_) MPI_Finalize();
}

void context::gather_world_hosts() {
  // Collective over the world, once: the root needs every rank's node for its ledger.
  constexpr int width = 256;
  std::string mine = identity_.host.substr(0, width - 1);
  mine.resize(width, '\0');
  std::vector<char> all(identity_.rank == 0 ? static_cast<std::size_t>(width * world_size_) : 0);
  check(MPI_Gather(mine.data(), width, MPI_CHAR, all.data(), width, MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Gather");
  if (identity_.rank != 0) return;
  for (int r = 0; r < world_size_; ++r) world_hosts_.emplace_back(all.data() + r * width);
}

void context::log_allocation() {
  // A batch job's log should say where mpipool thinks it may run; elsewhere only on request.
  const char* verbose = std::getenv("MPIPOOL_VERBOSE");
  if (std::getenv("SLURM_JOB_ID") == nullptr && (verbose == nullptr || verbose[0] != '1')) return;
  const auto& slots = root_ledger();
  std::fprintf(stderr, "mpipool: allocation %s; %d MPI rank(s): 1 master, %d static worker(s)\n",
               slots.describe().c_str(), world_size_, world_size_ - 1);
}

void context::register_engine(manager* engine) {
  std::lock_guard lock(engines_mutex_);
  engines_.push_back(engine);
}

void context::unregister_engine(manager* engine) {
  std::lock_guard lock(engines_mutex_);
  std::erase(engines_, engine);
}

void context::terminate_gracefully() {
  {
    std::lock_guard lock(engines_mutex_);  // engines cannot go away meanwhile
    for (manager* engine : engines_) engine->drain_for_exit();
  }
  wait_for_running_callbacks(std::chrono::seconds(20));  // Slurm's KillWait is 30 s by default
  if (static_link_) {
    for (int w = 0; w < static_link_->remote_size(); ++w) static_link_->send(w, wire::tag_stop, byte_buffer());
    static_link_->progress_sends();
  }
}

ledger& context::root_ledger() {
  std::call_once(ledger_once_, [this] {
    int* universe = nullptr;
    int found = 0;
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_UNIVERSE_SIZE, &universe, &found);
    const auto slots = discover_allocation(read_environment(), identity_.host,
                                           found != 0 && universe != nullptr ? static_cast<std::uint32_t>(*universe) : 0,
                                           std::thread::hardware_concurrency());
    ledger_ = std::make_unique<ledger>(slots);
    for (const auto& host : world_hosts_) ledger_->occupy(host);
  });
  return *ledger_;
}

int configured_max_depth() {
  const char* text = std::getenv("MPIPOOL_MAX_DEPTH");
  const int depth = text != nullptr ? std::atoi(text) : 0;
  return depth > 0 ? depth : 8;
}

context& context::current() {
  if (the_context == nullptr) {
    throw error("no mpipool::environment: create one at the start of main(), before any pool");
  }
  return *the_context;
}

void context::stop_static_workers() {
  if (!static_link_) return;
  for (int w = 0; w < static_link_->remote_size(); ++w) static_link_->send(w, wire::tag_stop, byte_buffer());
  backoff idle;
  while (static_link_->sends_pending()) {
    if (!static_link_->progress_sends()) idle.pause();
  }
}

}  // namespace mpipool::detail
