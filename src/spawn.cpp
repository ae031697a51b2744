#include "spawn.hpp"

#include <mpi.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "context.hpp"
#include "mpi_check.hpp"

namespace mpipool::detail {

namespace {

std::string lookup(const environment_lookup& env, const char* key) {
  auto found = env.find(key);
  return found == env.end() ? std::string() : found->second;
}

std::string this_executable() {
  char path[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) throw spawn_error("cannot find this program's path (/proc/self/exe) to spawn copies of it");
  return {path, static_cast<std::size_t>(length)};
}

std::string mpi_text(int code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  return {text, static_cast<std::size_t>(length)};
}

std::mutex spawn_mutex;  // one spawn at a time per process

/// Open MPI 4.1 with an external PMIx 4 (Debian 12) now and then hangs in
/// MPI_Comm_spawn: the children never finish MPI_Init (openpmix issue 2735; here
/// about one spawn test run in ten). PMIx's shared-memory data store (gds ds21)
/// is the trigger: with PMIX_MCA_gds=hash we saw no hang in 65 runs. It must be
/// set before mpirun starts, so all mpipool can do from here is say so: once per
/// process that mpirun started (spawned ones would repeat it at every level).
void warn_if_spawn_may_hang() {
#if defined(OMPI_MAJOR_VERSION) && OMPI_MAJOR_VERSION == 4
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("PMIX_MCA_gds") != nullptr) return;
    MPI_Comm parent = MPI_COMM_NULL;
    if (MPI_Comm_get_parent(&parent) != MPI_SUCCESS || parent != MPI_COMM_NULL) return;
    std::fprintf(stderr,
                 "mpipool: note: Open MPI 4.1 with PMIx 4 can hang in MPI_Comm_spawn now and then; "
                 "`export PMIX_MCA_gds=hash` before mpirun avoids it (see mpipool's README, Pools within pools)\n");
  });
#endif
}

}  // namespace

std::string spawn_blocker(const environment_lookup& env) {
  if (lookup(env, "MPIPOOL_ALLOW_SPAWN") == "1") return {};
  if (!lookup(env, "OMPI_MCA_orte_hnp_uri").empty()) return {};  // started by mpirun
  if (!lookup(env, "SLURM_STEP_ID").empty()) {
    return "this job was launched by srun directly (srun --mpi=pmix), which cannot start new processes "
           "with MPI_Comm_spawn. Run mpirun inside the allocation instead, e.g. in the batch script: "
           "`mpirun -n $SLURM_NTASKS ./program` (see slurm/ in mpipool)";
  }
  if (lookup(env, "OMPI_MCA_ess") == "singleton") return {};  // Open MPI starts a helper to spawn
  if (!lookup(env, "PMIX_NAMESPACE").empty() || !lookup(env, "PMI_RANK").empty()) {
    return "this job's launcher does not support MPI_Comm_spawn (no Open MPI runtime found). Start it "
           "with mpirun, or set MPIPOOL_ALLOW_SPAWN=1 if your launcher can spawn";
  }
  return {};
}

std::unique_ptr<link> spawn_workers(const slot_grant& grant) {
  warn_if_spawn_may_hang();
  const std::string program = this_executable();
  const auto& arguments = context::current().arguments();
  std::vector<char*> argv;
  for (const auto& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  const auto commands_count = static_cast<int>(grant.places.size());
  std::vector<char*> commands(grant.places.size(), const_cast<char*>(program.c_str()));
  std::vector<char**> argvs(grant.places.size(), argv.data());
  std::vector<int> counts;
  std::vector<MPI_Info> infos;
  for (const auto& place : grant.places) {
    counts.push_back(static_cast<int>(place.count));
    MPI_Info info = MPI_INFO_NULL;
    check(MPI_Info_create(&info), "MPI_Info_create");
    // The ledger decides what fits; Open MPI must not second-guess it with its own slot count.
    MPI_Info_set(info, "map_by", ":OVERSUBSCRIBE");
    if (grant.name_hosts) MPI_Info_set(info, "host", place.host.c_str());
    infos.push_back(info);
  }

  std::lock_guard one_at_a_time(spawn_mutex);
  MPI_Comm self = MPI_COMM_NULL;
  check(MPI_Comm_dup(MPI_COMM_SELF, &self), "MPI_Comm_dup");
  return_errors(self);
  MPI_Comm children = MPI_COMM_NULL;
  std::vector<int> errors(grant.total(), MPI_SUCCESS);
  const int rc = MPI_Comm_spawn_multiple(commands_count, commands.data(), argvs.data(), counts.data(), infos.data(),
                                         0, self, &children, errors.data());
  for (auto& info : infos) MPI_Info_free(&info);
  MPI_Comm_free(&self);
  if (rc != MPI_SUCCESS) {
    throw spawn_error("MPI_Comm_spawn of " + std::to_string(grant.total()) + " workers (" + grant.describe() +
                      ") failed: " + mpi_text(rc) +
                      ". Check that mpirun started the job and that those hosts belong to it");
  }
  for (int code : errors) {
    if (code != MPI_SUCCESS) {
      throw spawn_error("a spawned worker failed to start: " + mpi_text(code));
    }
  }
  auto workers = std::make_unique<link>(children);
  workers->disconnect_on_close();
  return workers;
}

}  // namespace mpipool::detail
