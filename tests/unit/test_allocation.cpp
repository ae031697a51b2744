#include <catch2/catch.hpp>

#include "allocation.hpp"
#include "mpipool/errors.hpp"
#include "ledger.hpp"
#include "spawn.hpp"

using namespace mpipool::detail;

TEST_CASE("Slurm hostlists expand, with ranges, lists and leading zeros", "[allocation]") {
  CHECK(expand_hostlist("n[1-3]") == std::vector<std::string>{"n1", "n2", "n3"});
  CHECK(expand_hostlist("gpu[01-02,05],login") == std::vector<std::string>{"gpu01", "gpu02", "gpu05", "login"});
  CHECK(expand_hostlist("r[1-2]n[1-2]") == std::vector<std::string>{"r1n1", "r1n2", "r2n1", "r2n2"});
  CHECK(expand_hostlist("single") == std::vector<std::string>{"single"});
}

TEST_CASE("Slurm per-node counts expand", "[allocation]") {
  CHECK(expand_counts("2(x3)") == std::vector<std::uint32_t>{2, 2, 2});
  CHECK(expand_counts("4,2(x2)") == std::vector<std::uint32_t>{4, 2, 2});
}

TEST_CASE("the allocation comes from MPIPOOL_SLOTS, then Slurm, then the MPI universe", "[allocation]") {
  const auto slurm = discover_allocation({{"SLURM_JOB_NODELIST", "n[1-3]"}, {"SLURM_JOB_CPUS_PER_NODE", "2(x3)"}},
                                         "n1", 6, 2);
  REQUIRE(slurm.size() == 3);
  CHECK(slurm[2].name == "n3");
  CHECK(slurm[2].slots == 2);

  const auto forced = discover_allocation({{"MPIPOOL_SLOTS", "a:4,b:2"}, {"SLURM_JOB_NODELIST", "n1"}}, "x", 0, 2);
  REQUIRE(forced.size() == 2);
  CHECK(forced[0].name == "a");
  CHECK(forced[1].slots == 2);

  const auto local = discover_allocation({{"MPIPOOL_SLOTS", "5"}}, "vm", 0, 2);
  CHECK(local.front().name == "vm");
  CHECK(local.front().slots == 5);

  CHECK(discover_allocation({}, "vm", 8, 2).front().slots == 8);                            // mpirun
  CHECK(discover_allocation({{"OMPI_MCA_ess", "singleton"}}, "vm", 1, 4).front().slots == 4);  // ./program
}

TEST_CASE("the ledger places workers on free slots, nearest first", "[ledger]") {
  ledger slots({{"n1", 2}, {"n2", 2}, {"n3", 2}});
  for (const char* host : {"n1", "n2", "n3"}) slots.occupy(host);  // one static rank per node
  slot_request request;
  request.count = 2;
  request.near = "n2";
  const auto grant = slots.reserve(request);
  CHECK(grant.total() == 2);
  auto on = [&grant](const char* host) {
    for (const auto& place : grant.places) {
      if (place.host == host) return place.count;
    }
    return 0U;
  };
  CHECK(on("n2") == 1);  // the requester's own node first: its one free slot
  CHECK(on("n1") + on("n3") == 1);
  CHECK(grant.name_hosts);
  CHECK(slots.free_slots() == 1);
  slots.release(grant);
  CHECK(slots.free_slots() == 3);
}

TEST_CASE("the ledger refuses what does not fit, and says what is free where", "[ledger]") {
  ledger slots({{"n1", 2}});
  slots.occupy("n1");
  slot_request request;
  request.count = 3;
  try {
    slots.reserve(request);
    FAIL("reserved");
  } catch (const mpipool::spawn_error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("cannot start 3 workers: 1 free slot") &&
                                          Catch::Contains("n1: 2 slots, 1 in use"));
  }
  CHECK(slots.free_slots() == 1);  // a refusal reserves nothing
}

TEST_CASE("a lent slot, soft requests and oversubscription", "[ledger]") {
  ledger slots({{"n1", 2}});
  slots.occupy("n1");
  slots.occupy("n1");  // full
  slot_request lend;
  lend.count = 1;
  lend.lend = "n1";
  const auto lent = slots.reserve(lend);
  CHECK(lent.total() == 1);
  CHECK(lent.lent == "n1");
  slot_request soft;
  soft.count = 2;
  soft.soft = true;
  CHECK_THROWS_AS(slots.reserve(soft), mpipool::spawn_error);  // soft still needs one
  slot_request crowd;
  crowd.count = 3;
  crowd.oversubscribe = true;
  const auto crowded = slots.reserve(crowd);
  CHECK(crowded.total() == 3);
  slots.release(crowded);
  slots.release(lent);
  CHECK(slots.describe() == "n1: 2 slots, 2 in use");
}

TEST_CASE("hosts outside the allocation are refused by name", "[ledger]") {
  ledger slots({{"n1", 4}});
  slot_request request;
  request.count = 1;
  request.hosts = {"n9"};
  CHECK_THROWS_WITH(slots.reserve(request), Catch::Contains("'n9' is not in this job's allocation"));
}

TEST_CASE("launchers that cannot spawn are recognised before anything starts", "[spawn]") {
  CHECK(spawn_blocker({{"OMPI_MCA_orte_hnp_uri", "123;tcp://x"}}).empty());                 // mpirun
  CHECK(spawn_blocker({{"OMPI_MCA_orte_hnp_uri", "1"}, {"SLURM_STEP_ID", "0"}}).empty());  // mpirun in sbatch
  CHECK(spawn_blocker({{"OMPI_MCA_ess", "singleton"}}).empty());                           // ./program
  CHECK_THAT(spawn_blocker({{"SLURM_STEP_ID", "0"}, {"PMIX_NAMESPACE", "x"}}),
             Catch::Contains("srun directly") && Catch::Contains("mpirun"));
  CHECK_THAT(spawn_blocker({{"PMIX_NAMESPACE", "x"}}), Catch::Contains("does not support MPI_Comm_spawn"));
  CHECK(spawn_blocker({{"PMIX_NAMESPACE", "x"}, {"MPIPOOL_ALLOW_SPAWN", "1"}}).empty());
}
