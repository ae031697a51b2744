#include <catch2/catch.hpp>

#include <csignal>
#include <stdexcept>

#include "error_record.hpp"

using namespace mpipool;

namespace {

origin worker_at(int rank, const char* host, int depth) {
  origin here;
  here.task = "simulate";
  here.rank = rank;
  here.workers = 4;
  here.host = host;
  here.pid = 1234;
  here.depth = depth;
  return here;
}

std::exception_ptr through_wire(const std::exception_ptr& error, const origin& here) {
  detail::byte_buffer record;
  detail::write_error(record, error, here);
  return detail::read_error(record.view());
}

}  // namespace

TEST_CASE("a task's exception becomes a remote_error with type, message and origin", "[errors]") {
  const auto error = through_wire(std::make_exception_ptr(std::invalid_argument("bad input")), worker_at(2, "n1", 1));
  try {
    std::rethrow_exception(error);
    FAIL("no exception");
  } catch (const remote_error& e) {
    CHECK(e.exception_type() == "std::invalid_argument");
    CHECK(e.message() == "bad input");
    CHECK(e.task() == "simulate");
    CHECK(e.rank() == 2);
    CHECK(e.host() == "n1");
    CHECK(std::string(e.what()).find("worker rank 2 of 4, host n1") != std::string::npos);
  }
}

TEST_CASE("an error from a nested pool keeps its origin and gains a hop per level", "[errors]") {
  auto level3 = through_wire(std::make_exception_ptr(std::runtime_error("deep")), worker_at(0, "n3", 3));
  auto level2 = through_wire(level3, worker_at(1, "n2", 2));
  auto level1 = through_wire(level2, worker_at(3, "n1", 1));
  try {
    std::rethrow_exception(level1);
    FAIL("no exception");
  } catch (const remote_error& e) {
    CHECK(e.message() == "deep");
    REQUIRE(e.trace().size() == 3);
    CHECK(e.trace()[0].host == "n3");
    CHECK(e.trace()[0].depth == 3);
    CHECK(e.trace()[2].host == "n1");
  }
}

TEST_CASE("a lost task becomes worker_lost with its signal", "[errors]") {
  detail::byte_buffer record;
  detail::write_lost(record, "task process killed by SIGSEGV", worker_at(1, "n2", 1), SIGSEGV, -1);
  try {
    std::rethrow_exception(detail::read_error(record.view()));
    FAIL("no exception");
  } catch (const worker_lost& e) {
    CHECK(e.signal() == SIGSEGV);
    CHECK(e.where().host == "n2");
    CHECK(e.task() == "simulate");
  }
}

TEST_CASE("a corrupt error record is reported, not trusted", "[errors]") {
  detail::byte_buffer record;
  detail::write_error(record, std::make_exception_ptr(std::runtime_error("x")), worker_at(1, "n1", 1));
  const auto cut = record.view().first(record.size() / 2);
  CHECK_THROWS_AS(std::rethrow_exception(detail::read_error(cut)), serialization_error);
}
