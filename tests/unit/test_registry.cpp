#include <catch2/catch.hpp>

#include <string>
#include <tuple>
#include <vector>

#include <mpipool/mpipool.hpp>

namespace {

int add(int a, int b) { return a + b; }
std::string greet(const std::string& name) { return "hello " + name; }
void nothing(int) {}

}  // namespace

// External linkage, so the error message can name it.
int not_registered(int x) { return x; }

MPIPOOL_TASK(add);
MPIPOOL_TASK(greet);
MPIPOOL_TASK(nothing);

namespace {

/// Runs a registered task the way a worker does: encoded arguments in, encoded result out.
template <class R, class F, class... Args>
R invoke_by_id(F function, const Args&... args) {
  auto& registry = mpipool::detail::registry::instance();
  const auto id = registry.id_of(mpipool::detail::erase(function));
  mpipool::detail::byte_buffer encoded_args;
  mpipool::detail::encode_values(encoded_args, args...);
  mpipool::detail::byte_buffer result;
  registry.entry(id).invoke(encoded_args.view(), result);
  return mpipool::from_bytes<R>(result.view());
}

}  // namespace

TEST_CASE("registered tasks are found by function and by id, with their names", "[registry]") {
  auto& registry = mpipool::detail::registry::instance();
  const auto id = registry.id_of(mpipool::detail::erase(&add));
  CHECK(registry.entry(id).name == "add");
  CHECK(registry.entry(registry.id_of(mpipool::detail::erase(&greet))).name == "greet");
}

TEST_CASE("a task runs from encoded arguments to an encoded result", "[registry]") {
  CHECK(invoke_by_id<int>(&add, 2, 40) == 42);
  CHECK(invoke_by_id<std::string>(&greet, std::string("mpi")) == "hello mpi");
}

TEST_CASE("a void task produces an empty result", "[registry]") {
  auto& registry = mpipool::detail::registry::instance();
  mpipool::detail::byte_buffer args;
  mpipool::detail::encode_values(args, 5);
  mpipool::detail::byte_buffer result;
  registry.entry(registry.id_of(mpipool::detail::erase(&nothing))).invoke(args.view(), result);
  CHECK(result.empty());
}

TEST_CASE("an unregistered function is an unknown_task error that names the fix", "[registry]") {
  auto& registry = mpipool::detail::registry::instance();
  CHECK_THROWS_AS(registry.id_of(mpipool::detail::erase(&not_registered)), mpipool::unknown_task);
  CHECK_THROWS_WITH(registry.id_of(mpipool::detail::erase(&not_registered)),
                    Catch::Contains("not_registered") && Catch::Contains("MPIPOOL_TASK"));
}

TEST_CASE("an unknown task id is an unknown_task error", "[registry]") {
  CHECK_THROWS_AS(mpipool::detail::registry::instance().entry(1'000'000), mpipool::unknown_task);
}

TEST_CASE("the fingerprint is stable and covers every task", "[registry]") {
  auto& registry = mpipool::detail::registry::instance();
  CHECK(registry.fingerprint() == registry.fingerprint());
  CHECK(registry.fingerprint() != 0);
  CHECK(registry.size() >= 3);
}

TEST_CASE("mpipool::call binds a task and its encoded arguments", "[registry]") {
  const auto bound = mpipool::call(add, 1, 2);
  CHECK(mpipool::detail::registry::instance().entry(bound.task).name == "add");
  const auto args = mpipool::detail::decode_values<std::tuple<int, int>>(bound.args.view());
  CHECK(args == std::tuple<int, int>{1, 2});
}
